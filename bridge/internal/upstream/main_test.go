package upstream_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthv1 "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"
	reflectionv1 "google.golang.org/grpc/reflection/grpc_reflection_v1"
	reflectionv1alpha "google.golang.org/grpc/reflection/grpc_reflection_v1alpha"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"

	bridgetestv1 "github.com/wampbridge/grpcwamp/gen/bridgetest/v1"
	demov1 "github.com/wampbridge/grpcwamp/gen/demo/v1"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// testService implements bridgetest.v1.TestService.
type testService struct {
	bridgetestv1.UnimplementedTestServiceServer
	mu        sync.Mutex
	cancelled map[string]chan struct{} // by tag of a blocking Stream call
}

// cancelledCh returns the channel closed when the blocking Stream call with
// this tag has seen its context end.
func (s *testService) cancelledCh(tag string) chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.cancelled[tag]
	if !ok {
		c = make(chan struct{})
		s.cancelled[tag] = c
	}
	return c
}

func (s *testService) Echo(_ context.Context, req *bridgetestv1.EchoRequest) (*bridgetestv1.EchoResponse, error) {
	return &bridgetestv1.EchoResponse{Request: req}, nil
}

func (s *testService) Fail(_ context.Context, req *bridgetestv1.FailRequest) (*bridgetestv1.FailResponse, error) {
	return nil, status.Error(codes.Code(req.GetCode()), req.GetMessage())
}

func (s *testService) Stream(req *bridgetestv1.StreamRequest, stream grpc.ServerStreamingServer[bridgetestv1.StreamResponse]) error {
	for i := range req.GetCount() {
		if err := stream.Send(&bridgetestv1.StreamResponse{Index: i + 1, Tag: req.GetTag()}); err != nil {
			return err
		}
	}
	if req.GetBlock() {
		<-stream.Context().Done()
		close(s.cancelledCh(req.GetTag()))
		return stream.Context().Err()
	}
	if c := req.GetFailCode(); c != 0 {
		return status.Errorf(codes.Code(c), "stream %q failed after %d messages", req.GetTag(), req.GetCount())
	}
	return nil
}

func (s *testService) Sum(stream grpc.ClientStreamingServer[bridgetestv1.SumRequest, bridgetestv1.SumResponse]) error {
	var total int64
	var n int32
	for {
		req, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return stream.SendAndClose(&bridgetestv1.SumResponse{Total: total, Requests: n})
		}
		if err != nil {
			return err
		}
		n++
		for _, x := range req.GetNumbers() {
			total += x
		}
	}
}

func (s *testService) Chat(stream grpc.BidiStreamingServer[bridgetestv1.ChatRequest, bridgetestv1.ChatResponse]) error {
	for {
		req, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		for i := range req.GetRepeat() {
			if err := stream.Send(&bridgetestv1.ChatResponse{Text: req.GetText(), Index: i}); err != nil {
				return err
			}
		}
	}
}

type reflectionMode int

const (
	reflectionBoth reflectionMode = iota
	reflectionV1Alpha
	reflectionNone
)

// startServer serves TestService, ClockService and health on 127.0.0.1 at
// a free port, with the reflection services mode asks for and the server
// options opts. The server stops when the test ends, after its handlers
// have returned.
func startServer(t *testing.T, mode reflectionMode, opts ...grpc.ServerOption) (string, *testService) {
	t.Helper()
	var lc net.ListenConfig
	lis, err := lc.Listen(t.Context(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer(append([]grpc.ServerOption{grpc.WaitForHandlers(true)}, opts...)...)
	svc := &testService{cancelled: make(map[string]chan struct{})}
	bridgetestv1.RegisterTestServiceServer(s, svc)
	demov1.RegisterClockServiceServer(s, demov1.UnimplementedClockServiceServer{})
	healthv1.RegisterHealthServer(s, health.NewServer())
	switch mode {
	case reflectionBoth:
		reflection.Register(s)
	case reflectionV1Alpha:
		reflectionv1alpha.RegisterServerReflectionServer(s, reflection.NewServer(reflection.ServerOptions{Services: s}))
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = s.Serve(lis)
	}()
	t.Cleanup(func() {
		s.Stop()
		<-done
	})
	return lis.Addr().String(), svc
}

// deadAddr returns the address of a listener that has been closed: nothing
// answers there.
func deadAddr(t *testing.T) string {
	t.Helper()
	var lc net.ListenConfig
	lis, err := lc.Listen(t.Context(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	if err := lis.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

func dial(t *testing.T, addr string, opts ...grpc.DialOption) *grpc.ClientConn {
	t.Helper()
	opts = append([]grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}, opts...)
	cc, err := grpc.NewClient(addr, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cc.Close() })
	return cc
}

// withDeps returns fds and their transitive imports, each once, imports
// first, leaving out the paths in omit.
func withDeps(omit []string, fds ...protoreflect.FileDescriptor) []protoreflect.FileDescriptor {
	var out []protoreflect.FileDescriptor
	seen := map[string]bool{}
	var add func(fd protoreflect.FileDescriptor)
	add = func(fd protoreflect.FileDescriptor) {
		if seen[fd.Path()] {
			return
		}
		seen[fd.Path()] = true
		imps := fd.Imports()
		for i := range imps.Len() {
			add(imps.Get(i).FileDescriptor)
		}
		if !slices.Contains(omit, fd.Path()) {
			out = append(out, fd)
		}
	}
	for _, fd := range fds {
		add(fd)
	}
	return out
}

// writeSet writes a binary FileDescriptorSet of files to a new file and
// returns its path.
func writeSet(t *testing.T, files ...*descriptorpb.FileDescriptorProto) string {
	t.Helper()
	b, err := proto.Marshal(&descriptorpb.FileDescriptorSet{File: files})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "set.binpb")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// generatedSet writes the set of the test and demo protos (with health and
// reflection, to show they are skipped) and their imports but omit.
func generatedSet(t *testing.T, omit ...string) string {
	t.Helper()
	var fdps []*descriptorpb.FileDescriptorProto
	for _, fd := range withDeps(omit,
		bridgetestv1.File_bridgetest_v1_test_proto,
		demov1.File_demo_v1_clock_proto,
		healthv1.File_grpc_health_v1_health_proto,
		reflectionv1.File_grpc_reflection_v1_reflection_proto,
	) {
		fdps = append(fdps, protodesc.ToFileDescriptorProto(fd))
	}
	return writeSet(t, fdps...)
}

// logRecorder is a slog.Handler keeping every record, for tests to wait for.
type logRecorder struct {
	mu      sync.Mutex
	records []slog.Record
	notify  chan struct{}
}

func newLogRecorder() *logRecorder { return &logRecorder{notify: make(chan struct{}, 1)} }

func (h *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (h *logRecorder) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *logRecorder) WithGroup(string) slog.Handler            { return h }

func (h *logRecorder) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	h.records = append(h.records, r.Clone())
	h.mu.Unlock()
	select {
	case h.notify <- struct{}{}:
	default:
	}
	return nil
}

// count returns how many records have message msg.
func (h *logRecorder) count(msg string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, r := range h.records {
		if r.Message == msg {
			n++
		}
	}
	return n
}

// wait blocks until a record with message msg has been logged.
func (h *logRecorder) wait(t *testing.T, msg string) {
	t.Helper()
	for h.count(msg) == 0 {
		select {
		case <-h.notify:
		case <-t.Context().Done():
			t.Fatalf("no log record %q", msg)
		}
	}
}

// waitFor returns what c delivers; the test fails if its context ends first.
func waitFor[T any](t *testing.T, c <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-c:
		return v
	case <-t.Context().Done():
		t.Fatalf("test ended waiting for %s", what)
		panic("unreachable")
	}
}
