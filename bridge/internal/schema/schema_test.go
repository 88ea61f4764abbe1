package schema

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	_ "google.golang.org/protobuf/types/known/emptypb"     // registers google/protobuf/empty.proto
	_ "google.golang.org/protobuf/types/known/fieldmaskpb" // registers google/protobuf/field_mask.proto

	bridgetestv1 "github.com/wampbridge/grpcwamp/gen/bridgetest/v1"
	demov1 "github.com/wampbridge/grpcwamp/gen/demo/v1"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// methods returns the methods of the first service of fd, in reverse
// declaration order (so that sorting shows), each answering to its full
// name only.
func methods(fd protoreflect.FileDescriptor) []Method {
	mds := fd.Services().Get(0).Methods()
	var ms []Method
	for i := mds.Len() - 1; i >= 0; i-- {
		md := mds.Get(i)
		ms = append(ms, Method{Desc: md, URIs: []string{string(md.FullName())}})
	}
	return ms
}

// TestGolden compares descriptions of the generated test and demo services
// with the JSON in testdata, as JSON values; -update rewrites the files.
func TestGolden(t *testing.T) {
	t.Parallel()
	echo := bridgetestv1.File_bridgetest_v1_test_proto.Services().Get(0).Methods().ByName("Echo")
	cases := []struct {
		golden string
		v      any
	}{
		{"echo.json", Describe(echo, []string{string(echo.FullName()), "/bridgetest.v1.TestService/Echo", "http://example.com/test#echo", "test.Echo"})},
		{"bridgetest_list.json", NewList(methods(bridgetestv1.File_bridgetest_v1_test_proto))},
		{"demo_list.json", NewList(methods(demov1.File_demo_v1_clock_proto))},
		{"empty_list.json", NewList(nil)},
	}
	for _, tc := range cases {
		t.Run(tc.golden, func(t *testing.T) {
			t.Parallel()
			got, err := json.MarshalIndent(tc.v, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", tc.golden)
			if *update {
				if err := os.WriteFile(path, append(got, '\n'), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (go test -run TestGolden -update creates it)", err)
			}
			assertJSON(t, got, want)
		})
	}
}

// TestDeterministic: two descriptions of one method are byte for byte equal.
func TestDeterministic(t *testing.T) {
	t.Parallel()
	a, err := json.Marshal(NewList(methods(bridgetestv1.File_bridgetest_v1_test_proto)))
	if err != nil {
		t.Fatal(err)
	}
	for range 10 {
		b, err := json.Marshal(NewList(methods(bridgetestv1.File_bridgetest_v1_test_proto)))
		if err != nil {
			t.Fatal(err)
		}
		if string(a) != string(b) {
			t.Fatalf("two descriptions differ:\n%s\n%s", a, b)
		}
	}
}

func assertJSON(t *testing.T, got, want []byte) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("got is not JSON: %v\n%s", err, got)
	}
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatalf("want is not JSON (test bug): %v\n%s", err, want)
	}
	if !reflect.DeepEqual(g, w) {
		t.Fatalf("descriptions differ\n got: %s\nwant: %s", got, want)
	}
}

// buildFile builds a proto3 file of package "rec" from message protos, in
// code, importing the well-known types it names.
func buildFile(t *testing.T, msgs []*descriptorpb.DescriptorProto, enums []*descriptorpb.EnumDescriptorProto, deps ...string) protoreflect.FileDescriptor {
	t.Helper()
	fdp := &descriptorpb.FileDescriptorProto{
		Name:        proto.String("rec/rec.proto"),
		Package:     proto.String("rec"),
		Syntax:      proto.String("proto3"),
		Dependency:  deps,
		MessageType: msgs,
		EnumType:    enums,
		Service: []*descriptorpb.ServiceDescriptorProto{{
			Name: proto.String("S"),
			Method: []*descriptorpb.MethodDescriptorProto{{
				Name:            proto.String("M"),
				InputType:       proto.String(".rec.Node"),
				OutputType:      proto.String(".google.protobuf.Empty"),
				ClientStreaming: proto.Bool(true),
			}},
		}},
	}
	fd, err := protodesc.NewFile(fdp, protoregistry.GlobalFiles)
	if err != nil {
		t.Fatalf("build rec.proto: %v", err)
	}
	return fd
}

func field(name string, number int32, typ descriptorpb.FieldDescriptorProto_Type, typeName string, label descriptorpb.FieldDescriptorProto_Label) *descriptorpb.FieldDescriptorProto {
	f := &descriptorpb.FieldDescriptorProto{
		Name:     proto.String(name),
		Number:   proto.Int32(number),
		Type:     typ.Enum(),
		Label:    label.Enum(),
		JsonName: proto.String(jsonName(name)),
	}
	if typeName != "" {
		f.TypeName = proto.String(typeName)
	}
	return f
}

func jsonName(s string) string {
	var b []byte
	up := false
	for i := range len(s) {
		if s[i] == '_' {
			up = true
			continue
		}
		c := s[i]
		if up && 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		up = false
		b = append(b, c)
	}
	return string(b)
}

const (
	optional = descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL
	repeated = descriptorpb.FieldDescriptorProto_LABEL_REPEATED
	tMessage = descriptorpb.FieldDescriptorProto_TYPE_MESSAGE
	tString  = descriptorpb.FieldDescriptorProto_TYPE_STRING
)

// TestRecursive: a message that contains itself, directly, through a list,
// a map and another message, is expanded once per path and then marked
// recursive; a type used twice side by side (not recursively) is expanded
// both times.
func TestRecursive(t *testing.T) {
	t.Parallel()
	entry := &descriptorpb.DescriptorProto{
		Name: proto.String("ByNameEntry"),
		Field: []*descriptorpb.FieldDescriptorProto{
			field("key", 1, tString, "", optional),
			field("value", 2, tMessage, ".rec.Node", optional),
		},
		Options: &descriptorpb.MessageOptions{MapEntry: proto.Bool(true)},
	}
	node := &descriptorpb.DescriptorProto{
		Name: proto.String("Node"),
		Field: []*descriptorpb.FieldDescriptorProto{
			field("next", 1, tMessage, ".rec.Node", optional),
			field("children", 2, tMessage, ".rec.Node", repeated),
			field("by_name", 3, tMessage, ".rec.Node.ByNameEntry", repeated),
			field("pair", 4, tMessage, ".rec.Pair", optional),
		},
		NestedType: []*descriptorpb.DescriptorProto{entry},
	}
	pair := &descriptorpb.DescriptorProto{
		Name: proto.String("Pair"),
		Field: []*descriptorpb.FieldDescriptorProto{
			field("left", 1, tMessage, ".rec.Leaf", optional),
			field("right", 2, tMessage, ".rec.Leaf", optional),
			field("back", 3, tMessage, ".rec.Node", optional),
		},
	}
	leaf := &descriptorpb.DescriptorProto{
		Name:  proto.String("Leaf"),
		Field: []*descriptorpb.FieldDescriptorProto{field("text", 1, tString, "", optional)},
	}
	fd := buildFile(t, []*descriptorpb.DescriptorProto{node, pair, leaf}, nil, "google/protobuf/empty.proto")
	got, err := json.Marshal(Describe(fd.Services().Get(0).Methods().Get(0), []string{"rec.S.M", "/rec.S/M"}))
	if err != nil {
		t.Fatal(err)
	}
	const nodeRef = `{"type":"rec.Node","recursive":true}`
	const leafMsg = `{"type":"rec.Leaf","fields":[{"name":"text","protoName":"text","number":1,"type":"string"}]}`
	want := `{
		"uris": ["rec.S.M", "/rec.S/M"],
		"method": "/rec.S/M",
		"fullName": "rec.S.M",
		"kind": "client-stream",
		"request": {"type": "rec.Node", "fields": [
			{"name": "next", "protoName": "next", "number": 1, "type": "message", "message": ` + nodeRef + `},
			{"name": "children", "protoName": "children", "number": 2, "type": "message", "repeated": true, "message": ` + nodeRef + `},
			{"name": "byName", "protoName": "by_name", "number": 3, "type": "map", "key": "string",
			 "value": {"type": "message", "message": ` + nodeRef + `}},
			{"name": "pair", "protoName": "pair", "number": 4, "type": "message", "message": {"type": "rec.Pair", "fields": [
				{"name": "left", "protoName": "left", "number": 1, "type": "message", "message": ` + leafMsg + `},
				{"name": "right", "protoName": "right", "number": 2, "type": "message", "message": ` + leafMsg + `},
				{"name": "back", "protoName": "back", "number": 3, "type": "message", "message": ` + nodeRef + `}
			]}}
		]},
		"response": {"type": "google.protobuf.Empty", "wellKnown": "{}"}
	}`
	assertJSON(t, got, []byte(want))

	// Pair on its own expands Node once, and Node's own pair field then
	// marks Pair as the recursion.
	pairMsg, err := json.Marshal(DescribeMessage(fd.Messages().ByName("Pair")))
	if err != nil {
		t.Fatal(err)
	}
	var p struct {
		Fields []struct {
			Message struct {
				Type      string `json:"type"`
				Recursive bool   `json:"recursive"`
				Fields    []struct {
					Name    string `json:"name"`
					Message *struct {
						Type      string `json:"type"`
						Recursive bool   `json:"recursive"`
					} `json:"message"`
				} `json:"fields"`
			} `json:"message"`
		} `json:"fields"`
	}
	if err := json.Unmarshal(pairMsg, &p); err != nil {
		t.Fatal(err)
	}
	back := p.Fields[2].Message
	if back.Type != "rec.Node" || back.Recursive || len(back.Fields) != 4 {
		t.Fatalf("Pair.back = %+v, want rec.Node expanded", back)
	}
	if inner := back.Fields[3].Message; inner == nil || inner.Type != "rec.Pair" || !inner.Recursive {
		t.Fatalf("Pair.back.pair = %+v, want rec.Pair marked recursive; all: %s", inner, pairMsg)
	}
}

// TestTypes: every scalar with its JSON note, every well-known type with
// its JSON form and no fields, and maps with non-string keys and enum
// values.
func TestTypes(t *testing.T) {
	t.Parallel()
	type scalar struct {
		typ  descriptorpb.FieldDescriptorProto_Type
		name string
		json string
	}
	scalars := []scalar{
		{descriptorpb.FieldDescriptorProto_TYPE_DOUBLE, "double", ""},
		{descriptorpb.FieldDescriptorProto_TYPE_FLOAT, "float", ""},
		{descriptorpb.FieldDescriptorProto_TYPE_INT64, "int64", "string"},
		{descriptorpb.FieldDescriptorProto_TYPE_UINT64, "uint64", "string"},
		{descriptorpb.FieldDescriptorProto_TYPE_INT32, "int32", ""},
		{descriptorpb.FieldDescriptorProto_TYPE_FIXED64, "fixed64", "string"},
		{descriptorpb.FieldDescriptorProto_TYPE_FIXED32, "fixed32", ""},
		{descriptorpb.FieldDescriptorProto_TYPE_BOOL, "bool", ""},
		{descriptorpb.FieldDescriptorProto_TYPE_STRING, "string", ""},
		{descriptorpb.FieldDescriptorProto_TYPE_BYTES, "bytes", "base64 string"},
		{descriptorpb.FieldDescriptorProto_TYPE_UINT32, "uint32", ""},
		{descriptorpb.FieldDescriptorProto_TYPE_SFIXED32, "sfixed32", ""},
		{descriptorpb.FieldDescriptorProto_TYPE_SFIXED64, "sfixed64", "string"},
		{descriptorpb.FieldDescriptorProto_TYPE_SINT32, "sint32", ""},
		{descriptorpb.FieldDescriptorProto_TYPE_SINT64, "sint64", "string"},
	}
	wkts := []struct{ name, json string }{
		{"google.protobuf.Timestamp", "RFC 3339 string"},
		{"google.protobuf.Duration", `string like "1.5s"`},
		{"google.protobuf.Struct", "JSON object"},
		{"google.protobuf.Value", "any JSON value"},
		{"google.protobuf.ListValue", "JSON array"},
		{"google.protobuf.FieldMask", "string of comma-separated paths"},
		{"google.protobuf.Empty", "{}"},
		{"google.protobuf.Any", "object with @type"},
		{"google.protobuf.DoubleValue", "double"},
		{"google.protobuf.FloatValue", "float"},
		{"google.protobuf.Int64Value", "int64 as a string"},
		{"google.protobuf.UInt64Value", "uint64 as a string"},
		{"google.protobuf.Int32Value", "int32"},
		{"google.protobuf.UInt32Value", "uint32"},
		{"google.protobuf.BoolValue", "bool"},
		{"google.protobuf.StringValue", "string"},
		{"google.protobuf.BytesValue", "base64 string"},
	}
	node := &descriptorpb.DescriptorProto{Name: proto.String("Node")}
	var want []map[string]any
	n := int32(0)
	for _, s := range scalars {
		n++
		name := "f_" + s.name
		node.Field = append(node.Field, field(name, n, s.typ, "", optional))
		f := map[string]any{"name": jsonName(name), "protoName": name, "number": float64(n), "type": s.name}
		if s.json != "" {
			f["json"] = s.json
		}
		want = append(want, f)
	}
	for i, w := range wkts {
		n++
		name := "w_" + string(rune('a'+i))
		node.Field = append(node.Field, field(name, n, tMessage, "."+w.name, optional))
		want = append(want, map[string]any{"name": jsonName(name), "protoName": name, "number": float64(n), "type": "message",
			"message": map[string]any{"type": w.name, "wellKnown": w.json}})
	}
	// map<sint64, Mood> and a repeated enum.
	n++
	node.NestedType = []*descriptorpb.DescriptorProto{{
		Name: proto.String("MoodsEntry"),
		Field: []*descriptorpb.FieldDescriptorProto{
			field("key", 1, descriptorpb.FieldDescriptorProto_TYPE_SINT64, "", optional),
			field("value", 2, descriptorpb.FieldDescriptorProto_TYPE_ENUM, ".rec.Mood", optional),
		},
		Options: &descriptorpb.MessageOptions{MapEntry: proto.Bool(true)},
	}}
	mood := map[string]any{"type": "rec.Mood", "values": []any{
		map[string]any{"name": "MOOD_UNSPECIFIED", "number": 0.0},
		map[string]any{"name": "MOOD_GOOD", "number": 5.0},
	}}
	node.Field = append(node.Field, field("moods", n, tMessage, ".rec.Node.MoodsEntry", repeated))
	want = append(want, map[string]any{"name": "moods", "protoName": "moods", "number": float64(n), "type": "map", "key": "sint64",
		"value": map[string]any{"type": "enum", "enum": mood}})
	n++
	node.Field = append(node.Field, field("mood_list", n, descriptorpb.FieldDescriptorProto_TYPE_ENUM, ".rec.Mood", repeated))
	want = append(want, map[string]any{"name": "moodList", "protoName": "mood_list", "number": float64(n), "type": "enum", "repeated": true, "enum": mood})

	enum := &descriptorpb.EnumDescriptorProto{
		Name: proto.String("Mood"),
		Value: []*descriptorpb.EnumValueDescriptorProto{
			{Name: proto.String("MOOD_UNSPECIFIED"), Number: proto.Int32(0)},
			{Name: proto.String("MOOD_GOOD"), Number: proto.Int32(5)},
		},
	}
	fd := buildFile(t, []*descriptorpb.DescriptorProto{node}, []*descriptorpb.EnumDescriptorProto{enum},
		"google/protobuf/timestamp.proto", "google/protobuf/duration.proto", "google/protobuf/struct.proto",
		"google/protobuf/field_mask.proto", "google/protobuf/empty.proto", "google/protobuf/any.proto",
		"google/protobuf/wrappers.proto")
	got, err := json.Marshal(DescribeMessage(fd.Messages().ByName("Node")))
	if err != nil {
		t.Fatal(err)
	}
	wantJSON, err := json.Marshal(map[string]any{"type": "rec.Node", "fields": want})
	if err != nil {
		t.Fatal(err)
	}
	assertJSON(t, got, wantJSON)

	// A well-known type described on its own is not expanded either.
	got, err = json.Marshal(DescribeMessage(fd.Messages().ByName("Node").Fields().ByName("w_a").Message()))
	if err != nil {
		t.Fatal(err)
	}
	assertJSON(t, got, []byte(`{"type":"google.protobuf.Timestamp","wellKnown":"RFC 3339 string"}`))
}

// dag builds rec.Node with levels levels of 4 fields below it, every field
// of a level of the same type: expanded at every use, its description has
// 4 + 4^2 + ... + 4^levels fields.
func dag(t *testing.T, levels int) protoreflect.MethodDescriptor {
	t.Helper()
	name := func(i int) string {
		if i == 0 {
			return "Node"
		}
		return fmt.Sprint("L", i)
	}
	var msgs []*descriptorpb.DescriptorProto
	for i := range levels {
		m := &descriptorpb.DescriptorProto{Name: proto.String(name(i))}
		for j, f := range []string{"a", "b", "c", "d"} {
			m.Field = append(m.Field, field(f, int32(j+1), tMessage, ".rec."+name(i+1), optional))
		}
		msgs = append(msgs, m)
	}
	msgs = append(msgs, &descriptorpb.DescriptorProto{
		Name:  proto.String(name(levels)),
		Field: []*descriptorpb.FieldDescriptorProto{field("text", 1, tString, "", optional)},
	})
	return buildFile(t, msgs, nil, "google/protobuf/empty.proto").Services().Get(0).Methods().Get(0)
}

// walk visits m and the messages of its fields depth first, in document
// order, and counts the fields.
func walk(m *Message, visit func(*Message)) (fields int) {
	if m == nil {
		return 0
	}
	visit(m)
	for _, f := range m.Fields {
		fields++
		fields += walk(f.Message, visit)
		if f.Value != nil {
			fields += walk(f.Value.Message, visit)
		}
	}
	return fields
}

// TestSharedTypes: a description expands every use of a type up to
// FullFields fields, and past that marks a type expanded earlier as shared,
// so that types sharing others do not grow it exponentially.
func TestSharedTypes(t *testing.T) {
	t.Parallel()
	t.Run("small", func(t *testing.T) {
		t.Parallel()
		p := Describe(dag(t, 4), nil)
		shared := 0
		fields := walk(p.Request, func(m *Message) {
			if m.Shared {
				shared++
			}
		})
		if want := 4 + 16 + 64 + 256 + 256; fields != want || shared != 0 {
			t.Errorf("4 levels: %d fields, %d shared; want %d, every use expanded", fields, shared, want)
		}
	})
	t.Run("exponential", func(t *testing.T) {
		t.Parallel()
		const levels = 9 // 4 + ... + 4^9 + 4^9 = 611 668 fields if every use were expanded
		p := Describe(dag(t, levels), nil)
		expanded := make(map[string]bool)
		shared := 0
		fields := walk(p.Request, func(m *Message) {
			switch {
			case m.Shared:
				shared++
				if !expanded[m.Type] {
					t.Errorf("%s is marked shared before its expansion", m.Type)
				}
			case m.Fields != nil:
				expanded[m.Type] = true
			}
		})
		// Each type is expanded once more, at most, after the limit.
		if limit := FullFields + 4*levels + 1; fields > limit || fields < FullFields || shared == 0 {
			t.Errorf("%d levels: %d fields, %d shared; want between %d and %d fields and some shared",
				levels, fields, shared, FullFields, limit)
		}
		b, err := json.Marshal(p)
		t.Logf("%d levels: %d fields, %d shared, %d bytes", levels, fields, shared, len(b))
		if err != nil || len(b) > 2<<20 {
			t.Errorf("description: %d bytes, %v; want at most 2 MiB", len(b), err)
		}
	})
}

// TestSharedTypesBoundary pins where sharing starts: a type used again
// once FullFields fields are described is shared, one field earlier it is
// expanded. Node is a Leaf, n strings, then a Leaf again.
func TestSharedTypesBoundary(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		strings int
		shared  bool
	}{
		{FullFields - 4, false}, // b is field FullFields-1
		{FullFields - 3, true},  // b is field FullFields
	} {
		node := &descriptorpb.DescriptorProto{Name: proto.String("Node")}
		node.Field = append(node.Field, field("a", 1, tMessage, ".rec.Leaf", optional))
		for i := range tc.strings {
			node.Field = append(node.Field, field(fmt.Sprint("s", i), int32(i+2), tString, "", optional))
		}
		node.Field = append(node.Field, field("b", int32(tc.strings+2), tMessage, ".rec.Leaf", optional))
		leaf := &descriptorpb.DescriptorProto{
			Name:  proto.String("Leaf"),
			Field: []*descriptorpb.FieldDescriptorProto{field("text", 1, tString, "", optional)},
		}
		fd := buildFile(t, []*descriptorpb.DescriptorProto{node, leaf}, nil, "google/protobuf/empty.proto")
		p := Describe(fd.Services().Get(0).Methods().Get(0), nil)
		b := p.Request.Fields[len(p.Request.Fields)-1].Message
		if b.Shared != tc.shared || (b.Fields == nil) != tc.shared {
			t.Errorf("%d strings: b shared %v with %d fields, want shared %v", tc.strings, b.Shared, len(b.Fields), tc.shared)
		}
	}
}
