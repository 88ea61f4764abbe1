package transcode

import (
	"math"
	"sync"
	"sync/atomic"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
)

// wireCache holds the compiled plans of a Codec, one per message descriptor
// it was asked about (and every message type reachable from it). Plans are
// published only when complete, so readers never lock.
type wireCache struct {
	mu    sync.Mutex // serialises compilation
	plans sync.Map   // protoreflect.MessageDescriptor → *msgPlan
	// last is the plan plan returned last: a stream's messages, and most
	// calls' responses, are of the type before them, which it finds
	// without hashing the descriptor.
	last atomic.Pointer[msgPlan]
}

// wkt says which well-known type with a JSON form of its own a message is.
type wkt uint8

const (
	wktNone wkt = iota
	wktTimestamp
	wktDuration
	wktWrapper
	wktStruct
	wktListValue
	wktValue
	wktFieldMask
)

// msgPlan is how to render one message type from its wire form.
type msgPlan struct {
	md   protoreflect.MessageDescriptor
	kind wkt
	// inOrder: a plain message (no well-known type, list, map or real
	// oneof) whose fields are declared in the order of their numbers,
	// which wireState.inOrder renders in one pass.
	inOrder bool
	// slow marks types the fast path never renders: Any (its JSON needs the
	// packed type), MessageSets, types with required fields (both proto and
	// protojson check them) and well-known types whose descriptor is not the
	// standard one.
	slow bool
	// fields in declaration order, which is protojson's output order.
	fields []fieldPlan
	// byNumber maps field numbers below len(byNumber) to index+1 (0: none);
	// larger numbers are in sparse.
	byNumber []int32
	sparse   map[protowire.Number]int32
	// ext are the extension ranges: extensions are not rendered here.
	ext     protoreflect.FieldRanges
	oneofs  int // real oneofs, numbered from 1 in fieldPlan.oneof
	nfields int
}

// field returns the index of the field numbered num, or -1.
func (p *msgPlan) field(num protowire.Number) int {
	if int(num) < len(p.byNumber) {
		return int(p.byNumber[num]) - 1
	}
	if i, ok := p.sparse[num]; ok {
		return int(i)
	}
	return -1
}

// fieldPlan is how to render one field (or a map entry's key or value).
//
// What AppendWire reads of every field of every message comes first, in
// the first 64 bytes, one cache line: rendering runs between gRPC's
// reads and the session's writes, which leave little of it in the cache.
type fieldPlan struct {
	kind protoreflect.Kind
	// wt is the wire type of one element; packable lists also accept
	// BytesType (packed).
	wt       protowire.Type
	list     bool
	isMap    bool
	packable bool
	presence bool
	// skipUnset: a member of a oneof (real or synthetic), which
	// EmitUnpopulated does not emit when unset.
	skipUnset bool
	oneof     int32 // 1-based index of the real oneof, 0 for none
	// name is `"<name>":` as protojson writes it; "" if protojson would
	// fail to write the name (invalid UTF-8 in a json_name).
	name string
	msg  *msgPlan
	enum *enumPlan
	// unset is what EmitUnpopulated writes for the field when unset: null,
	// [], {} or the default value. zero is the JSON of the field's default
	// value (an absent map value, an unset wrapper). "": give up.
	unset string
	zero  string
	key   *fieldPlan // map entry fields
	val   *fieldPlan
	fd    protoreflect.FieldDescriptor
}

// enumPlan renders the values of one enum type.
type enumPlan struct {
	null    bool // google.protobuf.NullValue: always null
	numbers bool // UseEnumNumbers
	min     int32
	dense   [][]byte // `"NAME"` by number-min, nil where no value
	sparse  map[int32][]byte
}

// appendValue appends enum value n as protojson writes it.
func (e *enumPlan) appendValue(dst []byte, n int32) []byte {
	switch {
	case e.null:
		return append(dst, "null"...)
	case e.numbers:
		return appendInt(dst, int64(n))
	}
	var name []byte
	if i := int64(n) - int64(e.min); i >= 0 && i < int64(len(e.dense)) {
		name = e.dense[i]
	} else if e.sparse != nil {
		name = e.sparse[n]
	}
	if name == nil {
		return appendInt(dst, int64(n))
	}
	return append(dst, name...)
}

// plan returns the compiled plan of md, compiling it (and every type it
// reaches) on first use.
func (c *Codec) plan(md protoreflect.MessageDescriptor) *msgPlan {
	if p := c.wire.last.Load(); p != nil && p.md == md {
		return p
	}
	if p, ok := c.wire.plans.Load(md); ok {
		c.wire.last.Store(p.(*msgPlan))
		return p.(*msgPlan)
	}
	c.wire.mu.Lock()
	defer c.wire.mu.Unlock()
	if p, ok := c.wire.plans.Load(md); ok {
		return p.(*msgPlan)
	}
	cp := compiler{c: c, building: make(map[protoreflect.MessageDescriptor]*msgPlan)}
	p := cp.message(md)
	for d, bp := range cp.building {
		c.wire.plans.Store(d, bp)
	}
	return p
}

type compiler struct {
	c        *Codec
	building map[protoreflect.MessageDescriptor]*msgPlan
	enums    map[protoreflect.EnumDescriptor]*enumPlan
}

func (cp *compiler) message(md protoreflect.MessageDescriptor) *msgPlan {
	if p, ok := cp.c.wire.plans.Load(md); ok {
		return p.(*msgPlan)
	}
	if p, ok := cp.building[md]; ok {
		return p
	}
	p := &msgPlan{md: md, ext: md.ExtensionRanges()}
	cp.building[md] = p
	p.kind, p.slow = classify(md)
	if opts, ok := md.Options().(*descriptorpb.MessageOptions); ok && opts.GetMessageSetWireFormat() {
		p.slow = true
	}
	fds := md.Fields()
	p.nfields = fds.Len()
	p.fields = make([]fieldPlan, fds.Len())
	maxDense := 0
	for i := range fds.Len() {
		if n := int(fds.Get(i).Number()); n < 256 && n > maxDense {
			maxDense = n
		}
	}
	p.byNumber = make([]int32, maxDense+1)
	oneofIndex := make(map[protoreflect.OneofDescriptor]int32)
	inOrder := true
	for i := range fds.Len() {
		fd := fds.Get(i)
		if fd.Cardinality() == protoreflect.Required {
			p.slow = true
		}
		f := &p.fields[i]
		cp.field(f, fd)
		if od := fd.ContainingOneof(); od != nil {
			f.skipUnset = true
			if !od.IsSynthetic() {
				if _, ok := oneofIndex[od]; !ok {
					p.oneofs++
					oneofIndex[od] = int32(p.oneofs)
				}
				f.oneof = oneofIndex[od]
			}
		}
		name := fd.JSONName()
		if cp.c.opts.UseProtoNames {
			name = fd.TextName()
		}
		if b, ok := appendString(nil, name); ok {
			f.name = string(append(b, ':'))
		}
		if i > 0 && fd.Number() <= fds.Get(i-1).Number() || f.list || f.isMap {
			inOrder = false
		}
		if n := fd.Number(); int(n) < len(p.byNumber) {
			p.byNumber[n] = int32(i + 1)
		} else {
			if p.sparse == nil {
				p.sparse = make(map[protowire.Number]int32)
			}
			p.sparse[n] = int32(i)
		}
	}
	p.inOrder = inOrder && p.kind == wktNone && !p.slow && p.oneofs == 0
	return p
}

// field fills f for fd.
func (cp *compiler) field(f *fieldPlan, fd protoreflect.FieldDescriptor) {
	f.fd = fd
	f.kind = fd.Kind()
	f.wt = wireType(f.kind)
	f.isMap = fd.IsMap()
	f.list = fd.IsList()
	f.presence = fd.HasPresence()
	f.packable = f.list && f.wt != protowire.BytesType && f.wt != protowire.StartGroupType
	switch f.kind {
	case protoreflect.MessageKind, protoreflect.GroupKind:
		if !f.isMap {
			f.msg = cp.message(fd.Message())
		}
	case protoreflect.EnumKind:
		f.enum = cp.enum(fd.Enum())
	}
	if f.isMap {
		f.key, f.val = new(fieldPlan), new(fieldPlan)
		cp.field(f.key, fd.MapKey())
		cp.field(f.val, fd.MapValue())
	}
	switch {
	case f.isMap:
		f.unset = "{}"
	case f.list:
		f.unset = "[]"
	case f.presence:
		f.unset = "null"
	}
	if !f.list && f.msg == nil {
		f.zero = string(cp.defaultJSON(f))
		if f.unset == "" {
			f.unset = f.zero
		}
	}
}

// defaultJSON renders fd's default value as protojson writes it, or nil if
// protojson would fail.
func (cp *compiler) defaultJSON(f *fieldPlan) []byte {
	v := f.fd.Default()
	var b []byte
	switch f.kind {
	case protoreflect.BoolKind:
		b = appendBool(b, v.Bool())
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		b = appendInt(b, v.Int())
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		b = appendUint(b, v.Uint())
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		b = append(appendInt(append(b, '"'), v.Int()), '"')
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		b = append(appendUint(append(b, '"'), v.Uint()), '"')
	case protoreflect.FloatKind:
		b = appendFloat(b, v.Float(), 32)
	case protoreflect.DoubleKind:
		b = appendFloat(b, v.Float(), 64)
	case protoreflect.StringKind:
		var ok bool
		if b, ok = appendString(b, v.String()); !ok {
			return nil
		}
	case protoreflect.BytesKind:
		b = appendBase64(b, v.Bytes())
	case protoreflect.EnumKind:
		b = f.enum.appendValue(b, int32(v.Enum()))
	default:
		return nil
	}
	return b
}

func (cp *compiler) enum(ed protoreflect.EnumDescriptor) *enumPlan {
	if e, ok := cp.enums[ed]; ok {
		return e
	}
	e := &enumPlan{null: ed.FullName() == "google.protobuf.NullValue", numbers: cp.c.opts.UseEnumNumbers}
	if cp.enums == nil {
		cp.enums = make(map[protoreflect.EnumDescriptor]*enumPlan)
	}
	cp.enums[ed] = e
	vals := ed.Values()
	if vals.Len() == 0 {
		return e
	}
	lo, hi := int64(math.MaxInt32), int64(math.MinInt32)
	for i := range vals.Len() {
		n := int64(vals.Get(i).Number())
		lo, hi = min(lo, n), max(hi, n)
	}
	dense := hi-lo < 256
	if dense {
		e.min = int32(lo)
		e.dense = make([][]byte, hi-lo+1)
	} else {
		e.sparse = make(map[int32][]byte)
	}
	for i := range vals.Len() {
		v := vals.Get(i)
		// ByNumber answers with the first value of a number (aliases).
		if vals.ByNumber(v.Number()) != v {
			continue
		}
		name, ok := appendString(nil, string(v.Name()))
		if !ok {
			continue
		}
		if dense {
			e.dense[int64(v.Number())-lo] = name
		} else {
			e.sparse[int32(v.Number())] = name
		}
	}
	return e
}

// wireType is the wire type of one value of kind k.
func wireType(k protoreflect.Kind) protowire.Type {
	switch k {
	case protoreflect.BoolKind, protoreflect.EnumKind, protoreflect.Int32Kind, protoreflect.Sint32Kind,
		protoreflect.Uint32Kind, protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Uint64Kind:
		return protowire.VarintType
	case protoreflect.Fixed32Kind, protoreflect.Sfixed32Kind, protoreflect.FloatKind:
		return protowire.Fixed32Type
	case protoreflect.Fixed64Kind, protoreflect.Sfixed64Kind, protoreflect.DoubleKind:
		return protowire.Fixed64Type
	case protoreflect.GroupKind:
		return protowire.StartGroupType
	default: // string, bytes, message
		return protowire.BytesType
	}
}

// classify says which well-known type md is, and whether it must take the
// slow path: Any always, the others when their descriptor is not shaped as
// the standard one (protojson would read fields that are not there).
func classify(md protoreflect.MessageDescriptor) (wkt, bool) {
	if md.ParentFile() == nil || md.FullName().Parent() != "google.protobuf" {
		return wktNone, false
	}
	fds := md.Fields()
	// has reports whether field num exists with kind k (and list-ness).
	has := func(num protowire.Number, k protoreflect.Kind, list bool) bool {
		fd := fds.ByNumber(num)
		return fd != nil && fd.Kind() == k && fd.IsList() == list && !fd.IsMap()
	}
	msgIs := func(num protowire.Number, name protoreflect.FullName) bool {
		fd := fds.ByNumber(num)
		return fd != nil && fd.Message() != nil && fd.Message().FullName() == name
	}
	switch md.Name() {
	case "Any":
		return wktNone, true
	case "Timestamp", "Duration":
		k := wktTimestamp
		if md.Name() == "Duration" {
			k = wktDuration
		}
		return k, !(fds.Len() == 2 && has(1, protoreflect.Int64Kind, false) && has(2, protoreflect.Int32Kind, false))
	case "BoolValue", "Int32Value", "Int64Value", "UInt32Value", "UInt64Value",
		"FloatValue", "DoubleValue", "StringValue", "BytesValue":
		want := map[protoreflect.Name]protoreflect.Kind{
			"BoolValue": protoreflect.BoolKind, "Int32Value": protoreflect.Int32Kind,
			"Int64Value": protoreflect.Int64Kind, "UInt32Value": protoreflect.Uint32Kind,
			"UInt64Value": protoreflect.Uint64Kind, "FloatValue": protoreflect.FloatKind,
			"DoubleValue": protoreflect.DoubleKind, "StringValue": protoreflect.StringKind,
			"BytesValue": protoreflect.BytesKind,
		}[md.Name()]
		return wktWrapper, !(fds.Len() == 1 && has(1, want, false))
	case "Struct":
		fd := fds.ByNumber(1)
		ok := fds.Len() == 1 && fd != nil && fd.IsMap() && fd.MapKey().Kind() == protoreflect.StringKind &&
			fd.MapValue().Message() != nil && fd.MapValue().Message().FullName() == "google.protobuf.Value"
		return wktStruct, !ok
	case "ListValue":
		ok := fds.Len() == 1 && has(1, protoreflect.MessageKind, true) && msgIs(1, "google.protobuf.Value")
		return wktListValue, !ok
	case "Value":
		ok := fds.Len() == 6 && md.Oneofs().Len() == 1 && md.Oneofs().Get(0).Name() == "kind" &&
			md.Oneofs().Get(0).Fields().Len() == 6 &&
			has(1, protoreflect.EnumKind, false) && fds.ByNumber(1).Enum().FullName() == "google.protobuf.NullValue" &&
			has(2, protoreflect.DoubleKind, false) && has(3, protoreflect.StringKind, false) &&
			has(4, protoreflect.BoolKind, false) &&
			has(5, protoreflect.MessageKind, false) && msgIs(5, "google.protobuf.Struct") &&
			has(6, protoreflect.MessageKind, false) && msgIs(6, "google.protobuf.ListValue")
		return wktValue, !ok
	case "FieldMask":
		return wktFieldMask, !(fds.Len() == 1 && has(1, protoreflect.StringKind, true))
	}
	return wktNone, false
}
