package transcode

import (
	"bytes"
	"encoding/json"
	"slices"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// maxRequestDepth bounds the nesting of objects and arrays the fast path
// follows; deeper input goes to Request, whose limits are protojson's.
const maxRequestDepth = 32

// maxLinearMapKeys is the most map keys checked for duplicates by
// comparing each with every other; larger maps use a set.
const maxLinearMapKeys = 32

// AppendRequestWire appends to b the protobuf wire encoding of the request
// of type md that [Codec.Request] would build from args, and reports whether
// it did. When it reports false (input it does not handle, or input Request
// would refuse), b is returned unchanged and the caller must use Request,
// which builds the request or explains the refusal.
//
// Whenever it reports true, Request accepts args, and the bytes decode with
// proto.Unmarshal to a message equal to Request's (see "Requests on the
// fast path" in the package documentation for what it handles). It never
// keeps args or b, and allocates nothing but b's growth once the plan of md
// is compiled (on first use, cached in the Codec), but for maps of more than
// 32 entries and messages of more than 128 fields or 64 oneofs.
//
// It uses b's spare capacity as scratch space even when it gives up, so
// args must not lie in it.
func (c *Codec) AppendRequestWire(b []byte, md protoreflect.MessageDescriptor, args []json.RawMessage) ([]byte, bool) {
	if len(args) == 0 || len(args) == 1 && string(trimJSONSpace(args[0])) == "null" {
		return b, true // the empty request, whatever its type
	}
	p := c.reqPlan(md)
	if p == nil || p.slow || p.wrapper != nil {
		// A wrapper request is one argument in the wrapper's JSON form,
		// whatever its kind: rare enough to leave to Request.
		return b, false
	}
	d := reqDecoder{discard: c.opts.DiscardUnknown}
	var out []byte
	var ok bool
	if a := trimJSONSpace(args[0]); len(args) == 1 && len(a) > 0 && a[0] == '{' {
		d.in = a
		var end int
		out, end, ok = d.message(b, 0, p, 1)
		ok = ok && end == len(a)
	} else {
		out, ok = d.positional(b, p, args)
	}
	if !ok {
		return b, false
	}
	return out, true
}

// reqDecoder reads one argument. Its methods take the index of the value
// to read in in (its first byte, not whitespace) and return the index after
// it; on failure they return ok false, and the caller gives up.
type reqDecoder struct {
	in      []byte
	discard bool // Options.DiscardUnknown
}

// positional encodes args as Request's positional form: the i-th argument
// sets the i-th field, null leaves it unset, more arguments than fields is
// an error.
func (d *reqDecoder) positional(b []byte, p *reqMsgPlan, args []json.RawMessage) ([]byte, bool) {
	if len(args) > len(p.fields) {
		return b, false
	}
	var small [1]uint64
	oneofs := bitset(small[:], p.oneofs)
	for k, raw := range args {
		a := trimJSONSpace(raw)
		if string(a) == "null" {
			continue
		}
		if len(a) == 0 {
			return b, false
		}
		f := &p.fields[k]
		if f.oneof > 0 && !claim(oneofs, int(f.oneof-1)) {
			return b, false
		}
		d.in = a
		var end int
		var ok bool
		if b, end, ok = d.fieldValue(b, 0, f, 1); !ok || end != len(a) {
			return b, false
		}
	}
	return b, true
}

// bitset returns a set of n bits, in small if it fits.
func bitset(small []uint64, n int) []uint64 {
	if w := (n + 63) / 64; w > len(small) {
		return make([]uint64, w)
	}
	clear(small)
	return small
}

// claim sets bit i of s and reports whether it was clear.
func claim(s []uint64, i int) bool {
	w, m := i/64, uint64(1)<<(i%64)
	if s[w]&m != 0 {
		return false
	}
	s[w] |= m
	return true
}

// ws returns the index of the first byte at or after i that is not
// whitespace.
func (d *reqDecoder) ws(i int) int {
	for i < len(d.in) && jsonSpace(d.in[i]) {
		i++
	}
	return i
}

// at reports whether in[i] is c.
func (d *reqDecoder) at(i int, c byte) bool { return i < len(d.in) && d.in[i] == c }

// literal reports whether in[i:] is the literal s, ending as a value ends.
func (d *reqDecoder) literal(i int, s string) bool {
	return len(d.in)-i >= len(s) && string(d.in[i:i+len(s)]) == s && endsToken(d.in, i+len(s))
}

// str scans the JSON string at in[i]: end is just past its closing quote,
// escaped reports a backslash in it.
func (d *reqDecoder) str(i int) (end int, escaped, ok bool) {
	if !d.at(i, '"') {
		return i, false, false
	}
	return scanString(d.in, i)
}

// colon skips the ':' after an object key that ends at in[i], and the
// space around it, returning where the value starts.
func (d *reqDecoder) colon(i int) (int, bool) {
	if i = d.ws(i); !d.at(i, ':') {
		return i, false
	}
	return d.ws(i + 1), true
}

// next steps past the ',' or the closer after a value of an object or
// array that ends at in[i]: more reports a ',' (i is then at the next
// member), and otherwise i is just past the closer.
func (d *reqDecoder) next(i int, closer byte) (_ int, more, ok bool) {
	switch i = d.ws(i); {
	case d.at(i, ','):
		return d.ws(i + 1), true, true
	case d.at(i, closer):
		return i + 1, false, true
	}
	return i, false, false
}

// message encodes the fields of the object at in[i] (a '{') as a message
// of plan p, appending them to b.
func (d *reqDecoder) message(b []byte, i int, p *reqMsgPlan, depth int) ([]byte, int, bool) {
	if p.slow || depth > maxRequestDepth || !d.at(i, '{') {
		return b, i, false
	}
	// One bit per field (duplicates are refused), then one per oneof (a
	// second member is refused), as protojson tracks them.
	var small [2]uint64
	seen := bitset(small[:], len(p.fields)+p.oneofs)
	next := 0 // the field after the last one given
	i = d.ws(i + 1)
	if d.at(i, '}') {
		return b, i + 1, true
	}
	for {
		end, escaped, ok := d.str(i)
		if !ok {
			return b, i, false
		}
		key := d.in[i+1 : end-1]
		if escaped {
			mark := len(b)
			b = appendUnescaped(b, key)
			key = b[mark:]
			b = b[:mark] // key stays readable until b grows again
		}
		if len(key) > 0 && key[0] == '[' && key[len(key)-1] == ']' {
			return b, i, false // an extension: protojson resolves it
		}
		fi := p.field(key, next)
		if fi >= 0 {
			next = fi + 1
		}
		if i, ok = d.colon(end); !ok {
			return b, i, false
		}
		switch {
		case fi < 0 && !d.discard:
			return b, i, false
		case fi < 0:
			if i, ok = d.skip(i, depth+1); !ok {
				return b, i, false
			}
		case !claim(seen, fi):
			return b, i, false // a duplicate field
		case d.literal(i, "null"):
			// protojson: null leaves a field unset, but for Value and
			// NullValue, which are slow.
			if p.fields[fi].slow {
				return b, i, false
			}
			i += len("null")
		default:
			f := &p.fields[fi]
			if f.oneof > 0 && !claim(seen, len(p.fields)+int(f.oneof-1)) {
				return b, i, false
			}
			if b, i, ok = d.fieldValue(b, i, f, depth); !ok {
				return b, i, false
			}
		}
		var more bool
		if i, more, ok = d.next(i, '}'); !ok || !more {
			return b, i, ok
		}
	}
}

// fieldValue encodes the value at in[i], not null, of field f.
func (d *reqDecoder) fieldValue(b []byte, i int, f *reqFieldPlan, depth int) ([]byte, int, bool) {
	switch {
	case f.slow:
		return b, i, false
	case f.isMap:
		return d.mapValue(b, i, f, depth+1)
	case f.list:
		return d.list(b, i, f, depth+1)
	case f.msg != nil:
		return d.messageValue(protowire.AppendVarint(b, f.tag), i, f.msg, depth+1)
	}
	start := len(b)
	b, i, zero, ok := d.scalar(protowire.AppendVarint(b, f.tag), i, f)
	if ok && zero && !f.presence {
		b = b[:start] // protobuf leaves a zero without presence out
	}
	return b, i, ok
}

// messageValue appends the length-prefixed message of plan p read from
// in[i]: an object, or the wrapped value of a wrapper type.
func (d *reqDecoder) messageValue(b []byte, i int, p *reqMsgPlan, depth int) ([]byte, int, bool) {
	at := len(b)
	b = append(b, 0) // the length, for most messages; see closeLen
	var ok bool
	if w := p.wrapper; w != nil {
		var zero bool
		b, i, zero, ok = d.scalar(protowire.AppendVarint(b, w.tag), i, w)
		if zero {
			b = b[:at+1] // the wrapped field has no presence
		}
	} else {
		b, i, ok = d.message(b, i, p, depth)
	}
	if !ok {
		return b, i, false
	}
	return closeLen(b, at), i, true
}

// closeLen writes the length of b[at+1:] at b[at], moving those bytes up
// if the length needs more than the one byte reserved.
func closeLen(b []byte, at int) []byte {
	n := len(b) - at - 1
	if n < 0x80 {
		b[at] = byte(n)
		return b
	}
	k := protowire.SizeVarint(uint64(n))
	b = slices.Grow(b, k-1)[:len(b)+k-1]
	copy(b[at+k:], b[at+1:at+1+n])
	protowire.AppendVarint(b[:at], uint64(n))
	return b
}

// list encodes the array at in[i] as the elements of repeated field f.
func (d *reqDecoder) list(b []byte, i int, f *reqFieldPlan, depth int) ([]byte, int, bool) {
	if depth > maxRequestDepth || !d.at(i, '[') {
		return b, i, false
	}
	start := len(b)
	at := -1
	if f.packed {
		b = protowire.AppendVarint(b, f.tag)
		at = len(b)
		b = append(b, 0)
	}
	i = d.ws(i + 1)
	if d.at(i, ']') {
		return b[:start], i + 1, true // protobuf writes nothing for no elements
	}
	for {
		var ok bool
		switch {
		case f.packed:
			b, i, _, ok = d.scalar(b, i, f)
		case f.msg != nil:
			b, i, ok = d.messageValue(protowire.AppendVarint(b, f.tag), i, f.msg, depth+1)
		default:
			b, i, _, ok = d.scalar(protowire.AppendVarint(b, f.tag), i, f)
		}
		if !ok {
			return b, i, false
		}
		var more bool
		if i, more, ok = d.next(i, ']'); !ok {
			return b, i, false
		}
		if !more {
			if f.packed {
				b = closeLen(b, at)
			}
			return b, i, true
		}
	}
}

// span locates an encoded map key in b.
type span struct{ s, e int }

// mapValue encodes the object at in[i] as the entries of map field f.
func (d *reqDecoder) mapValue(b []byte, i int, f *reqFieldPlan, depth int) ([]byte, int, bool) {
	if depth > maxRequestDepth || !d.at(i, '{') {
		return b, i, false
	}
	// The encoded keys so far, to refuse a key given twice (protojson
	// compares parsed keys: "1" and "01" are one int32 key, and so are
	// their encodings).
	var small [8]span
	keys := small[:0]
	var set map[string]struct{}
	i = d.ws(i + 1)
	if d.at(i, '}') {
		return b, i + 1, true
	}
	for {
		end, escaped, ok := d.str(i)
		if !ok {
			return b, i, false
		}
		b = protowire.AppendVarint(b, f.tag)
		at := len(b)
		b = append(b, 0)
		if b, ok = d.mapKey(b, d.in[i+1:end-1], escaped, f.key); !ok {
			return b, i, false
		}
		klen := len(b) - at - 1
		if i, ok = d.colon(end); !ok {
			return b, i, false
		}
		b = protowire.AppendVarint(b, f.val.tag)
		if f.val.msg != nil {
			b, i, ok = d.messageValue(b, i, f.val.msg, depth+1)
		} else {
			b, i, _, ok = d.scalar(b, i, f.val)
		}
		if !ok {
			return b, i, false
		}
		body := len(b) - at - 1
		b = closeLen(b, at)
		ks := at + protowire.SizeVarint(uint64(body))
		if keys, set, ok = addKey(b, keys, set, span{ks, ks + klen}); !ok {
			return b, i, false
		}
		var more bool
		if i, more, ok = d.next(i, '}'); !ok || !more {
			return b, i, ok
		}
	}
}

// addKey adds the key at k in b to those seen, in keys or, past
// maxLinearMapKeys, in set; ok is false if it was seen before.
func addKey(b []byte, keys []span, set map[string]struct{}, k span) (_ []span, _ map[string]struct{}, ok bool) {
	key := b[k.s:k.e]
	if set == nil {
		for _, o := range keys {
			if bytes.Equal(b[o.s:o.e], key) {
				return keys, set, false
			}
		}
		if keys = append(keys, k); len(keys) <= maxLinearMapKeys {
			return keys, set, true
		}
		set = make(map[string]struct{}, 2*len(keys))
		for _, o := range keys {
			set[string(b[o.s:o.e])] = struct{}{}
		}
		return keys, set, true
	}
	if _, dup := set[string(key)]; dup {
		return keys, set, false
	}
	set[string(key)] = struct{}{}
	return keys, set, true
}

// skip reads past the value at in[i], which DiscardUnknown drops, checking
// it as protojson does.
func (d *reqDecoder) skip(i int, depth int) (int, bool) {
	if depth > maxRequestDepth || i >= len(d.in) {
		return i, false
	}
	switch c := d.in[i]; {
	case c == '"':
		end, _, ok := scanString(d.in, i)
		return end, ok
	case c == 't':
		return i + 4, d.literal(i, "true")
	case c == 'f':
		return i + 5, d.literal(i, "false")
	case c == 'n':
		return i + 4, d.literal(i, "null")
	case c == '-' || '0' <= c && c <= '9':
		end, _, ok := scanNumber(d.in, i)
		return end, ok && endsToken(d.in, end)
	case c == '[' || c == '{':
		closer := byte(']')
		if c == '{' {
			closer = '}'
		}
		i = d.ws(i + 1)
		if d.at(i, closer) {
			return i + 1, true
		}
		for {
			var ok, more bool
			if c == '{' {
				if i, _, ok = d.str(i); !ok {
					return i, false
				}
				if i, ok = d.colon(i); !ok {
					return i, false
				}
			}
			if i, ok = d.skip(i, depth+1); !ok {
				return i, false
			}
			if i, more, ok = d.next(i, closer); !ok || !more {
				return i, ok
			}
		}
	}
	return i, false
}
