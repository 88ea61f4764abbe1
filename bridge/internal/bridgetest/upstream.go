package bridgetest

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/reflection"
	reflectionv1alpha "google.golang.org/grpc/reflection/grpc_reflection_v1alpha"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/wampbridge/grpcwamp/bridge/internal/demo"
	bridgetestv1 "github.com/wampbridge/grpcwamp/gen/bridgetest/v1"
	demov1 "github.com/wampbridge/grpcwamp/gen/demo/v1"
)

// ReflectionMode says which gRPC server reflection services an upstream
// started by [StartUpstream] registers.
type ReflectionMode int

const (
	// ReflectionBoth registers grpc.reflection.v1 and v1alpha (the default).
	ReflectionBoth ReflectionMode = iota
	// ReflectionV1Alpha registers only grpc.reflection.v1alpha, as older
	// servers do.
	ReflectionV1Alpha
	// ReflectionNone registers no reflection service: only a descriptor set
	// can describe the upstream.
	ReflectionNone
)

func (r ReflectionMode) String() string {
	switch r {
	case ReflectionBoth:
		return "reflection-v1+v1alpha"
	case ReflectionV1Alpha:
		return "reflection-v1alpha"
	case ReflectionNone:
		return "no-reflection"
	}
	return fmt.Sprintf("ReflectionMode(%d)", int(r))
}

// UpstreamOptions configure [StartUpstream].
type UpstreamOptions struct {
	Reflection ReflectionMode
	// Server holds options for the gRPC server, such as its own message
	// size limits (grpc.MaxRecvMsgSize).
	Server []grpc.ServerOption
}

// StartUpstream serves [Service] and the demo ClockService on 127.0.0.1 at
// a port the system picks, with the reflection services opts asks for. It
// returns the address and the service, whose events the test can wait for.
// The server stops when the test ends, after cancelling the calls still in
// flight and waiting for their handlers.
func StartUpstream(t testing.TB, opts UpstreamOptions) (addr string, svc *Service) {
	t.Helper()
	addr, svc, _ = StartUpstreamAt(t, "127.0.0.1:0", opts)
	return addr, svc
}

// StartUpstreamAt is [StartUpstream] on the address addr ("127.0.0.1:port":
// a test restarts an upstream on the address it had), with stop, which
// stops the server at once as a crash would: the calls in flight fail, and
// the port is free again. stop may be called more than once; the end of
// the test calls it too.
func StartUpstreamAt(t testing.TB, addr string, opts UpstreamOptions) (string, *Service, func()) {
	t.Helper()
	var lc net.ListenConfig
	lis, err := lc.Listen(t.Context(), "tcp", addr)
	if err != nil {
		t.Fatalf("bridgetest: upstream: listen on %s: %v", addr, err)
	}
	// WaitForHandlers: Stop returns only when every handler has returned,
	// so that no goroutine of a blocked Stream outlives the test.
	s := grpc.NewServer(append([]grpc.ServerOption{grpc.WaitForHandlers(true)}, opts.Server...)...)
	svc := NewService()
	bridgetestv1.RegisterTestServiceServer(s, svc)
	demo.Register(s)
	switch opts.Reflection {
	case ReflectionBoth:
		reflection.Register(s)
	case ReflectionV1Alpha:
		reflectionv1alpha.RegisterServerReflectionServer(s, reflection.NewServer(reflection.ServerOptions{Services: s}))
	case ReflectionNone:
	default:
		t.Fatalf("bridgetest: upstream: unknown %v", opts.Reflection)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(lis) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			s.Stop()
			if err := <-served; err != nil {
				t.Errorf("bridgetest: upstream: serve: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return lis.Addr().String(), svc, stop
}

// ClosedAddr returns an address on 127.0.0.1 where nothing listens: a port
// the system handed out and that was closed again at once.
func ClosedAddr(t testing.TB) string {
	t.Helper()
	var lc net.ListenConfig
	lis, err := lc.Listen(t.Context(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("bridgetest: listen: %v", err)
	}
	addr := lis.Addr().String()
	if err := lis.Close(); err != nil {
		t.Fatalf("bridgetest: close listener: %v", err)
	}
	return addr
}

// WriteDescriptorSet writes a binary FileDescriptorSet of the protos the
// upstream serves (bridgetest.v1 and demo.v1) with every transitive
// dependency, dependencies first, to a file in t.TempDir() and returns its
// path: what `buf build -o` produces.
func WriteDescriptorSet(t testing.TB) string {
	t.Helper()
	set := &descriptorpb.FileDescriptorSet{}
	seen := make(map[string]bool)
	var add func(fd protoreflect.FileDescriptor)
	add = func(fd protoreflect.FileDescriptor) {
		if seen[fd.Path()] {
			return
		}
		seen[fd.Path()] = true
		imports := fd.Imports()
		for i := range imports.Len() {
			add(imports.Get(i).FileDescriptor)
		}
		set.File = append(set.File, protodesc.ToFileDescriptorProto(fd))
	}
	add(bridgetestv1.File_bridgetest_v1_test_proto)
	add(demov1.File_demo_v1_clock_proto)

	data, err := proto.Marshal(set)
	if err != nil {
		t.Fatalf("bridgetest: marshal descriptor set: %v", err)
	}
	path := filepath.Join(t.TempDir(), "descriptors.binpb")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatalf("bridgetest: write descriptor set: %v", err)
	}
	return path
}
