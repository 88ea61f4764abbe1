package invoke

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
	"unsafe"

	"go.uber.org/goleak"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	_ "google.golang.org/protobuf/types/known/emptypb" // registers google/protobuf/empty.proto

	"github.com/wampbridge/grpcwamp/bridge/internal/transcode"
	"github.com/wampbridge/grpcwamp/bridge/internal/upstream"
	bridgev1 "github.com/wampbridge/grpcwamp/gen/bridge/v1"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// shadowCatalog is a catalog of one method, shadow.S.Take, that claims the
// name of the list built-in with its bridge.v1.procedure option.
func shadowCatalog(t *testing.T) *upstream.Catalog {
	t.Helper()
	opts := new(descriptorpb.MethodOptions)
	proto.SetExtension(opts, bridgev1.E_Procedure, ProcedureList)
	fdp := &descriptorpb.FileDescriptorProto{
		Name:       proto.String("shadow/shadow.proto"),
		Package:    proto.String("shadow"),
		Syntax:     proto.String("proto3"),
		Dependency: []string{"google/protobuf/empty.proto"},
		Service: []*descriptorpb.ServiceDescriptorProto{{
			Name: proto.String("S"),
			Method: []*descriptorpb.MethodDescriptorProto{{
				Name:       proto.String("Take"),
				InputType:  proto.String(".google.protobuf.Empty"),
				OutputType: proto.String(".google.protobuf.Empty"),
				Options:    opts,
			}},
		}},
	}
	fd, err := protodesc.NewFile(fdp, protoregistry.GlobalFiles)
	if err != nil {
		t.Fatal(err)
	}
	cat, err := upstream.NewCatalog(nil, []protoreflect.ServiceDescriptor{fd.Services().Get(0)})
	if err != nil {
		t.Fatal(err)
	}
	if m, ok := cat.Lookup(ProcedureList); !ok || m.FullName != "shadow.S.Take" {
		t.Fatalf("test bug: shadow.S.Take does not claim %s", ProcedureList)
	}
	return cat
}

// call runs the built-in name against cat and returns its one result.
func call(t *testing.T, cat *upstream.Catalog, name string, args ...string) (json.RawMessage, error) {
	t.Helper()
	return callOn(t, New(nil, transcode.DefaultOptions(), nil), cat, name, args...)
}

// callOn is call on the Core c.
func callOn(t *testing.T, c *Core, cat *upstream.Catalog, name string, args ...string) (json.RawMessage, error) {
	t.Helper()
	p, ok := c.builtin(name, cat)
	if !ok {
		t.Fatalf("%s is not a built-in", name)
	}
	if p.Streaming() || p.Method() != name || p.Name() != name {
		t.Fatalf("%s: Streaming %v, Method %q, Name %q; want a unary procedure of that name", name, p.Streaming(), p.Method(), p.Name())
	}
	raw := make([]json.RawMessage, len(args))
	for i, a := range args {
		raw[i] = json.RawMessage(a)
	}
	var results []json.RawMessage
	err := p.Call(t.Context(), raw, func(b json.RawMessage) error {
		results = append(results, b)
		return nil
	})
	if err != nil {
		if len(results) != 0 {
			t.Fatalf("%s failed after %d results", name, len(results))
		}
		return nil, err
	}
	if len(results) != 1 {
		t.Fatalf("%s: %d results, want 1", name, len(results))
	}
	return results[0], nil
}

// TestBuiltinShadows: a method claiming a built-in's name keeps its other
// names; the built-in answers to the name, and the method's description
// no longer lists it.
func TestBuiltinShadows(t *testing.T) {
	t.Parallel()
	cat := shadowCatalog(t)
	list, err := call(t, cat, ProcedureList)
	if err != nil {
		t.Fatal(err)
	}
	var l struct {
		Procedures []struct {
			URIs     []string `json:"uris"`
			FullName string   `json:"fullName"`
		} `json:"procedures"`
	}
	if err := json.Unmarshal(list, &l); err != nil {
		t.Fatal(err)
	}
	if len(l.Procedures) != 1 || l.Procedures[0].FullName != "shadow.S.Take" ||
		!slices.Equal(l.Procedures[0].URIs, []string{"shadow.S.Take", "/shadow.S/Take"}) {
		t.Errorf("list = %s, want shadow.S.Take with its full name and path only", list)
	}
	d, err := call(t, cat, ProcedureDescribe, `"/shadow.S/Take"`)
	if err != nil {
		t.Fatal(err)
	}
	var p struct {
		URIs []string `json:"uris"`
	}
	if err := json.Unmarshal(d, &p); err != nil || !slices.Equal(p.URIs, l.Procedures[0].URIs) {
		t.Errorf("describe /shadow.S/Take = %s (%v), want uris %q", d, err, l.Procedures[0].URIs)
	}
	_, err = call(t, cat, ProcedureDescribe, `"`+ProcedureList+`"`)
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "built-in") {
		t.Errorf("describe %s: %v, want INVALID_ARGUMENT naming a built-in", ProcedureList, err)
	}
}

// TestBuiltinArguments: the argument rules, without a session.
func TestBuiltinArguments(t *testing.T) {
	t.Parallel()
	cat := shadowCatalog(t)
	cases := []struct {
		name string
		proc string
		args []string
		code codes.Code
	}{
		{"list none", ProcedureList, nil, codes.OK},
		{"list null", ProcedureList, []string{" null "}, codes.OK},
		{"list one", ProcedureList, []string{`"x"`}, codes.InvalidArgument},
		{"describe full name", ProcedureDescribe, []string{`"shadow.S.Take"`}, codes.OK},
		{"describe unknown", ProcedureDescribe, []string{`"shadow.S.Give"`}, codes.Unimplemented},
		{"describe none", ProcedureDescribe, nil, codes.InvalidArgument},
		{"describe null", ProcedureDescribe, []string{`null`}, codes.InvalidArgument},
		{"describe number", ProcedureDescribe, []string{`1`}, codes.InvalidArgument},
		{"describe two", ProcedureDescribe, []string{`"shadow.S.Take"`, `"shadow.S.Take"`}, codes.InvalidArgument},
		{"describe long", ProcedureDescribe, []string{`"` + strings.Repeat("é", 300) + `"`, `2`}, codes.InvalidArgument},
		{"describe unknown, long", ProcedureDescribe, []string{`"` + strings.Repeat("é", 1<<20) + `"`}, codes.Unimplemented},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := call(t, cat, tc.proc, tc.args...)
			if got := status.Code(err); got != tc.code {
				t.Fatalf("%s %v: %v, want %v", tc.proc, tc.args, err, tc.code)
			}
			if err != nil && !strings.Contains(err.Error(), tc.proc) {
				t.Errorf("error %.300q does not name %s", err, tc.proc)
			}
			// The client's words are clipped, not echoed whole.
			if msg := status.Convert(err).Message(); len(msg) > 1024 || !utf8.ValidString(msg) {
				t.Errorf("error message of %d bytes (valid UTF-8: %v), want at most 1 KiB", len(msg), utf8.ValidString(msg))
			}
		})
	}
}

// TestBuiltinRenderedOnce: a Core renders the list and each description
// once per catalog, however often clients ask, and again for a new
// catalog (a schema reload).
func TestBuiltinRenderedOnce(t *testing.T) {
	t.Parallel()
	c := New(nil, transcode.DefaultOptions(), nil)
	cat := shadowCatalog(t)
	same := func(a, b json.RawMessage) bool { return unsafe.SliceData(a) == unsafe.SliceData(b) }
	for _, args := range [][]string{nil, {`"shadow.S.Take"`}} {
		name := ProcedureList
		if args != nil {
			name = ProcedureDescribe
		}
		first, err := callOn(t, c, cat, name, args...)
		if err != nil {
			t.Fatal(err)
		}
		again, err := callOn(t, c, cat, name, args...)
		if err != nil {
			t.Fatal(err)
		}
		if !same(first, again) {
			t.Errorf("%s rendered again for the same catalog", name)
		}
		reloaded, err := callOn(t, c, shadowCatalog(t), name, args...)
		if err != nil {
			t.Fatal(err)
		}
		if same(first, reloaded) || string(first) != string(reloaded) {
			t.Errorf("%s for a new catalog of the same schema: rendered again %v, same JSON %v; want both",
				name, !same(first, reloaded), string(first) == string(reloaded))
		}
	}
}
