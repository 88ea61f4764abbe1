package transcode

import (
	"encoding/json"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
)

// reqFuzzTypes are the fixed request types FuzzRequestWire picks from.
var reqFuzzTypes = []protoreflect.MessageDescriptor{
	echoDesc, allDesc, p2Desc, benchReqDesc, clockDesc, testMessage("Envelope"), testMessage("Legacy"),
}

// reqFuzzCodecs are, per fixed type, Codecs with and without
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

// reqFuzzSnippets are spliced into generated arguments: spellings where
// the JSON readers differ.
var reqFuzzSnippets = []string{
	`\u00e9`, `\ud83d\ude00`, `\ud800`, `\u0000`, `\"`, `\/`, `1e2`, `1e`, `.0`, `e-1`, `-0`, `0`, `01`,
	`"NaN"`, `"-Infinity"`, `null`, `true`, `{}`, `[]`, `,`, `:`, `"`, ` `, "\t", "\xff", "é", `-`, `+`,
	`"1"`, `"a"`, `{"a":1}`, `[null]`, `1.5`, `4294967296`, `18446744073709551616`, `-9223372036854775809`,
}

// FuzzRequestWire is a differential test of AppendRequestWire against
// Request. The first byte of schema picks the request type: one of
// reqFuzzTypes, with data as the CALL's arguments (a JSON array of them,
// or else one raw argument), or a type generated from the rest of schema
// as FuzzWireJSON generates them, with arguments made from a message of
// that type populated from schema: its protojson form as the one object
// argument or its fields' values as positional arguments, edited as data
// says (bytes replaced, inserted, deleted, snippets spliced in). For both
// DiscardUnknown settings: whenever AppendRequestWire answers, Request
// must accept the arguments and build the message the bytes decode to;
// when it gives up, b must come back unchanged. Neither may panic.
func FuzzRequestWire(f *testing.F) {
	for _, tc := range reqWireCases {
		for i, md := range reqFuzzTypes {
			if md == tc.md {
				f.Add([]byte{byte(i)}, "["+strings.Join(tc.args, ",")+"]")
			}
		}
	}
	for _, tc := range requestCases {
		for i, md := range reqFuzzTypes {
			if md == tc.md {
				f.Add([]byte{byte(i)}, "["+strings.Join(tc.args, ",")+"]")
			}
		}
	}
	gen := byte(len(reqFuzzTypes))
	for i := range 24 {
		b := make([]byte, 120)
		for j := range b {
			b[j] = byte(i*41 + j*j*7 + j)
		}
		b[0] = gen
		f.Add(b, "")
		f.Add(b, "\x03\x00\x05\x01\x00\x10\x02\x00\x07")
	}
	f.Fuzz(func(t *testing.T, schema []byte, data string) {
		if len(schema) == 0 {
			return
		}

		if k := int(schema[0]); k < len(reqFuzzTypes) {
			var args []json.RawMessage
			if err := json.Unmarshal([]byte(data), &args); err != nil {
				args = []json.RawMessage{json.RawMessage(data)}
			}
			for _, c := range reqFuzzCodecs[k] {
				checkRequestWire(t, c, reqFuzzTypes[k], args)
			}
			return
		}
		fz := &fuzzInput{b: schema[1:]}
		files, types, err := buildFiles(fz.file())
		if err != nil {
			return // a schema protodesc refuses
		}
		md := files[0].Messages().Get(0)
		m := dynamicpb.NewMessage(md)
		fz.populate(m, 0)
		mo := protojson.MarshalOptions{
			UseProtoNames: fz.bool(), UseEnumNumbers: fz.bool(), EmitUnpopulated: fz.bool(), Resolver: types,
		}
		var args []json.RawMessage
		if fz.bool() {
			args = positionalArgs(mo, m)
		} else if b, err := mo.Marshal(m); err == nil {
			args = []json.RawMessage{b}
		}
		args = editArgs(args, data)
		for _, discard := range []bool{false, true} {
			checkRequestWire(t, New(types, Options{DiscardUnknown: discard}), md, args)
		}
	})
}

// positionalArgs renders m as positional arguments: each field's value as
// protojson writes it, null for fields not set.
func positionalArgs(mo protojson.MarshalOptions, m protoreflect.Message) []json.RawMessage {
	fds := m.Descriptor().Fields()
	var args []json.RawMessage
	for i := range fds.Len() {
		fd := fds.Get(i)
		if !m.Has(fd) {
			args = append(args, json.RawMessage("null"))
			continue
		}
		one := m.New()
		one.Set(fd, m.Get(fd))
		mo.EmitUnpopulated = false
		b, err := mo.Marshal(one.Interface())
		var obj map[string]json.RawMessage
		if err != nil || json.Unmarshal(b, &obj) != nil || len(obj) != 1 {
			return args
		}
		for _, v := range obj {
			args = append(args, v)
		}
	}
	return args
}

// editArgs applies the edits data describes, three bytes each: an
// operation, an argument and a position in it (modulo their lengths), and
// an operand.
func editArgs(args []json.RawMessage, data string) []json.RawMessage {
	for ; len(data) >= 3 && len(args) > 0; data = data[3:] {
		op, k, x := data[0], int(data[1])%len(args), data[2]
		a := []byte(args[k])
		pos := 0
		if len(a) > 0 {
			pos = int(x) % len(a)
		}
		switch op % 6 {
		case 0: // replace a byte
			if len(a) > 0 {
				a[pos] = data[2]
			}
		case 1: // delete a byte
			if len(a) > 0 {
				a = append(a[:pos], a[pos+1:]...)
			}
		case 2: // insert a snippet
			s := reqFuzzSnippets[int(x)%len(reqFuzzSnippets)]
			a = append(a[:pos:pos], append([]byte(s), a[pos:]...)...)
		case 3: // insert a snippet where the argument's first string starts
			s := reqFuzzSnippets[int(x)%len(reqFuzzSnippets)]
			if q := strings.IndexByte(string(a), '"'); q >= 0 {
				a = append(a[:q+1:q+1], append([]byte(s), a[q+1:]...)...)
			}
		case 4: // drop an argument, or add a null
			if x&1 == 0 {
				args = append(args[:k:k], args[k+1:]...)
				continue
			}
			args = append(args, json.RawMessage("null"))
		case 5: // duplicate the first member of an object argument
			if e := firstMemberEnd(a); e > 0 {
				a = append(a[:e:e], append([]byte(","+string(a[1:e])), a[e:]...)...)
			}
		}
		args[k] = a
	}
	return args
}

// firstMemberEnd returns the end of the first member of the object a, or 0.
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

// TestRequestWireGenerated runs FuzzRequestWire's generated schemas
// without edits, where the fast path should answer often; it checks that
// it does for most of them, so that the fuzz target exercises it.
func TestRequestWireGenerated(t *testing.T) {
	t.Parallel()
	answered, total := 0, 0
	for i := range 300 {
		b := make([]byte, 160)
		for j := range b {
			b[j] = byte(i*41 + j*j*7 + j + i*j)
		}
		fz := &fuzzInput{b: b}
		files, types, err := buildFiles(fz.file())
		if err != nil {
			continue
		}
		md := files[0].Messages().Get(0)
		m := dynamicpb.NewMessage(md)
		fz.populate(m, 0)
		mo := protojson.MarshalOptions{UseProtoNames: fz.bool(), UseEnumNumbers: fz.bool(), Resolver: types}
		var args []json.RawMessage
		if fz.bool() {
			args = positionalArgs(mo, m)
		} else if b, err := mo.Marshal(m); err == nil {
			args = []json.RawMessage{b}
		}
		total++
		if checkRequestWire(t, New(types, DefaultOptions()), md, args) {
			answered++
		}
	}
	t.Logf("the fast path answered %d of %d", answered, total)
	if answered < total/3 {
		t.Errorf("the fast path answered only %d of %d generated requests", answered, total)
	}
}
