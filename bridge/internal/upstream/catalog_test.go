package upstream_test

import (
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/wampbridge/grpcwamp/bridge/internal/upstream"
	bridgev1 "github.com/wampbridge/grpcwamp/gen/bridge/v1"
	bridgetestv1 "github.com/wampbridge/grpcwamp/gen/bridgetest/v1"
	demov1 "github.com/wampbridge/grpcwamp/gen/demo/v1"
)

// registerAll registers fds and their imports in a new registry.
func registerAll(t *testing.T, fds ...protoreflect.FileDescriptor) *protoregistry.Files {
	t.Helper()
	files := new(protoregistry.Files)
	for _, fd := range withDeps(nil, fds...) {
		if err := files.RegisterFile(fd); err != nil {
			t.Fatal(err)
		}
	}
	return files
}

func servicesOf(fds ...protoreflect.FileDescriptor) []protoreflect.ServiceDescriptor {
	var sds []protoreflect.ServiceDescriptor
	for _, fd := range fds {
		for i := range fd.Services().Len() {
			sds = append(sds, fd.Services().Get(i))
		}
	}
	return sds
}

func generatedCatalog(t *testing.T) *upstream.Catalog {
	t.Helper()
	fds := []protoreflect.FileDescriptor{bridgetestv1.File_bridgetest_v1_test_proto, demov1.File_demo_v1_clock_proto}
	c, err := upstream.NewCatalog(registerAll(t, fds...), servicesOf(fds...))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// checkCatalog checks the methods of TestService and ClockService as every
// source must present them.
func checkCatalog(t *testing.T, c *upstream.Catalog) {
	t.Helper()
	want := []struct {
		fullName string
		kind     upstream.Kind
		uris     []string
	}{
		{"bridgetest.v1.TestService.Chat", upstream.BidiStream,
			[]string{"bridgetest.v1.TestService.Chat", "/bridgetest.v1.TestService/Chat", "test.Chat"}},
		{"bridgetest.v1.TestService.Echo", upstream.Unary,
			[]string{"bridgetest.v1.TestService.Echo", "/bridgetest.v1.TestService/Echo", "http://example.com/test#echo", "test.Echo"}},
		{"bridgetest.v1.TestService.Fail", upstream.Unary,
			[]string{"bridgetest.v1.TestService.Fail", "/bridgetest.v1.TestService/Fail", "test.Fail"}},
		{"bridgetest.v1.TestService.Stream", upstream.ServerStream,
			[]string{"bridgetest.v1.TestService.Stream", "/bridgetest.v1.TestService/Stream", "test.Stream"}},
		{"bridgetest.v1.TestService.Sum", upstream.ClientStream,
			[]string{"bridgetest.v1.TestService.Sum", "/bridgetest.v1.TestService/Sum", "test.Sum"}},
		{"demo.v1.ClockService.GetProgressiveTime", upstream.ServerStream,
			[]string{"demo.v1.ClockService.GetProgressiveTime", "/demo.v1.ClockService/GetProgressiveTime", "GetProgressiveTime"}},
		{"demo.v1.ClockService.GetTime", upstream.Unary,
			[]string{"demo.v1.ClockService.GetTime", "/demo.v1.ClockService/GetTime", "GetTime"}},
	}
	ms := c.Methods()
	if len(ms) != len(want) {
		var names []string
		for _, m := range ms {
			names = append(names, m.FullName)
		}
		t.Fatalf("methods = %q, want %d (health and reflection left out)", names, len(want))
	}
	for i, w := range want {
		m := ms[i]
		if m.FullName != w.fullName || m.Kind != w.kind || !slices.Equal(m.URIs, w.uris) {
			t.Errorf("method %d = %s %v %q, want %s %v %q", i, m.FullName, m.Kind, m.URIs, w.fullName, w.kind, w.uris)
		}
		if m.Path != w.uris[1] || string(m.Desc.FullName()) != w.fullName {
			t.Errorf("method %s: path %q, descriptor %s", w.fullName, m.Path, m.Desc.FullName())
		}
		for _, u := range w.uris {
			if got, ok := c.Lookup(u); !ok || got != m {
				t.Errorf("Lookup(%q) = %v, %v; want %s", u, got, ok, w.fullName)
			}
		}
	}
	for _, name := range []string{"grpc.health.v1.Health.Check", "/grpc.health.v1.Health/Check",
		"grpc.reflection.v1.ServerReflection.ServerReflectionInfo", "Echo", "bridgetest.v1.TestService"} {
		if m, ok := c.Lookup(name); ok {
			t.Errorf("Lookup(%q) = %s, want none", name, m.FullName)
		}
	}
	for _, name := range []protoreflect.FullName{"bridgetest.v1.EchoRequest", "google.protobuf.Timestamp", "demo.v1.GetTimeResponse"} {
		if _, err := c.Types().FindMessageByName(name); err != nil {
			t.Errorf("Types().FindMessageByName(%s): %v", name, err)
		}
	}
}

func TestCatalogGenerated(t *testing.T) {
	t.Parallel()
	checkCatalog(t, generatedCatalog(t))
}

func TestKind(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		k       upstream.Kind
		s       string
		streams bool
	}{
		{upstream.Unary, "unary", false},
		{upstream.ServerStream, "server streaming", true},
		{upstream.ClientStream, "client streaming", false},
		{upstream.BidiStream, "bidi streaming", true},
		{upstream.Kind(42), "Kind(42)", false},
	} {
		if got := tc.k.String(); got != tc.s {
			t.Errorf("Kind(%d).String() = %q, want %q", int(tc.k), got, tc.s)
		}
		if got := tc.k.ServerStreams(); got != tc.streams {
			t.Errorf("%v.ServerStreams() = %v, want %v", tc.k, got, tc.streams)
		}
	}
}

// TestCatalogUnknownOptions builds the test file from bytes parsed without
// the bridge.v1 extensions known, so that its options are unknown fields.
func TestCatalogUnknownOptions(t *testing.T) {
	t.Parallel()
	b, err := proto.Marshal(protodesc.ToFileDescriptorProto(bridgetestv1.File_bridgetest_v1_test_proto))
	if err != nil {
		t.Fatal(err)
	}
	fdp := new(descriptorpb.FileDescriptorProto)
	if err := (proto.UnmarshalOptions{Resolver: new(protoregistry.Types)}).Unmarshal(b, fdp); err != nil {
		t.Fatal(err)
	}
	svc := fdp.GetService()[0]
	if proto.HasExtension(svc.GetOptions(), bridgev1.E_Prefix) || len(svc.GetOptions().ProtoReflect().GetUnknown()) == 0 {
		t.Fatal("setup: the prefix option should be an unknown field")
	}
	// The imports come from the generated files; test.proto from the bytes.
	files := new(protoregistry.Files)
	imps := bridgetestv1.File_bridgetest_v1_test_proto.Imports()
	for i := range imps.Len() {
		for _, fd := range withDeps(nil, imps.Get(i).FileDescriptor) {
			if _, err := files.FindFileByPath(fd.Path()); err != nil {
				if err := files.RegisterFile(fd); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	fd, err := protodesc.NewFile(fdp, files)
	if err != nil {
		t.Fatal(err)
	}
	if err := files.RegisterFile(fd); err != nil {
		t.Fatal(err)
	}
	c, err := upstream.NewCatalog(files, servicesOf(fd))
	if err != nil {
		t.Fatal(err)
	}
	for _, uri := range []string{"http://example.com/test#echo", "test.Echo", "test.Chat"} {
		if _, ok := c.Lookup(uri); !ok {
			t.Errorf("Lookup(%q) failed", uri)
		}
	}
}

// conflictFile declares services a.v1.One and a.v1.Two whose methods carry
// the given procedure options.
func conflictFile(t *testing.T, procOne, procTwo string) (*protoregistry.Files, protoreflect.FileDescriptor) {
	t.Helper()
	method := func(proc string) *descriptorpb.MethodDescriptorProto {
		opts := new(descriptorpb.MethodOptions)
		proto.SetExtension(opts, bridgev1.E_Procedure, proc)
		return &descriptorpb.MethodDescriptorProto{
			Name:       proto.String("M"),
			InputType:  proto.String(".a.v1.Msg"),
			OutputType: proto.String(".a.v1.Msg"),
			Options:    opts,
		}
	}
	fdp := &descriptorpb.FileDescriptorProto{
		Name:        proto.String("a/v1/a.proto"),
		Package:     proto.String("a.v1"),
		Syntax:      proto.String("proto3"),
		Dependency:  []string{"bridge/v1/options.proto"},
		MessageType: []*descriptorpb.DescriptorProto{{Name: proto.String("Msg")}},
		Service: []*descriptorpb.ServiceDescriptorProto{
			{Name: proto.String("One"), Method: []*descriptorpb.MethodDescriptorProto{method(procOne)}},
			{Name: proto.String("Two"), Method: []*descriptorpb.MethodDescriptorProto{method(procTwo)}},
		},
	}
	files := registerAll(t, bridgev1.File_bridge_v1_options_proto)
	fd, err := protodesc.NewFile(fdp, files)
	if err != nil {
		t.Fatal(err)
	}
	if err := files.RegisterFile(fd); err != nil {
		t.Fatal(err)
	}
	return files, fd
}

func TestCatalogConflict(t *testing.T) {
	t.Parallel()
	files, fd := conflictFile(t, "dup", "dup")
	_, err := upstream.NewCatalog(files, servicesOf(fd))
	if err == nil {
		t.Fatal("NewCatalog succeeded with two methods named \"dup\"")
	}
	for _, want := range []string{`"dup"`, "a.v1.One.M", "a.v1.Two.M"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}

	// A procedure URI that is another method's full name conflicts too.
	files, fd = conflictFile(t, "x", "a.v1.One.M")
	if _, err := upstream.NewCatalog(files, servicesOf(fd)); err == nil || !strings.Contains(err.Error(), `"a.v1.One.M"`) {
		t.Errorf("NewCatalog error = %v, want a conflict on a.v1.One.M", err)
	}

	// A service listed twice is no conflict.
	files, fd = conflictFile(t, "one", "two")
	c, err := upstream.NewCatalog(files, append(servicesOf(fd), servicesOf(fd)...))
	if err != nil {
		t.Fatal(err)
	}
	if got := len(c.Methods()); got != 2 {
		t.Errorf("%d methods, want 2", got)
	}
}
