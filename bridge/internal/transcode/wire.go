package transcode

import (
	"bytes"
	"fmt"
	"math"
	"slices"
	"sync"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// AppendWire appends the JSON of the message of type md whose wire form is
// b to dst, as AppendResponse would render b decoded into a dynamic message
// of type md, without decoding it into one. ok false means the fast path
// does not vouch for the result (see "Fast path" in the package
// documentation): dst is then returned unextended, and the caller decodes b
// and calls AppendResponse, which answers exactly as before, errors
// included.
//
// AppendWire allocates nothing but dst's growth, once the plan of md is
// compiled (on first use, cached in the Codec).
func (c *Codec) AppendWire(dst []byte, md protoreflect.MessageDescriptor, b []byte) (out []byte, ok bool) {
	out, ok, _ = c.AppendWireLimit(dst, md, b, 0)
	return out, ok
}

// AppendWireLimit is AppendWire for a JSON rendering of at most limit
// bytes (0: no limit). It gives up rendering within one field value, list
// element or map entry of passing the limit, with dst returned unextended
// and a *ResultTooLargeError.
// Rendering can multiply a message's size: with EmitUnpopulated an empty
// submessage of 2 bytes becomes every field of its type.
func (c *Codec) AppendWireLimit(dst []byte, md protoreflect.MessageDescriptor, b []byte, limit int) (out []byte, ok bool, err error) {
	p := c.plan(md)
	if p.slow {
		return dst, false, nil
	}
	st := wireStates.Get().(*wireState)
	st.emitUnset = c.opts.EmitUnpopulated
	st.end = 0
	if limit > 0 {
		st.end = len(dst) + limit
	}
	out, ok = st.message(dst, p, b, 0)
	over := st.over
	st.reset()
	wireStates.Put(st)
	if over {
		return dst, false, &ResultTooLargeError{Type: md.FullName(), WireSize: len(b), Limit: limit}
	}
	if !ok {
		return dst, false, nil
	}
	return out, true, nil
}

// ResultTooLargeError reports a response whose JSON would be larger than
// the limit it was rendered with.
type ResultTooLargeError struct {
	Type     protoreflect.FullName // the response's message type
	WireSize int                   // its size in the protobuf wire format
	Limit    int                   // the limit of its JSON
}

func (e *ResultTooLargeError) Error() string {
	return fmt.Sprintf("a response %s of %d bytes renders to more than %d bytes of JSON", e.Type, e.WireSize, e.Limit)
}

// CheckLimit returns a *ResultTooLargeError when json, the rendering of
// the response of type md whose wire form is b, is larger than limit (0: no
// limit): the slow path (AppendResponse) cannot stop midway.
func CheckLimit(json []byte, md protoreflect.MessageDescriptor, b []byte, limit int) error {
	if limit > 0 && len(json) > limit {
		return &ResultTooLargeError{Type: md.FullName(), WireSize: len(b), Limit: limit}
	}
	return nil
}

// maxWireDepth bounds message nesting on the fast path; deeper messages go
// to the slow path, which has limits of its own.
const maxWireDepth = 64

// wireState is the scratch space of one AppendWire: stacks that each
// message being rendered pushes onto and pops on return.
type wireState struct {
	emitUnset bool
	// end, when not 0, is the length the JSON must not pass; over says it
	// did, which ends the rendering.
	end  int
	over bool
	recs []wireRec
	// heads holds, per message, for each field the first and last index in
	// recs of its occurrences (-1: none), then for each real oneof the
	// index of the member that occurred.
	heads []int32
	ents  []mapEntry
}

var wireStates = sync.Pool{New: func() any { return new(wireState) }}

func (st *wireState) reset() {
	st.recs, st.heads, st.ents = st.recs[:0], st.heads[:0], st.ents[:0]
	st.end, st.over = 0, false
	const maxKeep = 1 << 14 // do not pin the scratch of one huge message
	if cap(st.recs) > maxKeep {
		st.recs = nil
	}
	if cap(st.heads) > maxKeep {
		st.heads = nil
	}
	if cap(st.ents) > maxKeep {
		st.ents = nil
	}
}

// wireRec is one occurrence of a field: its wire type and value, a varint
// or fixed value in v, a length-delimited one as b[v:e] (see span). It
// has four fields, so that the compiler copies it in registers: a fifth
// made each copy go through memory, with 16-byte loads of values just
// stored 8 bytes at a time, which the CPU cannot forward.
type wireRec struct {
	v    uint64
	e    int
	next int32
	wt   protowire.Type
}

// span returns the bytes of a length-delimited occurrence, in b.
func (r wireRec) span(b []byte) []byte { return b[r.v:r.e] }

// empty reports whether a length-delimited occurrence is empty.
func (r wireRec) empty() bool { return r.e == int(r.v) }

// mapEntry is one decoded map entry; offsets are into the message's bytes.
type mapEntry struct {
	k      uint64 // numeric and bool keys
	ks, ke int    // string keys
	val    wireRec
	hasVal bool
}

// scan records the occurrences of the fields of p in b, at heads[hb:].
func (st *wireState) scan(p *msgPlan, b []byte, hb int) bool {
	n := 2*len(p.fields) + p.oneofs
	st.heads = slices.Grow(st.heads, n)[:hb+n]
	for i := hb; i < hb+n; i++ {
		st.heads[i] = -1
	}
	for pos := 0; pos < len(b); {
		var num protowire.Number
		var wt protowire.Type
		if c := b[pos]; c < 0x80 && c >= 8 {
			// A one-byte tag: fields 1 to 15, the usual case.
			num, wt = protowire.Number(c>>3), protowire.Type(c&7)
			pos++
		} else {
			n, t, tl := protowire.ConsumeTag(b[pos:])
			if tl < 0 || n > protowire.MaxValidNumber {
				return false
			}
			num, wt = n, t
			pos += tl
		}
		fi := p.field(num)
		if fi < 0 {
			if p.ext.Has(num) {
				return false // an extension, perhaps: the slow path resolves it
			}
			vl := protowire.ConsumeFieldValue(num, wt, b[pos:])
			if vl < 0 {
				return false
			}
			pos += vl // unknown fields are not rendered
			continue
		}
		f := &p.fields[fi]
		if wt != f.wt && !(f.packable && wt == protowire.BytesType) {
			return false // protobuf would keep it as an unknown field
		}
		val, end, ok := readValue(b, pos, wt)
		if !ok {
			return false
		}
		pos = end
		idx := int32(len(st.recs))
		h := hb + 2*fi
		if first := st.heads[h]; first >= 0 {
			if !f.list && !f.isMap {
				return false // a second value replaces or merges into the first
			}
			st.recs[st.heads[h+1]].next = idx
		} else {
			st.heads[h] = idx
			if f.oneof > 0 {
				o := hb + 2*len(p.fields) + int(f.oneof) - 1
				if st.heads[o] >= 0 {
					return false // the last member wins
				}
				st.heads[o] = int32(fi)
			}
		}
		st.heads[h+1] = idx
		if len(st.recs) == cap(st.recs) {
			st.recs = slices.Grow(st.recs, 1)
		}
		st.recs = st.recs[:idx+1]
		r := &st.recs[idx] // stored field by field (see wireRec)
		r.v, r.e, r.next, r.wt = val.v, val.e, -1, wt
	}
	return true
}

// message appends the JSON of the message of plan p whose wire form is b.
func (st *wireState) message(dst []byte, p *msgPlan, b []byte, depth int) ([]byte, bool) {
	if p.slow || depth > maxWireDepth {
		return dst, false
	}
	if p.inOrder {
		if out, ok := st.inOrder(dst, p, b, depth); ok {
			return out, true
		}
	}
	hb, rb := len(st.heads), len(st.recs)
	ok := st.scan(p, b, hb)
	if ok {
		if p.kind != wktNone {
			dst, ok = st.wellKnown(dst, p, b, hb, depth)
		} else {
			dst, ok = st.fields(dst, p, b, hb, depth)
		}
	}
	st.heads, st.recs = st.heads[:hb], st.recs[:rb]
	if ok && st.past(dst) {
		return dst, false
	}
	return dst, ok
}

// inOrder appends the JSON object of a message of an inOrder plan in one
// pass over b, without recording the fields first (scan), when b holds
// each field at most once and in the order of their numbers, as protobuf
// encoders write them. Then the order of b is the order of the JSON.
// Anything else (a field out of order or repeated, a failure, the limit
// passed) makes it report false, with the state as it found it, and the
// two passes of message render the message, or fail, as they always did.
func (st *wireState) inOrder(dst []byte, p *msgPlan, b []byte, depth int) ([]byte, bool) {
	start, over := len(dst), st.over
	fail := func() ([]byte, bool) {
		st.over = over
		return dst[:start], false
	}
	dst = append(dst, '{')
	first := true
	next := 0 // the first field not yet written
	for pos := 0; pos < len(b); {
		var num protowire.Number
		var wt protowire.Type
		if c := b[pos]; c < 0x80 && c >= 8 {
			// As in scan: the tag and the unknown fields are read in line
			// in both. A shared helper returning the next known field cost
			// BenchmarkWire 7 to 9% (5 December).
			num, wt = protowire.Number(c>>3), protowire.Type(c&7)
			pos++
		} else {
			n, t, tl := protowire.ConsumeTag(b[pos:])
			if tl < 0 || n > protowire.MaxValidNumber {
				return fail()
			}
			num, wt = n, t
			pos += tl
		}
		fi := p.field(num)
		if fi < 0 {
			if p.ext.Has(num) {
				return fail()
			}
			vl := protowire.ConsumeFieldValue(num, wt, b[pos:])
			if vl < 0 {
				return fail()
			}
			pos += vl // unknown fields are not rendered
			continue
		}
		f := &p.fields[fi]
		if fi < next || wt != f.wt {
			return fail()
		}
		r, end, ok := readValue(b, pos, wt)
		if !ok {
			return fail()
		}
		pos = end
		if dst, first, ok = st.unsetUpTo(dst, p, next, fi, first); !ok {
			return fail()
		}
		next = fi + 1
		if !f.presence && isZero(f, r) {
			if dst, first, ok = st.unsetUpTo(dst, p, fi, next, first); !ok {
				return fail()
			}
			continue
		}
		if f.name == "" {
			return fail()
		}
		if !first {
			dst = append(dst, comma...)
		}
		first = false
		dst = append(dst, f.name...)
		if dst, ok = st.value(dst, f, b, r, depth); !ok || st.past(dst) {
			return fail()
		}
	}
	dst, _, ok := st.unsetUpTo(dst, p, next, len(p.fields), first)
	if !ok || st.past(dst) {
		return fail()
	}
	return append(dst, '}'), true
}

// unsetUpTo appends the fields from i up to j of plan p as unset ones:
// under EmitUnpopulated, all but oneof members. first says whether no
// field was written before. It reports false for a field whose name or
// unset JSON protojson could not write.
func (st *wireState) unsetUpTo(dst []byte, p *msgPlan, i, j int, first bool) ([]byte, bool, bool) {
	if !st.emitUnset {
		return dst, first, true
	}
	for ; i < j; i++ {
		f := &p.fields[i]
		if f.skipUnset {
			continue
		}
		if f.name == "" || f.unset == "" {
			return dst, first, false
		}
		if !first {
			dst = append(dst, comma...)
		}
		first = false
		dst = append(dst, f.name...)
		dst = append(dst, f.unset...)
	}
	return dst, first, true
}

// readValue reads the value of wire type wt at b[pos:], and returns it as
// an occurrence (its next unset) and the position after it; ok is false
// if the value is cut short, or a group.
func readValue(b []byte, pos int, wt protowire.Type) (r wireRec, end int, ok bool) {
	r.wt = wt
	switch wt {
	case protowire.VarintType:
		if pos < len(b) && b[pos] < 0x80 {
			r.v = uint64(b[pos]) // a one-byte varint
			return r, pos + 1, true
		}
		v, n := protowire.ConsumeVarint(b[pos:])
		r.v = v
		return r, pos + n, n >= 0
	case protowire.Fixed32Type:
		v, n := protowire.ConsumeFixed32(b[pos:])
		r.v = uint64(v)
		return r, pos + n, n >= 0
	case protowire.Fixed64Type:
		v, n := protowire.ConsumeFixed64(b[pos:])
		r.v = v
		return r, pos + n, n >= 0
	case protowire.BytesType:
		v, n := protowire.ConsumeBytes(b[pos:])
		r.e = pos + n
		r.v = uint64(r.e - len(v))
		return r, r.e, n >= 0
	}
	return r, pos, false // groups
}

// past reports whether dst has grown past the limit, and marks the
// rendering as over it. It is checked after every message, field value,
// list element and map entry, so that rendering stops within one value
// of the limit: a list of empty messages that each render many fields, or
// of strings whose escapes multiply them, stops soon after it.
func (st *wireState) past(dst []byte) bool {
	if st.end > 0 && len(dst) > st.end {
		st.over = true
		return true
	}
	return false
}

// fields appends the JSON object of an ordinary message.
func (st *wireState) fields(dst []byte, p *msgPlan, b []byte, hb, depth int) ([]byte, bool) {
	dst = append(dst, '{')
	first := true
	for i := range p.fields {
		f := &p.fields[i]
		h := st.heads[hb+2*i]
		set := h >= 0
		switch {
		case !set:
		case f.list:
			set = st.listHasElements(f, h)
		case !f.presence && !f.isMap:
			set = !isZero(f, st.recs[h])
		}
		if !set {
			var ok bool
			if dst, first, ok = st.unsetUpTo(dst, p, i, i+1, first); !ok {
				return dst, false
			}
			continue
		}
		if f.name == "" {
			return dst, false
		}
		if !first {
			dst = append(dst, comma...)
		}
		first = false
		dst = append(dst, f.name...)
		var ok bool
		switch {
		case f.isMap:
			dst, ok = st.mapValue(dst, f, b, h, depth)
		case f.list:
			dst, ok = st.list(dst, f, b, h, depth)
		default:
			dst, ok = st.value(dst, f, b, st.recs[h], depth)
		}
		if !ok || st.past(dst) {
			return dst, false
		}
	}
	return append(dst, '}'), true
}

// isZero reports whether a field without presence holds its zero value,
// which protobuf treats as unset (-0.0 is set).
func isZero(f *fieldPlan, r wireRec) bool {
	switch f.kind {
	case protoreflect.StringKind, protoreflect.BytesKind:
		return r.empty()
	case protoreflect.BoolKind, protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Uint64Kind,
		protoreflect.Fixed64Kind, protoreflect.Sfixed64Kind, protoreflect.DoubleKind:
		return r.v == 0
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Uint32Kind, protoreflect.EnumKind,
		protoreflect.Fixed32Kind, protoreflect.Sfixed32Kind, protoreflect.FloatKind:
		return uint32(r.v) == 0
	}
	return false
}

// value appends one singular value of field f held by r.
func (st *wireState) value(dst []byte, f *fieldPlan, b []byte, r wireRec, depth int) ([]byte, bool) {
	switch f.kind {
	case protoreflect.StringKind:
		return appendString(dst, r.span(b))
	case protoreflect.BytesKind:
		return appendBase64(dst, r.span(b)), true
	case protoreflect.MessageKind:
		return st.message(dst, f.msg, r.span(b), depth+1)
	case protoreflect.GroupKind:
		return dst, false
	}
	return appendScalar(dst, f, r.v), true
}

// appendScalar appends a numeric, bool or enum value decoded from its
// varint or fixed form v as protobuf does (32-bit kinds truncate).
func appendScalar(dst []byte, f *fieldPlan, v uint64) []byte {
	switch f.kind {
	case protoreflect.BoolKind:
		return appendBool(dst, v != 0)
	case protoreflect.EnumKind:
		return f.enum.appendValue(dst, int32(v))
	case protoreflect.Int32Kind, protoreflect.Sfixed32Kind:
		return appendInt(dst, int64(int32(v)))
	case protoreflect.Sint32Kind:
		return appendInt(dst, int64(int32(protowire.DecodeZigZag(v&math.MaxUint32))))
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return appendUint(dst, uint64(uint32(v)))
	case protoreflect.Int64Kind, protoreflect.Sfixed64Kind:
		return append(appendInt(append(dst, '"'), int64(v)), '"')
	case protoreflect.Sint64Kind:
		return append(appendInt(append(dst, '"'), protowire.DecodeZigZag(v)), '"')
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return append(appendUint(append(dst, '"'), v), '"')
	case protoreflect.FloatKind:
		return appendFloat(dst, float64(math.Float32frombits(uint32(v))), 32)
	case protoreflect.DoubleKind:
		return appendFloat(dst, math.Float64frombits(v), 64)
	}
	panic("transcode: appendScalar of kind " + f.kind.String())
}

// listHasElements reports whether the occurrences from h hold an element
// (a packed occurrence may be empty).
func (st *wireState) listHasElements(f *fieldPlan, h int32) bool {
	for ; h >= 0; h = st.recs[h].next {
		r := &st.recs[h]
		if !f.packable || r.wt != protowire.BytesType || !r.empty() {
			return true
		}
	}
	return false
}

// list appends the JSON array of the occurrences from h.
func (st *wireState) list(dst []byte, f *fieldPlan, b []byte, h int32, depth int) ([]byte, bool) {
	dst = append(dst, '[')
	first := true
	for ; h >= 0; h = st.recs[h].next {
		r := st.recs[h]
		if !f.packable || r.wt != protowire.BytesType {
			if !first {
				dst = append(dst, comma...)
			}
			first = false
			var ok bool
			if dst, ok = st.value(dst, f, b, r, depth); !ok || st.past(dst) {
				return dst, false
			}
			continue
		}
		for p := r.span(b); len(p) > 0; {
			var v uint64
			var n int
			switch f.wt {
			case protowire.VarintType:
				v, n = protowire.ConsumeVarint(p)
			case protowire.Fixed32Type:
				var v32 uint32
				v32, n = protowire.ConsumeFixed32(p)
				v = uint64(v32)
			default:
				v, n = protowire.ConsumeFixed64(p)
			}
			if n < 0 {
				return dst, false
			}
			p = p[n:]
			if !first {
				dst = append(dst, comma...)
			}
			first = false
			dst = appendScalar(dst, f, v)
			if st.past(dst) {
				return dst, false
			}
		}
	}
	return append(dst, ']'), true
}

// mapValue appends the JSON object of the map entries from h, sorted by
// key as protojson sorts them.
func (st *wireState) mapValue(dst []byte, f *fieldPlan, b []byte, h int32, depth int) ([]byte, bool) {
	eb := len(st.ents)
	defer func() { st.ents = st.ents[:eb] }()
	for ; h >= 0; h = st.recs[h].next {
		r := st.recs[h]
		e, ok := parseEntry(f, b, int(r.v), r.e)
		if !ok {
			return dst, false
		}
		st.ents = append(st.ents, e)
	}
	ents := st.ents[eb:]
	kk := f.key.kind
	switch kk {
	case protoreflect.StringKind:
		slices.SortFunc(ents, func(x, y mapEntry) int { return bytes.Compare(b[x.ks:x.ke], b[y.ks:y.ke]) })
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind,
		protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		slices.SortFunc(ents, func(x, y mapEntry) int {
			switch {
			case int64(x.k) < int64(y.k):
				return -1
			case int64(x.k) > int64(y.k):
				return 1
			}
			return 0
		})
	default: // bool, unsigned
		slices.SortFunc(ents, func(x, y mapEntry) int {
			switch {
			case x.k < y.k:
				return -1
			case x.k > y.k:
				return 1
			}
			return 0
		})
	}
	dst = append(dst, '{')
	for i := range ents {
		e := st.ents[eb+i]
		if i > 0 {
			prev := &st.ents[eb+i-1]
			if kk == protoreflect.StringKind && bytes.Equal(b[prev.ks:prev.ke], b[e.ks:e.ke]) ||
				kk != protoreflect.StringKind && prev.k == e.k {
				return dst, false // the last entry of a key wins
			}
			dst = append(dst, comma...)
		}
		var ok bool
		switch kk {
		case protoreflect.StringKind:
			if dst, ok = appendString(dst, b[e.ks:e.ke]); !ok {
				return dst, false
			}
		case protoreflect.BoolKind:
			dst = append(appendBool(append(dst, '"'), e.k != 0), '"')
		case protoreflect.Uint32Kind, protoreflect.Fixed32Kind, protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
			dst = append(appendUint(append(dst, '"'), e.k), '"')
		default:
			dst = append(appendInt(append(dst, '"'), int64(e.k)), '"')
		}
		dst = append(dst, ':')
		switch {
		case e.hasVal:
			dst, ok = st.value(dst, f.val, b, e.val, depth)
		case f.val.msg != nil:
			dst, ok = st.message(dst, f.val.msg, nil, depth+1)
		default:
			dst, ok = append(dst, f.val.zero...), f.val.zero != ""
		}
		if !ok || st.past(dst) {
			return dst, false
		}
	}
	return append(dst, '}'), true
}

// parseEntry decodes the map entry b[s:e] of map field f. Keys are
// normalised for sorting: signed keys sign-extended, 32-bit keys truncated.
// Anything protobuf would treat specially (a repeated key or value, a key
// or value of the wrong wire type) fails.
func parseEntry(f *fieldPlan, b []byte, s, e int) (mapEntry, bool) {
	var me mapEntry
	hasKey := false
	for pos := s; pos < e; {
		num, wt, tl := protowire.ConsumeTag(b[pos:e])
		if tl < 0 || num > protowire.MaxValidNumber {
			return me, false
		}
		pos += tl
		var fp *fieldPlan
		switch num {
		case 1:
			fp = f.key
		case 2:
			fp = f.val
		default:
			vl := protowire.ConsumeFieldValue(num, wt, b[pos:e])
			if vl < 0 {
				return me, false
			}
			pos += vl
			continue
		}
		if wt != fp.wt {
			return me, false
		}
		r, end, ok := readValue(b[:e], pos, wt)
		if !ok {
			return me, false
		}
		r.next, pos = -1, end
		if num == 1 {
			if hasKey {
				return me, false
			}
			hasKey = true
			me.ks, me.ke = int(r.v), r.e
			me.k = mapKey(fp.kind, r.v)
		} else {
			if me.hasVal {
				return me, false
			}
			me.hasVal, me.val = true, r
		}
	}
	return me, true
}

// mapKey normalises a numeric or bool key for comparison.
func mapKey(k protoreflect.Kind, v uint64) uint64 {
	switch k {
	case protoreflect.BoolKind:
		if v != 0 {
			return 1
		}
		return 0
	case protoreflect.Int32Kind, protoreflect.Sfixed32Kind:
		return uint64(int64(int32(v)))
	case protoreflect.Sint32Kind:
		return uint64(int64(int32(protowire.DecodeZigZag(v & math.MaxUint32))))
	case protoreflect.Sint64Kind:
		return uint64(protowire.DecodeZigZag(v))
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return uint64(uint32(v))
	}
	return v
}

// wellKnown appends a well-known type with a JSON form of its own.
func (st *wireState) wellKnown(dst []byte, p *msgPlan, b []byte, hb, depth int) ([]byte, bool) {
	// rec returns the occurrence of field number num, if any.
	rec := func(num protowire.Number) (wireRec, bool) {
		i := p.field(num)
		if h := st.heads[hb+2*i]; h >= 0 {
			return st.recs[h], true
		}
		return wireRec{}, false
	}
	switch p.kind {
	case wktTimestamp, wktDuration:
		secs, _ := rec(1)
		nanos, _ := rec(2)
		if p.kind == wktTimestamp {
			return appendTimestamp(dst, int64(secs.v), int64(int32(nanos.v)))
		}
		return appendDuration(dst, int64(secs.v), int64(int32(nanos.v)))
	case wktWrapper:
		f := &p.fields[p.field(1)]
		if r, ok := rec(1); ok {
			return st.value(dst, f, b, r, depth)
		}
		return append(dst, f.zero...), f.zero != ""
	case wktStruct:
		i := p.field(1)
		if h := st.heads[hb+2*i]; h >= 0 {
			return st.mapValue(dst, &p.fields[i], b, h, depth)
		}
		return append(dst, '{', '}'), true
	case wktListValue:
		i := p.field(1)
		return st.list(dst, &p.fields[i], b, st.heads[hb+2*i], depth)
	case wktValue:
		for num := protowire.Number(1); num <= 6; num++ {
			r, ok := rec(num)
			if !ok {
				continue
			}
			if num == 2 {
				if v := math.Float64frombits(r.v); math.IsNaN(v) || math.IsInf(v, 0) {
					return dst, false // protojson refuses these
				}
			}
			return st.value(dst, &p.fields[p.field(num)], b, r, depth)
		}
		return dst, false // protojson refuses a Value with no kind
	case wktFieldMask:
		dst = append(dst, '"')
		i := 0
		for h := st.heads[hb+2*p.field(1)]; h >= 0; h = st.recs[h].next {
			r := st.recs[h]
			if i > 0 {
				dst = append(dst, ',')
			}
			i++
			var ok bool
			if dst, ok = appendFieldMaskPath(dst, r.span(b)); !ok {
				return dst, false
			}
		}
		return append(dst, '"'), true
	}
	return dst, false
}

// appendFieldMaskPath appends a FieldMask path in lowerCamelCase: a path
// must be a valid protobuf full name (dot-separated identifiers), and the
// conversion must be reversible, as protojson checks.
func appendFieldMaskPath(dst []byte, path []byte) ([]byte, bool) {
	if !protoreflect.FullName(path).IsValid() {
		return dst, false
	}
	start := len(dst)
	under := false
	for _, c := range path {
		if c == '_' {
			under = true
			continue
		}
		if under && 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		under = false
		dst = append(dst, c)
	}
	// Reversible: turning the result back into snake_case gives path.
	cc := dst[start:]
	j := 0
	for _, c := range cc {
		if 'A' <= c && c <= 'Z' {
			if j >= len(path) || path[j] != '_' {
				return dst, false
			}
			j++
			c += 'a' - 'A'
		}
		if j >= len(path) || path[j] != c {
			return dst, false
		}
		j++
	}
	return dst, j == len(path)
}
