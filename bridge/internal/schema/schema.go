// Package schema describes gRPC methods and their messages as JSON, for the
// bridge's introspection: the wamp.reflection.procedure.list and
// wamp.reflection.procedure.describe procedures and GET /procedures.
//
// It is pure: descriptors in, values out. The values marshal with
// encoding/json to a deterministic document: keys in declaration order of
// the structs below, procedures sorted by full name, fields and enum values
// in declaration order (the order positional arguments fill fields in).
//
// A message type is expanded once per path: a field whose type is already
// being expanded further up becomes {"type": ..., "recursive": true}, so
// recursive types terminate. Well-known types are not expanded: they carry a
// note of their JSON form in "wellKnown" instead.
//
// Types that share others grow exponentially when every use is expanded
// (9 levels of 4 fields of one type are 4^9 fields), so a procedure's
// description expands every use only up to [FullFields] fields: past that,
// a type already expanded in the same description (request first, then
// response, depth first) becomes {"type": ..., "shared": true}. A
// description then holds at most FullFields fields plus each type's once.
package schema

import (
	"cmp"
	"slices"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// List is the document of every procedure.
type List struct {
	Procedures []*Procedure `json:"procedures"`
}

// Procedure describes one gRPC method and the procedure names it answers to.
type Procedure struct {
	// URIs are every procedure name the method answers to.
	URIs []string `json:"uris"`
	// Method is the gRPC path, "/pkg.Service/Method".
	Method string `json:"method"`
	// FullName is the protobuf full name, "pkg.Service.Method".
	FullName string `json:"fullName"`
	// Kind is "unary", "server-stream", "client-stream" or "bidi".
	Kind     string   `json:"kind"`
	Request  *Message `json:"request"`
	Response *Message `json:"response"`
}

// Message describes a message type. Exactly one of Fields (possibly empty),
// WellKnown, Recursive and Shared applies.
type Message struct {
	// Type is the message's full name, "pkg.Msg".
	Type string `json:"type"`
	// WellKnown is the JSON form of a well-known type, whose fields are
	// not listed.
	WellKnown string `json:"wellKnown,omitempty"`
	// Recursive marks a type already being expanded on this path.
	Recursive bool `json:"recursive,omitempty"`
	// Shared marks a type expanded earlier in the same description, in a
	// description past FullFields fields.
	Shared bool `json:"shared,omitempty"`
	// Fields are the fields in declaration order; empty, not absent, for a
	// message without fields.
	Fields []*Field `json:"fields,omitzero"`
}

// Field describes one field of a message.
type Field struct {
	// Name is the JSON name (lowerCamelCase), ProtoName the name in the
	// .proto file. The bridge accepts both in requests.
	Name      string `json:"name"`
	ProtoName string `json:"protoName"`
	Number    int32  `json:"number"`
	// Type is the protobuf scalar type ("string", "int64", "bytes", ...),
	// "enum", "message" or "map".
	Type string `json:"type"`
	// Repeated marks a list (never set for maps).
	Repeated bool `json:"repeated,omitempty"`
	// Optional marks a proto3 optional field (explicit presence).
	Optional bool `json:"optional,omitempty"`
	// Oneof names the oneof the field belongs to.
	Oneof string `json:"oneof,omitempty"`
	// JSON says how JSON carries a scalar where it is surprising: 64-bit
	// integers as strings, bytes as base64.
	JSON    string   `json:"json,omitempty"`
	Enum    *Enum    `json:"enum,omitempty"`
	Message *Message `json:"message,omitempty"`
	// Key is the scalar type of a map's keys (always a string in JSON);
	// Value describes its values.
	Key   string `json:"key,omitempty"`
	Value *Value `json:"value,omitempty"`
}

// Value describes the values of a map.
type Value struct {
	Type    string   `json:"type"`
	JSON    string   `json:"json,omitempty"`
	Enum    *Enum    `json:"enum,omitempty"`
	Message *Message `json:"message,omitempty"`
}

// Enum describes an enum type.
type Enum struct {
	Type   string       `json:"type"`
	Values []*EnumValue `json:"values"`
}

// EnumValue is one value of an enum, in declaration order.
type EnumValue struct {
	Name   string `json:"name"`
	Number int32  `json:"number"`
}

// Method is one method to list: its descriptor and the procedure names it
// answers to.
type Method struct {
	Desc protoreflect.MethodDescriptor
	URIs []string
}

// NewList describes methods, sorted by full name.
func NewList(methods []Method) *List {
	l := &List{Procedures: make([]*Procedure, 0, len(methods))}
	for _, m := range methods {
		l.Procedures = append(l.Procedures, Describe(m.Desc, m.URIs))
	}
	slices.SortStableFunc(l.Procedures, func(a, b *Procedure) int { return cmp.Compare(a.FullName, b.FullName) })
	return l
}

// Describe describes the method md, which answers to uris.
func Describe(md protoreflect.MethodDescriptor, uris []string) *Procedure {
	sd := md.Parent().(protoreflect.ServiceDescriptor)
	p := &Procedure{
		URIs:     append(make([]string, 0, len(uris)), uris...),
		Method:   "/" + string(sd.FullName()) + "/" + string(md.Name()),
		FullName: string(md.FullName()),
		Kind:     kind(md),
	}
	d := newDescriber()
	p.Request = d.message(md.Input())
	p.Response = d.message(md.Output())
	return p
}

// FullFields is how many fields a description holds before a type it has
// expanded already is marked shared instead of expanded again.
const FullFields = 10000

// describer expands the message types of one description.
type describer struct {
	path   map[protoreflect.FullName]bool // types being expanded above
	seen   map[protoreflect.FullName]bool // types expanded so far
	fields int                            // fields described so far
}

func newDescriber() *describer {
	return &describer{path: make(map[protoreflect.FullName]bool), seen: make(map[protoreflect.FullName]bool)}
}

func kind(md protoreflect.MethodDescriptor) string {
	switch {
	case md.IsStreamingClient() && md.IsStreamingServer():
		return "bidi"
	case md.IsStreamingServer():
		return "server-stream"
	case md.IsStreamingClient():
		return "client-stream"
	default:
		return "unary"
	}
}

// DescribeMessage describes the message type md and, recursively, the types
// of its fields.
func DescribeMessage(md protoreflect.MessageDescriptor) *Message {
	return newDescriber().message(md)
}

// message expands md, unless it is well known, being expanded above, or
// expanded before in a description past FullFields.
func (d *describer) message(md protoreflect.MessageDescriptor) *Message {
	name := md.FullName()
	m := &Message{Type: string(name)}
	if note, ok := wellKnown[name]; ok {
		m.WellKnown = note
		return m
	}
	if d.path[name] {
		m.Recursive = true
		return m
	}
	if d.fields >= FullFields && d.seen[name] {
		m.Shared = true
		return m
	}
	d.path[name], d.seen[name] = true, true
	defer delete(d.path, name)
	fds := md.Fields()
	m.Fields = make([]*Field, 0, fds.Len())
	for i := range fds.Len() {
		m.Fields = append(m.Fields, d.field(fds.Get(i)))
	}
	return m
}

func (d *describer) field(fd protoreflect.FieldDescriptor) *Field {
	d.fields++
	f := &Field{
		Name:      fd.JSONName(),
		ProtoName: string(fd.Name()),
		Number:    int32(fd.Number()),
	}
	if od := fd.ContainingOneof(); od != nil {
		if od.IsSynthetic() {
			f.Optional = true
		} else {
			f.Oneof = string(od.Name())
		}
	}
	if fd.IsMap() {
		f.Type = "map"
		f.Key = fd.MapKey().Kind().String()
		v := d.value(fd.MapValue())
		f.Value = &Value{Type: v.Type, JSON: v.JSON, Enum: v.Enum, Message: v.Message}
		return f
	}
	f.Repeated = fd.IsList()
	v := d.value(fd)
	f.Type, f.JSON, f.Enum, f.Message = v.Type, v.JSON, v.Enum, v.Message
	return f
}

// value describes the type of one value of fd (an element, for a list or a
// map value).
func (d *describer) value(fd protoreflect.FieldDescriptor) Value {
	switch fd.Kind() {
	case protoreflect.EnumKind:
		return Value{Type: "enum", Enum: describeEnum(fd.Enum())}
	case protoreflect.MessageKind, protoreflect.GroupKind:
		return Value{Type: "message", Message: d.message(fd.Message())}
	default:
		return Value{Type: fd.Kind().String(), JSON: scalarJSON[fd.Kind()]}
	}
}

func describeEnum(ed protoreflect.EnumDescriptor) *Enum {
	vds := ed.Values()
	e := &Enum{Type: string(ed.FullName()), Values: make([]*EnumValue, 0, vds.Len())}
	for i := range vds.Len() {
		vd := vds.Get(i)
		e.Values = append(e.Values, &EnumValue{Name: string(vd.Name()), Number: int32(vd.Number())})
	}
	return e
}

// scalarJSON notes the scalars the protobuf JSON mapping carries in a way a
// client would not guess.
var scalarJSON = map[protoreflect.Kind]string{
	protoreflect.Int64Kind:    "string",
	protoreflect.Sint64Kind:   "string",
	protoreflect.Sfixed64Kind: "string",
	protoreflect.Uint64Kind:   "string",
	protoreflect.Fixed64Kind:  "string",
	protoreflect.BytesKind:    "base64 string",
}

// wellKnown maps the well-known types to their JSON form.
var wellKnown = map[protoreflect.FullName]string{
	"google.protobuf.Timestamp":   "RFC 3339 string",
	"google.protobuf.Duration":    `string like "1.5s"`,
	"google.protobuf.Struct":      "JSON object",
	"google.protobuf.Value":       "any JSON value",
	"google.protobuf.ListValue":   "JSON array",
	"google.protobuf.FieldMask":   "string of comma-separated paths",
	"google.protobuf.Empty":       "{}",
	"google.protobuf.Any":         "object with @type",
	"google.protobuf.DoubleValue": "double",
	"google.protobuf.FloatValue":  "float",
	"google.protobuf.Int64Value":  "int64 as a string",
	"google.protobuf.UInt64Value": "uint64 as a string",
	"google.protobuf.Int32Value":  "int32",
	"google.protobuf.UInt32Value": "uint32",
	"google.protobuf.BoolValue":   "bool",
	"google.protobuf.StringValue": "string",
	"google.protobuf.BytesValue":  "base64 string",
}
