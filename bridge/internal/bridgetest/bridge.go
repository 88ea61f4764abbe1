package bridgetest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/wampbridge/grpcwamp/bridge"
)

// Discovery is how a bridge started by [StartBridge] learns the upstream's
// methods.
type Discovery int

const (
	// Reflection asks the upstream with gRPC server reflection.
	Reflection Discovery = iota
	// DescriptorSet reads a FileDescriptorSet written by [WriteDescriptorSet].
	DescriptorSet
)

// Discoveries lists every [Discovery], for test matrices.
var Discoveries = []Discovery{Reflection, DescriptorSet}

func (d Discovery) String() string {
	switch d {
	case Reflection:
		return "reflection"
	case DescriptorSet:
		return "descriptor-set"
	}
	return fmt.Sprintf("Discovery(%d)", int(d))
}

// Bridge is a bridge served by an httptest server.
type Bridge struct {
	// URL is the WebSocket endpoint at the default path: "ws://127.0.0.1:port/".
	URL string
	// HTTP is the server's base URL: "http://127.0.0.1:port".
	HTTP string
	// Handler is the bridge.
	Handler *bridge.Handler
	// Client is an HTTP client for the server; its idle connections are
	// closed when the server is.
	Client *http.Client
}

// StartBridge starts a bridge to the gRPC server at upstreamAddr, learning
// its methods as d says, in an httptest server, and waits until it is ready
// (GET /readyz answers 200). opts come after the helper's own options
// (descriptor set, logger), so they can override them.
//
// When the test ends it shuts the handler down (closing every WebSocket
// and waiting for the sessions, which httptest does not track once
// hijacked), then closes the server and the gRPC connection.
func StartBridge(t testing.TB, upstreamAddr string, d Discovery, opts ...bridge.Option) *Bridge {
	t.Helper()
	b := StartBridgeUnready(t, upstreamAddr, d, opts...)
	b.WaitReady(t)
	return b
}

// StartBridgeUnready is [StartBridge] without the wait for readiness: for a
// bridge whose upstream is not reachable.
func StartBridgeUnready(t testing.TB, upstreamAddr string, d Discovery, opts ...bridge.Option) *Bridge {
	t.Helper()
	return StartBridgeDial(t, upstreamAddr, d, nil, opts...)
}

// StartBridgeDial is [StartBridgeUnready] with extra dial options for the
// bridge's connection to the upstream, such as [bridge.RetryDialOptions].
func StartBridgeDial(t testing.TB, upstreamAddr string, d Discovery, dopts []grpc.DialOption, opts ...bridge.Option) *Bridge {
	t.Helper()
	all := []bridge.Option{bridge.WithLogger(testLogger(t))}
	switch d {
	case Reflection:
	case DescriptorSet:
		all = append(all, bridge.WithDescriptorSetFile(WriteDescriptorSet(t)))
	default:
		t.Fatalf("bridgetest: unknown %v", d)
	}
	all = append(all, opts...)
	cc, err := grpc.NewClient(upstreamAddr, append([]grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}, dopts...)...)
	if err != nil {
		t.Fatalf("bridgetest: grpc.NewClient(%q): %v", upstreamAddr, err)
	}
	h, err := bridge.NewHandler(cc, all...)
	if err != nil {
		cc.Close()
		t.Fatalf("bridgetest: bridge.NewHandler: %v", err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), Timeout)
		defer cancel()
		if err := h.Shutdown(ctx); err != nil {
			t.Errorf("bridgetest: bridge shutdown: %v", err)
		}
		srv.Close()
		if err := cc.Close(); err != nil {
			t.Errorf("bridgetest: close gRPC connection: %v", err)
		}
	})
	return &Bridge{
		URL:     "ws" + strings.TrimPrefix(srv.URL, "http") + "/",
		HTTP:    srv.URL,
		Handler: h,
		Client:  srv.Client(),
	}
}

// testLogger discards the bridge's logs unless BRIDGETEST_LOG is set (to
// debug, info, warn or error): then they go to the test's output.
func testLogger(t testing.TB) *slog.Logger {
	lvl := os.Getenv("BRIDGETEST_LOG")
	if lvl == "" {
		return slog.New(slog.DiscardHandler)
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(lvl)); err != nil {
		t.Fatalf("bridgetest: BRIDGETEST_LOG=%q: %v", lvl, err)
	}
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: level}))
}

// Get sends GET path to the server and returns the status code and body.
func (b *Bridge) Get(t testing.TB, path string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), Timeout)
	defer cancel()
	code, body, err := b.get(ctx, path)
	if err != nil {
		t.Fatalf("bridgetest: %v", err)
	}
	return code, body
}

func (b *Bridge) get(ctx context.Context, path string) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, b.HTTP+path, nil)
	if err != nil {
		return 0, "", fmt.Errorf("GET %s: %w", path, err)
	}
	resp, err := b.Client.Do(req)
	if err != nil {
		return 0, "", fmt.Errorf("GET %s: %w", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, "", fmt.Errorf("GET %s: read body: %w", path, err)
	}
	return resp.StatusCode, string(body), nil
}

// WaitReady polls GET /readyz, with a backoff, until it answers 200. This
// and [Bridge.WaitUnready] are the only polling in the package: readiness
// has no event to wait for from outside the handler.
func (b *Bridge) WaitReady(t testing.TB) {
	t.Helper()
	b.waitReadyz(t, http.StatusOK)
}

// WaitUnready polls GET /readyz, with a backoff, until it answers 503: the
// bridge has seen its upstream go.
func (b *Bridge) WaitUnready(t testing.TB) {
	t.Helper()
	b.waitReadyz(t, http.StatusServiceUnavailable)
}

func (b *Bridge) waitReadyz(t testing.TB, want int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), Timeout)
	defer cancel()
	backoff := time.Millisecond
	for {
		code, body, err := b.get(ctx, "/readyz")
		if err == nil && code == want {
			return
		}
		timer := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			timer.Stop()
			t.Fatalf("bridgetest: GET /readyz did not answer %d within %v: last answer %d %q (error %v)", want, Timeout, code, body, err)
		case <-timer.C:
		}
		backoff = min(2*backoff, 50*time.Millisecond)
	}
}
