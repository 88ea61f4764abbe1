package transcode

import (
	"testing"

	"go.uber.org/goleak"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
	"google.golang.org/protobuf/types/known/anypb"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// testTypes are types built in code, as an upstream's descriptors arrive:
//
//	syntax = "proto2";
//	package tc.test;
//	import "google/protobuf/any.proto";
//	message Legacy {
//	  required int32 id = 1;
//	  optional string name = 2;
//	  extensions 100 to 200;
//	}
//	extend Legacy { optional string note = 100; }
//	message Envelope {
//	  repeated google.protobuf.Any items = 1;
//	  map<string, google.protobuf.Any> by_name = 2;
//	  optional google.protobuf.Any one = 3;
//	  optional Envelope next = 4;
//	}
var testFile, testTypes = func() (protoreflect.FileDescriptor, *dynamicpb.Types) {
	optional := descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum()
	required := descriptorpb.FieldDescriptorProto_LABEL_REQUIRED.Enum()
	repeated := descriptorpb.FieldDescriptorProto_LABEL_REPEATED.Enum()
	tInt32 := descriptorpb.FieldDescriptorProto_TYPE_INT32.Enum()
	tString := descriptorpb.FieldDescriptorProto_TYPE_STRING.Enum()
	tMessage := descriptorpb.FieldDescriptorProto_TYPE_MESSAGE.Enum()
	field := func(name string, num int32, label *descriptorpb.FieldDescriptorProto_Label, typ *descriptorpb.FieldDescriptorProto_Type, typeName string) *descriptorpb.FieldDescriptorProto {
		f := &descriptorpb.FieldDescriptorProto{Name: proto.String(name), Number: proto.Int32(num), Label: label, Type: typ}
		if typeName != "" {
			f.TypeName = proto.String(typeName)
		}
		return f
	}
	note := field("note", 100, optional, tString, "")
	note.Extendee = proto.String(".tc.test.Legacy")
	fdp := &descriptorpb.FileDescriptorProto{
		Name:       proto.String("tc/test/test.proto"),
		Package:    proto.String("tc.test"),
		Syntax:     proto.String("proto2"),
		Dependency: []string{"google/protobuf/any.proto"},
		MessageType: []*descriptorpb.DescriptorProto{
			{
				Name: proto.String("Legacy"),
				Field: []*descriptorpb.FieldDescriptorProto{
					field("id", 1, required, tInt32, ""),
					field("name", 2, optional, tString, ""),
				},
				ExtensionRange: []*descriptorpb.DescriptorProto_ExtensionRange{{Start: proto.Int32(100), End: proto.Int32(201)}},
			},
			{
				Name: proto.String("Envelope"),
				Field: []*descriptorpb.FieldDescriptorProto{
					field("items", 1, repeated, tMessage, ".google.protobuf.Any"),
					field("by_name", 2, repeated, tMessage, ".tc.test.Envelope.ByNameEntry"),
					field("one", 3, optional, tMessage, ".google.protobuf.Any"),
					field("next", 4, optional, tMessage, ".tc.test.Envelope"),
				},
				NestedType: []*descriptorpb.DescriptorProto{{
					Name: proto.String("ByNameEntry"),
					Field: []*descriptorpb.FieldDescriptorProto{
						field("key", 1, optional, tString, ""),
						field("value", 2, optional, tMessage, ".google.protobuf.Any"),
					},
					Options: &descriptorpb.MessageOptions{MapEntry: proto.Bool(true)},
				}},
			},
		},
		Extension: []*descriptorpb.FieldDescriptorProto{note},
	}
	fd, err := protodesc.NewFile(fdp, protoregistry.GlobalFiles)
	if err != nil {
		panic(err)
	}
	files := new(protoregistry.Files)
	if err := files.RegisterFile(fd); err != nil {
		panic(err)
	}
	return fd, dynamicpb.NewTypes(files)
}()

func testMessage(name protoreflect.Name) protoreflect.MessageDescriptor {
	return testFile.Messages().ByName(name)
}

// envelope builds a tc.test.Envelope.
func envelope(items []*anypb.Any, byName map[string]*anypb.Any, one *anypb.Any, next *dynamicpb.Message) *dynamicpb.Message {
	md := testMessage("Envelope")
	m := dynamicpb.NewMessage(md)
	if len(items) > 0 {
		l := m.Mutable(md.Fields().ByName("items")).List()
		for _, a := range items {
			l.Append(protoreflect.ValueOfMessage(a.ProtoReflect()))
		}
	}
	if len(byName) > 0 {
		mm := m.Mutable(md.Fields().ByName("by_name")).Map()
		for k, a := range byName {
			mm.Set(protoreflect.ValueOfString(k).MapKey(), protoreflect.ValueOfMessage(a.ProtoReflect()))
		}
	}
	if one != nil {
		m.Set(md.Fields().ByName("one"), protoreflect.ValueOfMessage(one.ProtoReflect()))
	}
	if next != nil {
		m.Set(md.Fields().ByName("next"), protoreflect.ValueOfMessage(next))
	}
	return m
}
