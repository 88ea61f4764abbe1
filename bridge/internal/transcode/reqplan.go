package transcode

import (
	"sync"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
)

// maxRequestPlans bounds the message types whose request plans a Codec
// keeps. A Codec serves one schema, whose types are far fewer; the bound
// only keeps a caller that hands in descriptors from ever new schemas from
// growing the cache without end. Once a compilation would pass it,
// AppendRequestWire compiles nothing more and reports false for types
// without a plan, so Request serves them.
const maxRequestPlans = 1 << 14

// reqCache holds the request plans of a Codec, one per message type it was
// asked about and every type reachable from it. Plans are published only
// when complete, so readers never lock.
type reqCache struct {
	mu    sync.Mutex // serialises compilation and guards n and full
	n     int        // plans stored
	full  bool       // a compilation would have passed the bound
	max   int        // the bound: maxRequestPlans, or less in tests
	plans sync.Map   // protoreflect.MessageDescriptor → *reqMsgPlan
}

// reqMsgPlan is how to encode one message type from its JSON form.
type reqMsgPlan struct {
	// slow marks types the fast path never encodes, wherever a value of
	// them occurs: types with a JSON form of their own (but the standard
	// wrappers), MessageSets (protojson refuses them) and types with
	// required fields (Request checks them).
	slow bool
	// wrapper is the value field of a standard wrapper type, whose JSON is
	// that field's value alone.
	wrapper *reqFieldPlan
	// fields in declaration order, which is also positional order.
	fields []reqFieldPlan
	// names maps each name protojson resolves to a field (JSON name, then
	// proto name) to its index in fields. Small messages use the slice,
	// larger ones the map.
	names  []reqName
	byName map[string]int32
	// oneofs counts the real oneofs, numbered from 1 in reqFieldPlan.oneof.
	oneofs int
}

type reqName struct {
	name  string
	index int32
}

// maxLinearNames is the most names looked up by a linear scan, which beats
// hashing for the small messages most requests are.
const maxLinearNames = 16

// field returns the index of the field key names, or -1. Keys mostly come
// in declaration order, so the field after the last one, next, is tried
// first.
func (p *reqMsgPlan) field(key []byte, next int) int {
	if next < len(p.fields) {
		for _, n := range p.fields[next].names {
			if n == string(key) {
				return next
			}
		}
	}
	if p.byName != nil {
		if i, ok := p.byName[string(key)]; ok {
			return int(i)
		}
		return -1
	}
	for _, n := range p.names {
		if n.name == string(key) {
			return int(n.index)
		}
	}
	return -1
}

// reqFieldPlan is how to encode one field (or a map entry's key or value).
type reqFieldPlan struct {
	kind protoreflect.Kind
	// names are the field's JSON and proto names that protojson resolves
	// to it (one if they are the same).
	names []string
	// tag is the field's encoded tag for one element; for packed lists the
	// tag of the whole, length-delimited run.
	tag      uint64
	list     bool
	packed   bool
	isMap    bool
	presence bool
	// slow marks fields the fast path gives up on when given a value:
	// groups, google.protobuf.Value and NullValue (JSON null is a value for
	// them), and extensions.
	slow  bool
	oneof int32 // 1-based index of the real oneof, 0 for none
	msg   *reqMsgPlan
	enum  *reqEnumPlan
	// key and val are a map entry's fields.
	key, val *reqFieldPlan
}

// reqEnumPlan resolves the values of one enum type.
type reqEnumPlan struct {
	ed     protoreflect.EnumDescriptor
	names  map[string]int32
	closed bool // numbers without a value are refused (or kept unknown)
}

// reqPlan returns the request plan of md, compiling it (and every type it
// reaches) on first use, or nil once the cache is full.
func (c *Codec) reqPlan(md protoreflect.MessageDescriptor) *reqMsgPlan {
	if p, ok := c.req.plans.Load(md); ok {
		return p.(*reqMsgPlan)
	}
	c.req.mu.Lock()
	defer c.req.mu.Unlock()
	if p, ok := c.req.plans.Load(md); ok {
		return p.(*reqMsgPlan)
	}
	if c.req.full {
		return nil // compiling again on every call would cost more than Request
	}
	cp := reqCompiler{c: c, building: make(map[protoreflect.MessageDescriptor]*reqMsgPlan)}
	p := cp.message(md)
	if c.req.n+len(cp.building) > c.req.max {
		c.req.full = true
		return nil
	}
	for d, bp := range cp.building {
		c.req.plans.Store(d, bp)
	}
	c.req.n += len(cp.building)
	return p
}

type reqCompiler struct {
	c        *Codec
	building map[protoreflect.MessageDescriptor]*reqMsgPlan
	enums    map[protoreflect.EnumDescriptor]*reqEnumPlan
}

func (cp *reqCompiler) message(md protoreflect.MessageDescriptor) *reqMsgPlan {
	if p, ok := cp.c.req.plans.Load(md); ok {
		return p.(*reqMsgPlan)
	}
	if p, ok := cp.building[md]; ok {
		return p
	}
	p := &reqMsgPlan{}
	cp.building[md] = p
	if opts, ok := md.Options().(*descriptorpb.MessageOptions); ok && opts.GetMessageSetWireFormat() {
		p.slow = true
	}
	fds := md.Fields()
	if hasJSONForm(md.FullName()) {
		// protojson picks its decoder by name alone; only the standard
		// wrappers are simple enough to follow here.
		if k, slow := classify(md); k == wktWrapper && !slow {
			p.wrapper = new(reqFieldPlan)
			cp.field(p.wrapper, fds.ByNumber(1))
		} else {
			p.slow = true
		}
		return p
	}
	if md.FullName() == "google.protobuf.Empty" && fds.Len() > 0 {
		// protojson takes every key of an Empty for an unknown field.
		p.slow = true
	}
	p.fields = make([]reqFieldPlan, fds.Len())
	oneofIndex := make(map[protoreflect.OneofDescriptor]int32)
	for i := range fds.Len() {
		fd := fds.Get(i)
		if fd.Cardinality() == protoreflect.Required {
			p.slow = true
		}
		f := &p.fields[i]
		cp.field(f, fd)
		if fds.ByJSONName(fd.JSONName()) != fd {
			// Request hands positional and nested values to protojson
			// under the JSON name, which would find the other field.
			f.slow = true
		}
		if od := fd.ContainingOneof(); od != nil && !od.IsSynthetic() {
			if _, ok := oneofIndex[od]; !ok {
				p.oneofs++
				oneofIndex[od] = int32(p.oneofs)
			}
			f.oneof = oneofIndex[od]
		}
	}
	// Resolve every name as protojson does, JSON name first, so that a
	// name that is one field's JSON name and another's proto name finds
	// the same field here.
	index := make(map[string]int32, 2*fds.Len())
	for i := range fds.Len() {
		fd := fds.Get(i)
		for _, name := range []string{fd.JSONName(), fd.TextName()} {
			if _, ok := index[name]; ok {
				continue
			}
			found := fds.ByJSONName(name)
			if found == nil {
				found = fds.ByTextName(name)
			}
			if found != nil {
				index[name] = int32(found.Index())
			}
		}
	}
	for name, i := range index {
		f := &p.fields[i]
		if name == fds.Get(int(i)).JSONName() {
			f.names = append([]string{name}, f.names...) // the likelier one first
		} else {
			f.names = append(f.names, name)
		}
	}
	if len(index) > maxLinearNames {
		p.byName = index
	} else {
		for name, i := range index {
			p.names = append(p.names, reqName{name: name, index: i})
		}
	}
	return p
}

// field fills f for fd.
func (cp *reqCompiler) field(f *reqFieldPlan, fd protoreflect.FieldDescriptor) {
	f.kind = fd.Kind()
	f.isMap = fd.IsMap()
	f.list = fd.IsList() && !f.isMap
	f.presence = fd.HasPresence()
	f.packed = f.list && fd.IsPacked()
	wt := wireType(f.kind)
	if f.packed {
		wt = protowire.BytesType
	}
	f.tag = protowire.EncodeTag(fd.Number(), wt)
	switch {
	case fd.IsExtension(), f.kind == protoreflect.GroupKind:
		f.slow = true
	case f.isMap:
		f.tag = protowire.EncodeTag(fd.Number(), protowire.BytesType)
		f.key, f.val = new(reqFieldPlan), new(reqFieldPlan)
		cp.field(f.key, fd.MapKey())
		cp.field(f.val, fd.MapValue())
		f.slow = f.key.slow || f.val.slow
	case f.kind == protoreflect.MessageKind:
		if fd.Message().FullName() == "google.protobuf.Value" {
			f.slow = true
		} else {
			f.msg = cp.message(fd.Message())
		}
	case f.kind == protoreflect.EnumKind:
		if fd.Enum().FullName() == "google.protobuf.NullValue" {
			f.slow = true
		} else {
			f.enum = cp.enum(fd.Enum())
		}
	}
}

func (cp *reqCompiler) enum(ed protoreflect.EnumDescriptor) *reqEnumPlan {
	if e, ok := cp.enums[ed]; ok {
		return e
	}
	e := &reqEnumPlan{ed: ed, closed: ed.IsClosed(), names: make(map[string]int32)}
	if cp.enums == nil {
		cp.enums = make(map[protoreflect.EnumDescriptor]*reqEnumPlan)
	}
	cp.enums[ed] = e
	vals := ed.Values()
	for i := range vals.Len() {
		v := vals.Get(i)
		// As Values().ByName, which protojson asks: names are unique.
		e.names[string(v.Name())] = int32(v.Number())
	}
	return e
}

// has reports whether enum number n has a value.
func (e *reqEnumPlan) has(n int32) bool {
	return e.ed.Values().ByNumber(protoreflect.EnumNumber(n)) != nil
}
