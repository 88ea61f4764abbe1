package transcode

import (
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"

	_ "google.golang.org/protobuf/types/known/emptypb"
	_ "google.golang.org/protobuf/types/known/fieldmaskpb"
)

// Descriptor building blocks shared by the wire tests and FuzzWireJSON.

type fdp = descriptorpb.FieldDescriptorProto

const (
	tDouble   = descriptorpb.FieldDescriptorProto_TYPE_DOUBLE
	tFloat    = descriptorpb.FieldDescriptorProto_TYPE_FLOAT
	tInt64    = descriptorpb.FieldDescriptorProto_TYPE_INT64
	tUint64   = descriptorpb.FieldDescriptorProto_TYPE_UINT64
	tInt32    = descriptorpb.FieldDescriptorProto_TYPE_INT32
	tFixed64  = descriptorpb.FieldDescriptorProto_TYPE_FIXED64
	tFixed32  = descriptorpb.FieldDescriptorProto_TYPE_FIXED32
	tBool     = descriptorpb.FieldDescriptorProto_TYPE_BOOL
	tString   = descriptorpb.FieldDescriptorProto_TYPE_STRING
	tGroup    = descriptorpb.FieldDescriptorProto_TYPE_GROUP
	tMessage  = descriptorpb.FieldDescriptorProto_TYPE_MESSAGE
	tBytes    = descriptorpb.FieldDescriptorProto_TYPE_BYTES
	tUint32   = descriptorpb.FieldDescriptorProto_TYPE_UINT32
	tEnum     = descriptorpb.FieldDescriptorProto_TYPE_ENUM
	tSfixed32 = descriptorpb.FieldDescriptorProto_TYPE_SFIXED32
	tSfixed64 = descriptorpb.FieldDescriptorProto_TYPE_SFIXED64
	tSint32   = descriptorpb.FieldDescriptorProto_TYPE_SINT32
	tSint64   = descriptorpb.FieldDescriptorProto_TYPE_SINT64
)

// scalarTypes are the scalar field types (all but group, message, enum).
var scalarTypes = []descriptorpb.FieldDescriptorProto_Type{
	tDouble, tFloat, tInt64, tUint64, tInt32, tFixed64, tFixed32, tBool,
	tString, tBytes, tUint32, tSfixed32, tSfixed64, tSint32, tSint64,
}

// keyTypes are the types a map key may have.
var keyTypes = []descriptorpb.FieldDescriptorProto_Type{
	tInt64, tUint64, tInt32, tFixed64, tFixed32, tBool, tString,
	tUint32, tSfixed32, tSfixed64, tSint32, tSint64,
}

// wktNames are the well-known message types, with the files declaring them.
var wktNames = [][2]string{
	{".google.protobuf.Timestamp", "google/protobuf/timestamp.proto"},
	{".google.protobuf.Duration", "google/protobuf/duration.proto"},
	{".google.protobuf.BoolValue", "google/protobuf/wrappers.proto"},
	{".google.protobuf.Int32Value", "google/protobuf/wrappers.proto"},
	{".google.protobuf.Int64Value", "google/protobuf/wrappers.proto"},
	{".google.protobuf.UInt32Value", "google/protobuf/wrappers.proto"},
	{".google.protobuf.UInt64Value", "google/protobuf/wrappers.proto"},
	{".google.protobuf.FloatValue", "google/protobuf/wrappers.proto"},
	{".google.protobuf.DoubleValue", "google/protobuf/wrappers.proto"},
	{".google.protobuf.StringValue", "google/protobuf/wrappers.proto"},
	{".google.protobuf.BytesValue", "google/protobuf/wrappers.proto"},
	{".google.protobuf.Struct", "google/protobuf/struct.proto"},
	{".google.protobuf.Value", "google/protobuf/struct.proto"},
	{".google.protobuf.ListValue", "google/protobuf/struct.proto"},
	{".google.protobuf.FieldMask", "google/protobuf/field_mask.proto"},
	{".google.protobuf.Empty", "google/protobuf/empty.proto"},
	{".google.protobuf.Any", "google/protobuf/any.proto"},
}

var wktDeps = []string{
	"google/protobuf/timestamp.proto", "google/protobuf/duration.proto", "google/protobuf/wrappers.proto",
	"google/protobuf/struct.proto", "google/protobuf/field_mask.proto", "google/protobuf/empty.proto",
	"google/protobuf/any.proto",
}

func newField(name string, num int32, typ descriptorpb.FieldDescriptorProto_Type, typeName string) *fdp {
	f := &fdp{
		Name:   proto.String(name),
		Number: proto.Int32(num),
		Label:  descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum(),
		Type:   typ.Enum(),
	}
	if typeName != "" {
		f.TypeName = proto.String(typeName)
	}
	return f
}

func repeated(f *fdp) *fdp {
	f.Label = descriptorpb.FieldDescriptorProto_LABEL_REPEATED.Enum()
	return f
}

// camel is protoc's map entry naming: foo_bar → FooBar.
func camel(s string) string {
	var b strings.Builder
	up := true
	for _, c := range s {
		switch {
		case c == '_':
			up = true
		case up && 'a' <= c && c <= 'z':
			b.WriteRune(c - 'a' + 'A')
			up = false
		default:
			b.WriteRune(c)
			up = false
		}
	}
	return b.String()
}

// addMap adds map field name to msg (whose full name is full) with key and
// value fields, declaring its entry type.
func addMap(msg *descriptorpb.DescriptorProto, full, name string, num int32, key, val *fdp) {
	entry := camel(name) + "Entry"
	key.Name, key.Number, key.JsonName = proto.String("key"), proto.Int32(1), nil
	val.Name, val.Number, val.JsonName = proto.String("value"), proto.Int32(2), nil
	key.Label = descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum()
	val.Label = descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum()
	msg.NestedType = append(msg.NestedType, &descriptorpb.DescriptorProto{
		Name:    proto.String(entry),
		Field:   []*fdp{key, val},
		Options: &descriptorpb.MessageOptions{MapEntry: proto.Bool(true)},
	})
	msg.Field = append(msg.Field, repeated(newField(name, num, tMessage, full+"."+entry)))
}

// buildFiles builds files in order against GlobalFiles (for the
// well-known types) and returns them with their types.
func buildFiles(fdps ...*descriptorpb.FileDescriptorProto) ([]protoreflect.FileDescriptor, *dynamicpb.Types, error) {
	files := new(protoregistry.Files)
	var out []protoreflect.FileDescriptor
	for _, p := range fdps {
		fd, err := protodesc.NewFile(p, resolverChain{files, protoregistry.GlobalFiles})
		if err != nil {
			return nil, nil, err
		}
		if err := files.RegisterFile(fd); err != nil {
			return nil, nil, err
		}
		out = append(out, fd)
	}
	return out, dynamicpb.NewTypes(files), nil
}

// resolverChain resolves files and descriptors from a, then b.
type resolverChain [2]*protoregistry.Files

func (r resolverChain) FindFileByPath(path string) (protoreflect.FileDescriptor, error) {
	if fd, err := r[0].FindFileByPath(path); err == nil {
		return fd, nil
	}
	return r[1].FindFileByPath(path)
}

func (r resolverChain) FindDescriptorByName(name protoreflect.FullName) (protoreflect.Descriptor, error) {
	if d, err := r[0].FindDescriptorByName(name); err == nil {
		return d, nil
	}
	return r[1].FindDescriptorByName(name)
}

// wireTestFiles are the types of the table tests:
//
//	tc/wire/all.proto (proto3): enum Color (with an alias), message All with
//	a field of every kind, optional, repeated, oneof and map fields of many
//	key and value kinds, every well-known type, a custom json_name and a
//	large field number; message Plain, of singular fields in number order.
//	tc/wire/p2.proto (proto2): message P2 with defaults, a closed enum, a
//	group, extension ranges; message Req with a required field.
var wireTestFiles, wireTestTypes = func() ([]protoreflect.FileDescriptor, *dynamicpb.Types) {
	all := &descriptorpb.DescriptorProto{Name: proto.String("All")}
	const full = ".tc.wire.All"
	add := func(f *fdp) { all.Field = append(all.Field, f) }
	for i, typ := range scalarTypes {
		add(newField("f_"+strings.ToLower(strings.TrimPrefix(typ.String(), "TYPE_")), int32(1+i), typ, ""))
		add(repeated(newField("r_"+strings.ToLower(strings.TrimPrefix(typ.String(), "TYPE_")), int32(21+i), typ, "")))
	}
	add(newField("f_enum", 16, tEnum, ".tc.wire.Color"))
	add(newField("f_msg", 17, tMessage, full))
	add(repeated(newField("r_enum", 36, tEnum, ".tc.wire.Color")))
	add(repeated(newField("r_msg", 37, tMessage, full)))
	// Real oneof first, synthetic ones after.
	all.OneofDecl = append(all.OneofDecl, &descriptorpb.OneofDescriptorProto{Name: proto.String("choice")})
	for i, f := range []*fdp{
		newField("c_string", 50, tString, ""), newField("c_int32", 51, tInt32, ""),
		newField("c_msg", 52, tMessage, full), newField("c_null", 53, tEnum, ".google.protobuf.NullValue"),
		newField("c_enum", 54, tEnum, ".tc.wire.Color"),
	} {
		_ = i
		f.OneofIndex = proto.Int32(0)
		add(f)
	}
	for i, f := range []*fdp{
		newField("opt_int32", 40, tInt32, ""), newField("opt_string", 41, tString, ""),
		newField("opt_enum", 42, tEnum, ".tc.wire.Color"), newField("opt_msg", 43, tMessage, full),
		newField("opt_double", 44, tDouble, ""),
	} {
		all.OneofDecl = append(all.OneofDecl, &descriptorpb.OneofDescriptorProto{Name: proto.String("_" + f.GetName())})
		f.OneofIndex = proto.Int32(int32(1 + i))
		f.Proto3Optional = proto.Bool(true)
		add(f)
	}
	for i, k := range keyTypes {
		name := "m_" + strings.ToLower(strings.TrimPrefix(k.String(), "TYPE_"))
		vt := scalarTypes[(i*7)%len(scalarTypes)]
		addMap(all, full, name, int32(60+i), newField("", 0, k, ""), newField("", 0, vt, ""))
	}
	addMap(all, full, "m_msg", 75, newField("", 0, tString, ""), newField("", 0, tMessage, full))
	addMap(all, full, "m_enum", 76, newField("", 0, tInt32, ""), newField("", 0, tEnum, ".tc.wire.Color"))
	addMap(all, full, "m_value", 77, newField("", 0, tString, ""), newField("", 0, tMessage, ".google.protobuf.Value"))
	addMap(all, full, "m_null", 78, newField("", 0, tBool, ""), newField("", 0, tEnum, ".google.protobuf.NullValue"))
	for i, w := range wktNames {
		name := "w_" + strings.ToLower(strings.TrimPrefix(w[0], ".google.protobuf."))
		add(newField(name, int32(80+i), tMessage, w[0]))
		add(repeated(newField("r"+name, int32(100+i), tMessage, w[0])))
	}
	add(newField("null", 120, tEnum, ".google.protobuf.NullValue"))
	add(repeated(newField("r_null", 121, tEnum, ".google.protobuf.NullValue")))
	custom := newField("custom_name", 122, tInt32, "")
	custom.JsonName = proto.String("Custom \"Name\"\u00e9")
	add(custom)
	add(newField("far", 150000, tString, ""))

	// Plain is what wireState.inOrder renders in one pass: no list, map,
	// real oneof or well-known type, fields declared in number order.
	plain := &descriptorpb.DescriptorProto{Name: proto.String("Plain")}
	plain.Field = []*fdp{
		newField("i64", 1, tInt64, ""), newField("dbl", 2, tDouble, ""), newField("i32", 3, tInt32, ""),
		newField("str", 4, tString, ""), newField("byt", 5, tBytes, ""), newField("flag", 6, tBool, ""),
		newField("color", 7, tEnum, ".tc.wire.Color"), newField("child", 8, tMessage, ".tc.wire.Plain"),
		newField("opt", 9, tInt32, ""), newField("far", 300, tString, ""),
	}
	plain.Field[8].OneofIndex, plain.Field[8].Proto3Optional = proto.Int32(0), proto.Bool(true)
	plain.OneofDecl = []*descriptorpb.OneofDescriptorProto{{Name: proto.String("_opt")}}

	allFile := &descriptorpb.FileDescriptorProto{
		Name:       proto.String("tc/wire/all.proto"),
		Package:    proto.String("tc.wire"),
		Syntax:     proto.String("proto3"),
		Dependency: wktDeps,
		EnumType: []*descriptorpb.EnumDescriptorProto{{
			Name: proto.String("Color"),
			Value: []*descriptorpb.EnumValueDescriptorProto{
				{Name: proto.String("COLOR_UNSPECIFIED"), Number: proto.Int32(0)},
				{Name: proto.String("RED"), Number: proto.Int32(1)},
				{Name: proto.String("GREEN"), Number: proto.Int32(2)},
				{Name: proto.String("CRIMSON"), Number: proto.Int32(1)},
				{Name: proto.String("FAR"), Number: proto.Int32(100000)},
			},
			Options: &descriptorpb.EnumOptions{AllowAlias: proto.Bool(true)},
		}},
		MessageType: []*descriptorpb.DescriptorProto{all, plain},
	}

	p2 := &descriptorpb.DescriptorProto{Name: proto.String("P2")}
	withDefault := func(f *fdp, d string) *fdp { f.DefaultValue = proto.String(d); return f }
	p2.Field = []*fdp{
		withDefault(newField("a", 1, tInt32, ""), "7"),
		withDefault(newField("s", 2, tString, ""), "x\"y"),
		newField("lvl", 3, tEnum, ".tc.wire.Level"),
		repeated(newField("unpacked", 4, tInt32, "")),
		repeated(newField("packed", 5, tSint64, "")),
		newField("child", 6, tMessage, ".tc.wire.P2"),
		newField("grp", 8, tGroup, ".tc.wire.P2.Grp"),
		withDefault(newField("bb", 9, tBytes, ""), "ab"),
		withDefault(newField("d", 10, tDouble, ""), "inf"),
		withDefault(newField("fl", 11, tFloat, ""), "nan"),
		newField("req", 12, tMessage, ".tc.wire.Req"),
		newField("plain", 13, tString, ""),
	}
	p2.Field[4].Options = &descriptorpb.FieldOptions{Packed: proto.Bool(true)}
	p2.NestedType = []*descriptorpb.DescriptorProto{{
		Name:  proto.String("Grp"),
		Field: []*fdp{newField("g", 1, tInt32, "")},
	}}
	addMap(p2, ".tc.wire.P2", "levels", 7, newField("", 0, tString, ""), newField("", 0, tEnum, ".tc.wire.Level2"))
	p2.ExtensionRange = []*descriptorpb.DescriptorProto_ExtensionRange{{Start: proto.Int32(100), End: proto.Int32(200)}}
	req := &descriptorpb.DescriptorProto{
		Name:  proto.String("Req"),
		Field: []*fdp{newField("id", 1, tInt32, "")},
	}
	req.Field[0].Label = descriptorpb.FieldDescriptorProto_LABEL_REQUIRED.Enum()
	p2File := &descriptorpb.FileDescriptorProto{
		Name:    proto.String("tc/wire/p2.proto"),
		Package: proto.String("tc.wire"),
		Syntax:  proto.String("proto2"),
		EnumType: []*descriptorpb.EnumDescriptorProto{{
			Name: proto.String("Level"),
			Value: []*descriptorpb.EnumValueDescriptorProto{
				{Name: proto.String("LOW"), Number: proto.Int32(5)},
				{Name: proto.String("HIGH"), Number: proto.Int32(10)},
			},
		}, {
			Name: proto.String("Level2"),
			Value: []*descriptorpb.EnumValueDescriptorProto{
				{Name: proto.String("ZERO"), Number: proto.Int32(0)},
				{Name: proto.String("ONE"), Number: proto.Int32(1)},
			},
		}},
		MessageType: []*descriptorpb.DescriptorProto{p2, req},
	}
	files, types, err := buildFiles(allFile, p2File)
	if err != nil {
		panic(err)
	}
	return files, types
}()

func wireMessage(name protoreflect.FullName) protoreflect.MessageDescriptor {
	for _, fd := range wireTestFiles {
		if md := fd.Messages().ByName(name.Name()); md != nil && md.FullName() == name {
			return md
		}
	}
	panic("no message " + string(name))
}
