package feed

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"reflect"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/status"

	"github.com/wampbridge/grpcwamp/bridge/internal/invoke"
	"github.com/wampbridge/grpcwamp/bridge/internal/transcode"
	"github.com/wampbridge/grpcwamp/bridge/internal/upstream"
	bridgetestv1 "github.com/wampbridge/grpcwamp/gen/bridgetest/v1"
)

// streamService implements TestService.Stream: count messages, then, if
// block, waiting until cancelled, which it reports on canceled. (The
// bridgetest package has a fuller one, but it imports the bridge, which
// imports this package.)
type streamService struct {
	bridgetestv1.UnimplementedTestServiceServer
	canceled chan string // tags of cancelled blocking streams
}

func (s *streamService) Stream(req *bridgetestv1.StreamRequest, stream grpc.ServerStreamingServer[bridgetestv1.StreamResponse]) error {
	for i := int32(1); i <= req.GetCount(); i++ {
		if err := stream.Send(&bridgetestv1.StreamResponse{Index: i, Tag: req.GetTag()}); err != nil {
			return err
		}
	}
	if !req.GetBlock() {
		return nil
	}
	<-stream.Context().Done()
	s.canceled <- req.GetTag()
	return status.FromContextError(stream.Context().Err()).Err()
}

// startCore serves streamService with reflection and returns a ready
// invoke.Core calling it. Everything stops when the test ends.
func startCore(t *testing.T) (*invoke.Core, *streamService) {
	t.Helper()
	var lc net.ListenConfig
	lis, err := lc.Listen(t.Context(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	srv := grpc.NewServer(grpc.WaitForHandlers(true))
	svc := &streamService{canceled: make(chan string, 10)}
	bridgetestv1.RegisterTestServiceServer(srv, svc)
	reflection.Register(srv)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	t.Cleanup(func() {
		srv.Stop()
		if err := <-served; err != nil {
			t.Errorf("serve: %v", err)
		}
	})

	cc, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatalf("grpc.NewClient: %v", err)
	}
	t.Cleanup(func() { cc.Close() })
	logger := slog.New(slog.DiscardHandler)
	up := upstream.New(cc, upstream.NewReflectionSource(cc), logger)
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	wg.Go(func() { up.Run(ctx) })
	t.Cleanup(func() { cancel(); wg.Wait() })

	<-up.Loaded()
	for !up.Ready() {
		if !cc.WaitForStateChange(t.Context(), cc.GetState()) {
			t.Fatalf("upstream not ready: %s", up.NotReadyReason())
		}
	}
	return invoke.New(up, transcode.DefaultOptions(), logger), svc
}

func TestCoreCaller(t *testing.T) {
	t.Parallel()
	core, _ := startCore(t)
	c := CoreCaller(core)
	emitNone := func(msg json.RawMessage) error {
		t.Errorf("unexpected message %s", msg)
		return nil
	}

	err := c.Call(t.Context(), "bridgetest.v1.TestService.Echo", nil, emitNone)
	if status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), `"bridgetest.v1.TestService.Echo"`) {
		t.Errorf("unary method: %v, want FAILED_PRECONDITION naming the procedure", err)
	}
	err = c.Call(t.Context(), "no.Such.Method", nil, emitNone)
	if status.Code(err) != codes.Unimplemented {
		t.Errorf("unknown method: %v, want UNIMPLEMENTED", err)
	}

	var got []string
	err = c.Call(t.Context(), "bridgetest.v1.TestService.Stream", []json.RawMessage{json.RawMessage(`{"count":2,"tag":"x"}`)},
		func(msg json.RawMessage) error {
			got = append(got, string(msg))
			return nil
		})
	if err != nil {
		t.Fatalf("Stream: %v", err)
	}
	if len(got) != 2 {
		t.Errorf("Stream emitted %q, want 2 messages", got)
	}
}

func TestFeedThroughCore(t *testing.T) {
	t.Parallel()
	core, svc := startCore(t)
	p := newFakePublisher()
	m, err := New([]Binding{{Topic: "test.{tag}", Procedure: "bridgetest.v1.TestService.Stream", Request: json.RawMessage(`{"count":2,"block":true}`)}},
		CoreCaller(core), p, fast)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()

	m.Interest("test.a", true)
	for i := 1; i <= 2; i++ {
		d := <-p.got
		var ev map[string]any
		if err := json.Unmarshal([]byte(d.event), &ev); err != nil {
			t.Fatalf("event %s: %v", d.event, err)
		}
		if want := map[string]any{"index": float64(i), "tag": "a"}; d.topic != "test.a" || !reflect.DeepEqual(ev, want) {
			t.Errorf("delivered %s to %q, want %v to test.a", d.event, d.topic, want)
		}
	}
	m.Interest("test.a", false)
	if tag := <-svc.canceled; tag != "a" {
		t.Errorf("cancelled stream %q, want a", tag)
	}
}
