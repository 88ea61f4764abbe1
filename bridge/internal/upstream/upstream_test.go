package upstream_test

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/connectivity"

	"github.com/wampbridge/grpcwamp/bridge/internal/upstream"
)

const (
	msgLoadFailed = "upstream schema not loaded, retrying"
	msgLoaded     = "upstream schema loaded"
)

// run starts u.Run and returns a function that stops it and waits for it
// to return; it also runs when the test ends.
func run(t *testing.T, u *upstream.Upstream) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		u.Run(ctx)
	}()
	stop = sync.OnceFunc(func() {
		cancel()
		<-done
	})
	t.Cleanup(stop)
	return stop
}

func isClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// waitState blocks until cc is in state want.
func waitState(t *testing.T, cc *grpc.ClientConn, want connectivity.State) {
	t.Helper()
	for s := cc.GetState(); s != want; s = cc.GetState() {
		if !cc.WaitForStateChange(t.Context(), s) {
			t.Fatalf("channel never reached %v", want)
		}
	}
}

func TestUpstreamUnreachable(t *testing.T) {
	t.Parallel()
	addr := deadAddr(t)
	cc := dial(t, addr)
	rec := newLogRecorder()
	u := upstream.New(cc, upstream.NewReflectionSource(cc), slog.New(rec))
	if u.Ready() || u.Catalog() != nil {
		t.Fatal("ready before Run")
	}
	if got, want := u.NotReadyReason(), `schema of upstream "`+addr+`" not loaded yet`; got != want {
		t.Errorf("NotReadyReason() = %q, want %q", got, want)
	}
	stop := run(t, u)
	rec.wait(t, msgLoadFailed)
	if u.Ready() {
		t.Error("ready while the upstream is down")
	}
	reason := u.NotReadyReason()
	for _, want := range []string{"schema not loaded yet: ", "upstream " + addr, "connection refused"} {
		if !strings.Contains(reason, want) {
			t.Errorf("NotReadyReason() = %q, want it to contain %q", reason, want)
		}
	}
	if isClosed(u.Loaded()) || u.Catalog() != nil {
		t.Error("Loaded closed or catalog set after a failed load")
	}
	stop()
}

// TestUpstreamNotConnected: the schema loads from a file, but nothing
// answers at the address.
func TestUpstreamNotConnected(t *testing.T) {
	t.Parallel()
	addr := deadAddr(t)
	cc := dial(t, addr)
	rec := newLogRecorder()
	u := upstream.New(cc, upstream.NewFileSource(generatedSet(t)), slog.New(rec))
	run(t, u)
	waitFor(t, u.Loaded(), "the schema to load")
	if u.Catalog() == nil {
		t.Fatal("Catalog() = nil after Loaded")
	}
	if u.Ready() {
		t.Error("ready while the upstream is down")
	}
	if reason := u.NotReadyReason(); !strings.Contains(reason, `upstream "`+addr+`" is not connected`) {
		t.Errorf("NotReadyReason() = %q", reason)
	}
	waitState(t, cc, connectivity.TransientFailure)
	if got, want := u.NotReadyReason(), `upstream "`+addr+`" is not connected: connecting failed, retrying`; got != want {
		t.Errorf("NotReadyReason() = %q, want %q", got, want)
	}
	rec.wait(t, "upstream connection failed, reconnecting")
}

// TestUpstreamBecomesReady: the server cannot be reached at first (a
// closed gate in the dialer), then can.
func TestUpstreamBecomesReady(t *testing.T) {
	t.Parallel()
	addr, _ := startServer(t, reflectionBoth)
	var open atomic.Bool
	cc := dial(t, addr,
		grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
			if !open.Load() {
				return nil, errors.New("gate closed")
			}
			var d net.Dialer
			return d.DialContext(ctx, "tcp", addr)
		}),
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: 10 * time.Millisecond, Multiplier: 1, MaxDelay: 10 * time.Millisecond},
			MinConnectTimeout: time.Second,
		}),
	)
	rec := newLogRecorder()
	u := upstream.New(cc, upstream.NewReflectionSource(cc), slog.New(rec))
	stop := run(t, u)
	rec.wait(t, msgLoadFailed)
	if u.Ready() {
		t.Fatal("ready before the server could be reached")
	}
	if reason := u.NotReadyReason(); !strings.Contains(reason, "gate closed") {
		t.Errorf("NotReadyReason() = %q, want the dial error", reason)
	}

	open.Store(true)
	waitFor(t, u.Loaded(), "the schema to load")
	if !u.Ready() {
		t.Errorf("not ready after the schema loaded over the connection: %s", u.NotReadyReason())
	}
	if reason := u.NotReadyReason(); reason != "" {
		t.Errorf("NotReadyReason() = %q, want \"\"", reason)
	}
	checkCatalog(t, u.Catalog())
	if u.Conn() != grpc.ClientConnInterface(cc) {
		t.Error("Conn() is not the connection")
	}
	rec.wait(t, msgLoaded)
	stop()
}

// fakeSource fails with errs, in order, then returns cat.
type fakeSource struct {
	mu    sync.Mutex
	errs  []error
	loads int
	cat   *upstream.Catalog
}

func (s *fakeSource) Load(context.Context) (*upstream.Catalog, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.loads++
	if len(s.errs) > 0 {
		err := s.errs[0]
		s.errs = s.errs[1:]
		return nil, err
	}
	return s.cat, nil
}

func (s *fakeSource) String() string { return "fake source" }

func TestUpstreamLogsEachErrorOnce(t *testing.T) {
	t.Parallel()
	addr, _ := startServer(t, reflectionNone)
	cc := dial(t, addr)
	src := &fakeSource{
		errs: []error{errors.New("a"), errors.New("a"), errors.New("b")},
		cat:  generatedCatalog(t),
	}
	rec := newLogRecorder()
	u := upstream.New(cc, src, slog.New(rec))
	stop := run(t, u)
	waitFor(t, u.Loaded(), "the schema to load")
	if u.Catalog() != src.cat {
		t.Error("Catalog() is not the loaded catalog")
	}
	stop()
	if src.loads != 4 {
		t.Errorf("%d loads, want 4", src.loads)
	}
	if n := rec.count(msgLoadFailed); n != 2 {
		t.Errorf("%d failures logged, want 2 (one per distinct error)", n)
	}
	if n := rec.count(msgLoaded); n != 1 {
		t.Errorf("%d successes logged, want 1", n)
	}
}

// TestUpstreamWarnsUnmatchedExpose: an expose pattern that matches no
// method, probably a typing error, is logged as a warning naming it when
// the schema loads; patterns that match are not named.
func TestUpstreamWarnsUnmatchedExpose(t *testing.T) {
	t.Parallel()
	rec := newLogRecorder()
	src := upstream.WithNaming(upstream.NewFileSource(generatedSet(t)),
		upstream.Naming{Expose: []string{"demo.v1.ClockService", "demo.v1.Clok.*"}})
	u := upstream.New(dial(t, deadAddr(t)), src, slog.New(rec))
	run(t, u)
	waitFor(t, u.Loaded(), "the schema to load")
	const msg = "expose patterns match no method of the upstream: check them for typing errors (-expose takes a full name glob such as pkg.Service.* or a service full name)"
	rec.wait(t, msg)
	rec.mu.Lock()
	defer rec.mu.Unlock()
	for _, r := range rec.records {
		if r.Message != msg {
			continue
		}
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "patterns" {
				if got := a.Value.String(); got != "[demo.v1.Clok.*]" {
					t.Errorf("patterns = %s, want [demo.v1.Clok.*]", got)
				}
			}
			return true
		})
		if r.Level != slog.LevelWarn {
			t.Errorf("logged at %v, want WARN", r.Level)
		}
	}
}
