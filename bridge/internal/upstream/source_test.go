package upstream_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/wampbridge/grpcwamp/bridge/internal/upstream"
)

func TestSources(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		source func(t *testing.T) upstream.Source
	}{
		{"reflection-v1", func(t *testing.T) upstream.Source {
			addr, _ := startServer(t, reflectionBoth)
			return upstream.NewReflectionSource(dial(t, addr))
		}},
		{"reflection-v1alpha-only", func(t *testing.T) upstream.Source {
			addr, _ := startServer(t, reflectionV1Alpha)
			return upstream.NewReflectionSource(dial(t, addr))
		}},
		{"descriptor-set", func(t *testing.T) upstream.Source {
			return upstream.NewFileSource(generatedSet(t))
		}},
		{"descriptor-set-without-timestamp", func(t *testing.T) upstream.Source {
			// Well-known types missing from the set come from the binary.
			return upstream.NewFileSource(generatedSet(t, "google/protobuf/timestamp.proto", "google/protobuf/duration.proto"))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			src := tc.source(t)
			c, err := src.Load(t.Context())
			if err != nil {
				t.Fatalf("%s: Load: %v", src, err)
			}
			checkCatalog(t, c)
		})
	}
}

func TestReflectionSourceString(t *testing.T) {
	t.Parallel()
	src := upstream.NewReflectionSource(dial(t, "127.0.0.1:9"))
	if got, want := src.String(), "server reflection of 127.0.0.1:9"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if got, want := upstream.NewFileSource("x.binpb").String(), "descriptor set x.binpb"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

func TestReflectionSourceErrors(t *testing.T) {
	t.Parallel()
	t.Run("server down", func(t *testing.T) {
		t.Parallel()
		addr := deadAddr(t)
		_, err := upstream.NewReflectionSource(dial(t, addr)).Load(t.Context())
		t.Log(err)
		if status.Code(err) != codes.Unavailable {
			t.Fatalf("Load error = %v, want UNAVAILABLE", err)
		}
		if !strings.HasPrefix(err.Error(), "upstream "+addr+": server reflection: UNAVAILABLE: ") || strings.Contains(err.Error(), "rpc error") {
			t.Errorf("error %q does not name the upstream, server reflection and the code as UNAVAILABLE (not gRPC's \"rpc error: code = ...\")", err)
		}
	})
	t.Run("no reflection", func(t *testing.T) {
		t.Parallel()
		addr, _ := startServer(t, reflectionNone)
		_, err := upstream.NewReflectionSource(dial(t, addr)).Load(t.Context())
		t.Log(err)
		if status.Code(err) != codes.Unimplemented {
			t.Fatalf("Load error = %v, want UNIMPLEMENTED", err)
		}
		if !strings.Contains(err.Error(), "enable server reflection") || !strings.Contains(err.Error(), "-descriptor-set") {
			t.Errorf("error %q does not say what to do", err)
		}
	})
	t.Run("answer over the size limit", func(t *testing.T) {
		// Reflection works; its answers do not fit the connection's
		// receive limit. The hint is about the limit, not about enabling
		// reflection.
		t.Parallel()
		addr, _ := startServer(t, reflectionBoth)
		_, err := upstream.NewReflectionSource(dial(t, addr, grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(10)))).Load(t.Context())
		t.Log(err)
		if status.Code(err) != codes.ResourceExhausted {
			t.Fatalf("Load error = %v, want RESOURCE_EXHAUSTED", err)
		}
		if !strings.Contains(err.Error(), "raise -upstream-max-recv-size") || strings.Contains(err.Error(), "enable server reflection") {
			t.Errorf("error %q does not point to the size limit, or says to enable reflection", err)
		}
	})
}

func TestFileSourceErrors(t *testing.T) {
	t.Parallel()
	// acme.proto imports a file that is neither in the set nor in the binary.
	acme := &descriptorpb.FileDescriptorProto{
		Name:        proto.String("acme/v1/acme.proto"),
		Package:     proto.String("acme.v1"),
		Syntax:      proto.String("proto3"),
		Dependency:  []string{"acme/v1/dep.proto"},
		MessageType: []*descriptorpb.DescriptorProto{{Name: proto.String("Msg")}},
		Service: []*descriptorpb.ServiceDescriptorProto{{
			Name: proto.String("Acme"),
			Method: []*descriptorpb.MethodDescriptorProto{{
				Name: proto.String("Do"), InputType: proto.String(".acme.v1.Msg"), OutputType: proto.String(".acme.v1.Msg"),
			}},
		}},
	}
	notASet := filepath.Join(t.TempDir(), "bad.binpb")
	if err := os.WriteFile(notASet, []byte("not protobuf"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		path string
		want []string
	}{
		{"missing import", writeSet(t, acme), []string{`"acme/v1/acme.proto"`, `"acme/v1/dep.proto"`, "--include_imports"}},
		{"no file", filepath.Join(t.TempDir(), "none.binpb"), []string{"descriptor set", "none.binpb", "no such file"}},
		{"not a set", notASet, []string{"bad.binpb", "not a binary FileDescriptorSet"}},
		{"no services", writeSet(t, protodesc.ToFileDescriptorProto(anypb.File_google_protobuf_any_proto)),
			[]string{"declares no services"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := upstream.NewFileSource(tc.path).Load(t.Context())
			if err == nil {
				t.Fatal("Load succeeded")
			}
			t.Log(err)
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %s", err, w)
				}
			}
		})
	}
}
