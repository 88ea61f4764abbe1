package transcode

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
	"testing"
	"unicode/utf16"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
)

// reqFuzzTypes are the fixed request types FuzzRequestWire picks from.
var reqFuzzTypes = []protoreflect.MessageDescriptor{
	echoDesc, allDesc, p2Desc, benchReqDesc, clockDesc, testMessage("Envelope"), testMessage("Legacy"),
}

// reqFuzzCodecs are, per fixed type, Codecs without and with
// DiscardUnknown, kept across inputs so that plans are compiled once.
var reqFuzzCodecs = func() [][2]*Codec {
	out := make([][2]*Codec, len(reqFuzzTypes))
	for i, md := range reqFuzzTypes {
		var r Resolver = wireTestTypes
		if md.ParentFile().Path() == testFile.Path() {
			r = testTypes
		}
		out[i] = [2]*Codec{New(r, DefaultOptions()), New(r, Options{DiscardUnknown: true})}
	}
	return out
}()

// reqFuzzSnippets are spliced into arguments: spellings where the JSON
// readers may differ.
var reqFuzzSnippets = []string{
	`\u00e9`, `\ud83d\ude00`, `\ud800`, `\u0000`, `\"`, `\/`, `1e2`, `1e`, `.0`, `e-1`, `-0`, `0`, `01`,
	`"NaN"`, `"-Infinity"`, `null`, `true`, `{}`, `[]`, `,`, `:`, `"`, ` `, "\t", "\xff", "é", `-`, `+`,
	`"1"`, `"a"`, `{"a":1}`, `[null]`, `1.5`, `4294967296`, `18446744073709551616`, `-9223372036854775809`,
}

// FuzzRequestWire is a differential test of AppendRequestWire against
// Request. The first byte of schema picks the request type and how the
// arguments are made, with T = len(reqFuzzTypes):
//
//   - below T: type reqFuzzTypes[k], with data as the CALL's arguments (a
//     JSON array of them, or else one raw argument);
//   - below 2T: type reqFuzzTypes[k-T], with arguments rendered from a
//     message of that type populated from the rest of schema;
//   - from 2T: a type generated from the rest of schema as FuzzWireJSON
//     generates them (scalars, enums, nested and recursive messages,
//     well-known types, repeated, maps of every key kind, oneofs, proto3
//     optional, proto2), with arguments rendered the same way.
//
// Rendered arguments are one object or positional values, each field's
// value as protojson writes it, under its JSON or proto name, in order or
// not, perhaps with nulls and an unknown key; then edited as data says:
// bytes replaced, inserted or deleted, snippets spliced in (in strings
// too, and runs long enough to need a second byte of length), numbers
// spelled another way, characters of strings escaped, members of objects
// given twice, arguments dropped or added. The rest of schema is stretched
// by a generator seeded from it, so that short inputs still make rich
// messages.
//
// For both DiscardUnknown settings: whenever AppendRequestWire answers,
// Request must accept the arguments and build the message the bytes decode
// to; when it gives up, b must come back unchanged. Neither may panic.
func FuzzRequestWire(f *testing.F) {
	nt := len(reqFuzzTypes)
	for _, cases := range [][]requestCase{requestCases} {
		for _, tc := range cases {
			for i, md := range reqFuzzTypes {
				if md == tc.md {
					f.Add([]byte{byte(i)}, "["+strings.Join(tc.args, ",")+"]")
				}
			}
		}
	}
	for _, tc := range reqWireCases {
		for i, md := range reqFuzzTypes {
			if md == tc.md {
				f.Add([]byte{byte(i)}, "["+strings.Join(tc.args, ",")+"]")
			}
		}
	}
	edits := []string{"", "\x06\x00\x01", "\x07\x00\x05", "\x06\x00\x03\x07\x00\x09", "\x05\x00\x00",
		"\x02\x00\x10", "\x04\x00\x01", "\x00\x00\x07\x03\x00\x0d", "\x06\x00\x0e\x06\x00\x15"}
	for i := range 64 {
		k := nt + i%nt
		if i >= 32 {
			k = 2*nt + i
		}
		f.Add([]byte{byte(k), byte(i), byte(i * 7)}, edits[i%len(edits)])
	}
	f.Fuzz(func(t *testing.T, schema []byte, data string) {
		if len(schema) == 0 {
			return
		}
		k := int(schema[0])
		if k < nt {
			var args []json.RawMessage
			if err := json.Unmarshal([]byte(data), &args); err != nil {
				args = []json.RawMessage{json.RawMessage(data)}
			}
			for _, c := range reqFuzzCodecs[k] {
				checkRequestWire(t, c, reqFuzzTypes[k], args)
			}
			return
		}
		fz := &fuzzInput{b: stretch(schema[1:], 2048)}
		md, codecs, ok := fuzzRequestType(fz, k)
		if !ok {
			return // a schema protodesc refuses
		}
		m := dynamicpb.NewMessage(md)
		fz.populate(m, 0)
		args := editArgs(renderArgs(fz, codecs[0].resolver, m), data)
		for _, c := range codecs {
			checkRequestWire(t, c, md, args)
		}
	})
}

// fuzzRequestType returns the request type FuzzRequestWire's selector k
// (at least len(reqFuzzTypes)) picks, and Codecs without and with
// DiscardUnknown.
func fuzzRequestType(fz *fuzzInput, k int) (protoreflect.MessageDescriptor, [2]*Codec, bool) {
	if k < 2*len(reqFuzzTypes) {
		k -= len(reqFuzzTypes)
		return reqFuzzTypes[k], reqFuzzCodecs[k], true
	}
	files, types, err := buildFiles(fz.file())
	if err != nil {
		return nil, [2]*Codec{}, false
	}
	return files[0].Messages().Get(0), [2]*Codec{New(types, DefaultOptions()), New(types, Options{DiscardUnknown: true})}, true
}

// stretch returns b followed by bytes from a generator seeded with b, n
// bytes in all (or b, if longer).
func stretch(b []byte, n int) []byte {
	h := fnv.New64a()
	h.Write(b)
	x := h.Sum64()
	out := append([]byte(nil), b...)
	for len(out) < n {
		// splitmix64
		x += 0x9e3779b97f4a7c15
		z := x
		z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
		z = (z ^ z>>27) * 0x94d049bb133111eb
		out = append(out, byte(z^z>>31))
	}
	return out
}

// renderArgs renders m as arguments: one object or positional values,
// each field's value as protojson writes it. Fields protojson cannot write
// (a random Timestamp, say) are left out.
func renderArgs(fz *fuzzInput, r Resolver, m protoreflect.Message) []json.RawMessage {
	mo := protojson.MarshalOptions{UseEnumNumbers: fz.bool(), Resolver: r}
	fds := m.Descriptor().Fields()
	values := make([]json.RawMessage, fds.Len())
	for i := range fds.Len() {
		fd := fds.Get(i)
		if !m.Has(fd) {
			continue
		}
		one := m.New()
		one.Set(fd, m.Get(fd))
		b, err := mo.Marshal(one.Interface())
		var obj map[string]json.RawMessage
		if err != nil || json.Unmarshal(b, &obj) != nil || len(obj) != 1 {
			continue
		}
		for _, v := range obj {
			values[i] = v
		}
	}
	if fz.intn(3) == 0 {
		args := make([]json.RawMessage, len(values))
		for i, v := range values {
			if args[i] = v; v == nil {
				args[i] = json.RawMessage("null")
			}
		}
		for len(args) > 0 && string(args[len(args)-1]) == "null" && fz.bool() {
			args = args[:len(args)-1]
		}
		return args
	}
	var b []byte
	add := func(name string, v []byte) {
		if len(b) > 0 {
			b = append(b, ',')
		}
		b, _ = appendString(b, name)
		b = append(append(b, ':'), v...)
	}
	for _, i := range fz.perm(len(values)) {
		fd := fds.Get(i)
		name := fd.JSONName()
		if fz.intn(4) == 0 {
			name = fd.TextName()
		}
		switch {
		case values[i] != nil:
			add(name, values[i])
		case fz.intn(4) == 0:
			add(name, []byte("null"))
		}
	}
	if fz.intn(6) == 0 {
		add("unknown_key", []byte(`{"a": [1, "x", null]}`))
	}
	return []json.RawMessage{append(append([]byte{'{'}, b...), '}')}
}

// perm returns 0..n-1, in order or shuffled.
func (z *fuzzInput) perm(n int) []int {
	p := make([]int, n)
	for i := range p {
		p[i] = i
	}
	if z.intn(3) == 0 {
		for i := n - 1; i > 0; i-- {
			j := z.intn(i + 1)
			p[i], p[j] = p[j], p[i]
		}
	}
	return p
}

// editArgs applies the edits data describes, three bytes each: an
// operation, an argument (modulo their number), and an operand, mostly a
// position in the argument (modulo its length).
func editArgs(args []json.RawMessage, data string) []json.RawMessage {
	for ; len(data) >= 3 && len(args) > 0; data = data[3:] {
		op, k, x := data[0], int(data[1])%len(args), data[2]
		a := []byte(args[k])
		pos := 0
		if len(a) > 0 {
			pos = int(x) % len(a)
		}
		switch op % 8 {
		case 0: // replace a byte
			if len(a) > 0 {
				a[pos] = x
			}
		case 1: // delete a byte
			if len(a) > 0 {
				a = append(a[:pos], a[pos+1:]...)
			}
		case 2: // insert a snippet
			s := reqFuzzSnippets[int(x)%len(reqFuzzSnippets)]
			a = append(a[:pos:pos], append([]byte(s), a[pos:]...)...)
		case 3: // insert a snippet, or a long run, into a string
			s := reqFuzzSnippets[int(x)%len(reqFuzzSnippets)]
			if x&7 == 7 {
				s = strings.Repeat("x", 130) // past one byte of length
			}
			if _, chars, _ := tokens(a); len(chars) > 0 {
				q := chars[int(x)%len(chars)][0]
				a = append(a[:q:q], append([]byte(s), a[q:]...)...)
			}
		case 4: // drop an argument, or add a null
			if x&1 == 0 {
				args = append(args[:k:k], args[k+1:]...)
				continue
			}
			args = append(args, json.RawMessage("null"))
		case 5: // duplicate the first member of an object, a key given twice
			if _, _, objects := tokens(a); len(objects) > 0 {
				o := objects[int(x)%len(objects)]
				if e := firstMemberEnd(a[o:]); e > 0 {
					e += o
					a = append(a[:e:e], append([]byte(","+string(a[o+1:e])), a[e:]...)...)
				}
			}
		case 6:
			a = respell(a, int(x))
		case 7:
			a = escapeChar(a, int(x))
		}
		args[k] = a
	}
	return args
}

// firstMemberEnd returns the end of the first member of the object that
// starts a, or 0.
func firstMemberEnd(a []byte) int {
	if len(a) < 2 || a[0] != '{' {
		return 0
	}
	dec := json.NewDecoder(strings.NewReader(string(a)))
	if _, err := dec.Token(); err != nil {
		return 0
	}
	if _, err := dec.Token(); err != nil {
		return 0
	}
	var v json.RawMessage
	if err := dec.Decode(&v); err != nil {
		return 0
	}
	return int(dec.InputOffset())
}

// tokens returns the spans of the numbers (outside strings), of the
// characters inside strings (not escapes), and the starts of the objects
// in a.
func tokens(a []byte) (numbers, chars [][2]int, objects []int) {
	for i := 0; i < len(a); {
		switch c := a[i]; {
		case c == '{':
			objects = append(objects, i)
			i++
		case c == '"':
			for i++; i < len(a) && a[i] != '"'; {
				if a[i] == '\\' {
					i += 2
					continue
				}
				_, n := utf8.DecodeRune(a[i:])
				chars = append(chars, [2]int{i, i + n})
				i += n
			}
			i++
		case c == '-' || '0' <= c && c <= '9':
			j := i + 1
			for j < len(a) && strings.IndexByte("0123456789.eE+-", a[j]) >= 0 {
				j++
			}
			numbers = append(numbers, [2]int{i, j})
			i = j
		default:
			i++
		}
	}
	return numbers, chars, objects
}

// respell rewrites the x-th number of a (modulo their count) as another
// spelling of the same decimal value, chosen by x too: quoted, with an
// exponent, the point moved, zeros added.
func respell(a []byte, x int) []byte {
	numbers, _, _ := tokens(a)
	if len(numbers) == 0 {
		return a
	}
	sp := numbers[x%len(numbers)]
	num := string(a[sp[0]:sp[1]])
	sign, rest := "", num
	if strings.HasPrefix(rest, "-") {
		sign, rest = "-", rest[1:]
	}
	mant, exp := rest, 0
	if e := strings.IndexAny(rest, "eE"); e >= 0 {
		v, err := strconv.Atoi(rest[e+1:])
		if err != nil || v > 1000 || v < -1000 {
			return a
		}
		mant, exp = rest[:e], v
	}
	digits := mant
	if p := strings.IndexByte(mant, '.'); p >= 0 {
		digits = mant[:p] + mant[p+1:]
		exp -= len(mant) - p - 1
	}
	if digits == "" {
		return a
	}
	// The value is sign digits × 10^exp.
	var out string
	switch x / len(numbers) % 8 {
	case 0:
		out = `"` + num + `"`
	case 1:
		out = fmt.Sprintf("%s%se%d", sign, digits, exp)
	case 2:
		out = fmt.Sprintf("%s0.%sE%+d", sign, digits, exp+len(digits))
	case 3:
		out = fmt.Sprintf("%s%s.%s0e%d", sign, digits[:1], digits[1:], exp+len(digits)-1)
	case 4:
		out = fmt.Sprintf("%s%s0e%03d", sign, digits, exp-1)
	case 5:
		out = fmt.Sprintf(`"%s%se%d"`, sign, digits, exp)
	case 6:
		out = num + ".000"
		if strings.ContainsAny(num, ".eE") {
			out = fmt.Sprintf("%s%s.000e%d", sign, digits, exp)
		}
	default:
		out = fmt.Sprintf("%s%s00e+%d", sign, digits, exp-2)
	}
	return append(a[:sp[0]:sp[0]], append([]byte(out), a[sp[1]:]...)...)
}

// escapeChar replaces the x-th character inside strings of a (modulo their
// count) by its \u escape (a surrogate pair beyond the BMP).
func escapeChar(a []byte, x int) []byte {
	_, chars, _ := tokens(a)
	if len(chars) == 0 {
		return a
	}
	sp := chars[x%len(chars)]
	r, _ := utf8.DecodeRune(a[sp[0]:sp[1]])
	if r == utf8.RuneError {
		return a
	}
	format := `\u%04x`
	if x/len(chars)%2 == 1 {
		format = `\u%04X`
	}
	esc := fmt.Sprintf(format, r)
	if r1, r2 := utf16.EncodeRune(r); r1 != utf8.RuneError {
		esc = fmt.Sprintf(format+format, r1, r2)
	}
	return append(a[:sp[0]:sp[0]], append([]byte(esc), a[sp[1]:]...)...)
}

// TestRequestWireRendered runs FuzzRequestWire's rendered arguments,
// unedited, for each fixed type and many generated ones. The fast path
// should answer most of them (it gives up on Timestamps and the like, and
// on required fields), so it checks that it does, lest the fuzz target
// exercise only Request.
func TestRequestWireRendered(t *testing.T) {
	t.Parallel()
	answered, total := 0, 0
	for k := len(reqFuzzTypes); k < 256; k++ {
		for i := range 8 {
			fz := &fuzzInput{b: stretch([]byte{byte(i), byte(k)}, 2048)}
			md, codecs, ok := fuzzRequestType(fz, k)
			if !ok {
				continue
			}
			m := dynamicpb.NewMessage(md)
			fz.populate(m, 0)
			args := renderArgs(fz, codecs[0].resolver, m)
			total++
			if checkRequestWire(t, codecs[0], md, args) {
				answered++
			}
		}
	}
	t.Logf("the fast path answered %d of %d", answered, total)
	if answered < total/2 {
		t.Errorf("the fast path answered only %d of %d rendered requests", answered, total)
	}
}
