package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/status"

	bridgetestv1 "github.com/wampbridge/grpcwamp/gen/bridgetest/v1"
)

// echoService is a minimal bridgetest.v1.TestService: Echo returns its
// request, so a large text makes a large response. It keeps the incoming
// metadata of each text, and fails the first call of each text starting
// with "flaky" with UNAVAILABLE.
type echoService struct {
	bridgetestv1.UnimplementedTestServiceServer
	mu    sync.Mutex
	md    map[string]metadata.MD
	calls map[string]int
}

func (s *echoService) Echo(ctx context.Context, req *bridgetestv1.EchoRequest) (*bridgetestv1.EchoResponse, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	s.mu.Lock()
	s.md[req.GetText()] = md
	s.calls[req.GetText()]++
	n := s.calls[req.GetText()]
	s.mu.Unlock()
	if strings.HasPrefix(req.GetText(), "flaky") && n == 1 {
		return nil, status.Error(codes.Unavailable, "echo: the first call of a flaky text fails")
	}
	return &bridgetestv1.EchoResponse{Request: req}, nil
}

// seen returns the metadata of the last Echo of text and how many Echo
// calls of it arrived.
func (s *echoService) seen(text string) (metadata.MD, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.md[text], s.calls[text]
}

// applicationKeys returns the sorted keys of md, the metadata a gRPC
// server received, without those gRPC itself sends on every call
// (":authority", "content-type", "user-agent", "grpc-*").
func applicationKeys(md metadata.MD) []string {
	var keys []string
	for k := range md {
		if k != ":authority" && k != "content-type" && k != "user-agent" && !strings.HasPrefix(k, "grpc-") {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

// startEchoUpstream serves echoService with reflection on 127.0.0.1 until
// the test ends and returns its address.
func startEchoUpstream(t *testing.T) string {
	t.Helper()
	addr, _ := startEchoService(t)
	return addr
}

// total returns how many Echo calls the service has received.
func (s *echoService) total() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.calls {
		n += c
	}
	return n
}

// startEchoService is startEchoUpstream that also returns the service.
func startEchoService(t *testing.T) (string, *echoService) {
	t.Helper()
	addr, svc, _ := startEchoServer(t)
	return addr, svc
}

// startEchoServer is startEchoService that also returns stop, which stops
// the server at once, as a crash would; the end of the test stops it too.
func startEchoServer(t *testing.T) (string, *echoService, func()) {
	t.Helper()
	gs := grpc.NewServer()
	svc := &echoService{md: make(map[string]metadata.MD), calls: make(map[string]int)}
	bridgetestv1.RegisterTestServiceServer(gs, svc)
	reflection.Register(gs)
	return serveGRPC(t, gs), svc, gs.Stop
}

// serveGRPC serves gs on a port of 127.0.0.1 and returns its address; the
// end of the test stops it.
func serveGRPC(t *testing.T, gs *grpc.Server) string {
	t.Helper()
	var lc net.ListenConfig
	lis, err := lc.Listen(t.Context(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- gs.Serve(lis) }()
	t.Cleanup(func() {
		gs.Stop()
		if err := <-served; err != nil {
			t.Errorf("upstream Serve: %v", err)
		}
	})
	return lis.Addr().String()
}

// TestServeUpstreamMessageSizes: with -upstream-max-recv-size, a response
// larger than it reaches the WAMP client as CALLERROR
// grpc.error.resource_exhausted (RESOURCE_EXHAUSTED, as PROTOCOL.md maps it), and so does a request larger than
// -upstream-max-send-size; bridge call prints a message naming the
// procedure, the limit and the flag; smaller ones pass.
func TestServeUpstreamMessageSizes(t *testing.T) {
	t.Parallel()
	addr := startEchoUpstream(t)
	// The limits apply to server reflection too: they must leave room for
	// the descriptors (some KiB).
	url, _ := runServe(t, "-upstream", addr, "-upstream-max-recv-size", "64KiB", "-upstream-max-send-size", "256KiB")
	echo := func(text string) (int, string, string) {
		out, errw := newLineWriter(), newLineWriter()
		arg, err := json.Marshal(map[string]string{"text": text})
		if err != nil {
			t.Fatal(err)
		}
		code := run(t.Context(), []string{"call", url, "bridgetest.v1.TestService.Echo", string(arg)}, out, errw)
		return code, out.String(), errw.String()
	}
	var out string
	waitFor(t, "a small Echo to pass", func() bool { // the upstream may not be ready yet
		var code int
		code, out, _ = echo("small")
		return code == exitOK
	})
	if !strings.Contains(out, `"small"`) {
		t.Errorf("Echo small printed %q", out)
	}
	for _, tc := range []struct {
		name string
		size int
		want string
	}{
		{"response over the receive limit", 100 << 10, "more than the 65536 bytes the bridge accepts from its upstream in one message: ask for less at a time, or have the operator raise -upstream-max-recv-size"},
		{"request over the send limit", 300 << 10, "more than the 262144 bytes the bridge sends its upstream in one message: the call was not sent; send less, or have the operator raise -upstream-max-send-size"},
	} {
		code, _, stderr := echo(strings.Repeat("x", tc.size))
		for _, want := range []string{"grpc.error.resource_exhausted", `procedure "bridgetest.v1.TestService.Echo": `, tc.want} {
			if code != exitFailure || !strings.Contains(stderr, want) {
				t.Errorf("%s: exit status %d, stderr %q; want %d and %q", tc.name, code, stderr, exitFailure, want)
			}
		}
	}
}

// TestServeLogFormatJSON: with -log-format json every line of stderr is a
// JSON object, the banner included.
func TestServeLogFormatJSON(t *testing.T) {
	t.Parallel()
	ctx, interrupt := context.WithCancel(t.Context())
	defer interrupt()
	stderr := newLineWriter()
	code := make(chan int, 1)
	go func() {
		code <- run(ctx, []string{"-listen", "127.0.0.1:0", "-log-format", "json"}, nil, stderr)
	}()
	var url string
	for url == "" {
		select {
		case l := <-stderr.Lines:
			var rec struct{ Msg, URL string }
			if err := json.Unmarshal([]byte(l), &rec); err != nil {
				t.Fatalf("stderr line %q is no JSON: %v", l, err)
			}
			if rec.Msg == "serving WAMP v1" {
				url = rec.URL
			}
		case c := <-code:
			t.Fatalf("serve ended with %d before its banner; stderr:\n%s", c, stderr)
		}
	}
	if !strings.HasPrefix(url, "ws://127.0.0.1:") {
		t.Errorf("banner URL %q", url)
	}
	waitFor(t, "a successful call", func() bool { // the upstream may not be ready yet
		return run(t.Context(), []string{"call", url, "GetTime"}, newLineWriter(), newLineWriter()) == exitOK
	})
	interrupt()
	if got := <-code; got != exitOK {
		t.Errorf("serve exit status %d, want 0; stderr:\n%s", got, stderr)
	}
	sessions := 0
	for _, l := range stderr.lines() {
		var rec struct {
			Msg      string
			Duration json.RawMessage
		}
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Errorf("stderr line %q is no JSON", l)
			continue
		}
		if rec.Msg != "session ended" {
			continue
		}
		// A duration as in the text format, not bare nanoseconds.
		sessions++
		var d string
		if err := json.Unmarshal(rec.Duration, &d); err != nil {
			t.Errorf("session ended: duration %s, want a string such as \"1.5ms\"", rec.Duration)
		} else if _, err := time.ParseDuration(d); err != nil {
			t.Errorf("session ended: duration %q: %v", d, err)
		}
	}
	if sessions == 0 {
		t.Errorf("no line \"session ended\" in stderr:\n%s", stderr)
	}
}

// TestNewLogger: the text format writes durations as log/slog does, and
// the JSON format as the same strings, in groups too, where slog would
// write nanoseconds.
func TestNewLogger(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ format, want string }{
		{"text", `level=INFO msg=m duration=1.5ms n=3 g.wait=2s` + "\n"},
		{"json", `"level":"INFO","msg":"m","duration":"1.5ms","n":3,"g":{"wait":"2s"}}` + "\n"},
	} {
		var b strings.Builder
		newLogger(&b, tc.format, slog.LevelInfo).Info("m", "duration", 1500*time.Microsecond, "n", 3, slog.Group("g", "wait", 2*time.Second))
		if !strings.HasSuffix(b.String(), tc.want) {
			t.Errorf("%s: %q, want it to end with %q", tc.format, b.String(), tc.want)
		}
	}
}
