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
// WellKnown and Recursive applies.
type Message struct {
	// Type is the message's full name, "pkg.Msg".
	Type string `json:"type"`
	// WellKnown is the JSON form of a well-known type, whose fields are
	// not listed.
	WellKnown string `json:"wellKnown,omitempty"`
	// Recursive marks a type already being expanded on this path.
	Recursive bool `json:"recursive,omitempty"`
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
	return &Procedure{
		URIs:     append(make([]string, 0, len(uris)), uris...),
		Method:   "/" + string(sd.FullName()) + "/" + string(md.Name()),
		FullName: string(md.FullName()),
		Kind:     kind(md),
		Request:  DescribeMessage(md.Input()),
		Response: DescribeMessage(md.Output()),
	}
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
	return describeMessage(md, make(map[protoreflect.FullName]bool))
}

// describeMessage expands md; path holds the types being expanded above it.
func describeMessage(md protoreflect.MessageDescriptor, path map[protoreflect.FullName]bool) *Message {
	m := &Message{Type: string(md.FullName())}
	if note, ok := wellKnown[md.FullName()]; ok {
		m.WellKnown = note
		return m
	}
	if path[md.FullName()] {
		m.Recursive = true
		return m
	}
	path[md.FullName()] = true
	defer delete(path, md.FullName())
	fds := md.Fields()
	m.Fields = make([]*Field, 0, fds.Len())
	for i := range fds.Len() {
		m.Fields = append(m.Fields, describeField(fds.Get(i), path))
	}
	return m
}

func describeField(fd protoreflect.FieldDescriptor, path map[protoreflect.FullName]bool) *Field {
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
		v := describeValue(fd.MapValue(), path)
		f.Value = &Value{Type: v.Type, JSON: v.JSON, Enum: v.Enum, Message: v.Message}
		return f
	}
	f.Repeated = fd.IsList()
	v := describeValue(fd, path)
	f.Type, f.JSON, f.Enum, f.Message = v.Type, v.JSON, v.Enum, v.Message
	return f
}

// describeValue describes the type of one value of fd (an element, for a
// list or a map value).
func describeValue(fd protoreflect.FieldDescriptor, path map[protoreflect.FullName]bool) Value {
	switch fd.Kind() {
	case protoreflect.EnumKind:
		return Value{Type: "enum", Enum: describeEnum(fd.Enum())}
	case protoreflect.MessageKind, protoreflect.GroupKind:
		return Value{Type: "message", Message: describeMessage(fd.Message(), path)}
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
