package upstream_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/wampbridge/grpcwamp/bridge/internal/upstream"
)

// callLog records the calls go-grpc-middleware's client interceptor
// reports, as the metrics and logging interceptors of cmd/bridge see
// them: a call counts as started when its stream opens and as finished
// only when the interceptor reports its end (RecvMsg returning io.EOF or
// an error).
type callLog struct {
	mu       sync.Mutex
	started  []string    // methods
	finished [][2]string // method, code
}

func (l *callLog) ClientReporter(ctx context.Context, m interceptors.CallMeta) (interceptors.Reporter, context.Context) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.started = append(l.started, m.FullMethod())
	return &callReporter{log: l, method: m.FullMethod()}, ctx
}

func (l *callLog) snapshot() (started []string, finished [][2]string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.started), slices.Clone(l.finished)
}

type callReporter struct {
	interceptors.NoopReporter
	log    *callLog
	method string
}

func (r *callReporter) PostCall(err error, _ time.Duration) {
	r.log.mu.Lock()
	defer r.log.mu.Unlock()
	r.log.finished = append(r.log.finished, [2]string{r.method, status.Code(err).String()})
}

// serverCalls counts the reflection handlers running on a server.
type serverCalls struct {
	mu      sync.Mutex
	running int
}

func (s *serverCalls) intercept(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	s.mu.Lock()
	s.running++
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.running--
		s.mu.Unlock()
	}()
	return handler(srv, ss)
}

func (s *serverCalls) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.running
}

// TestReflectionStreamsEnd: each reflection stream a Load opens has ended
// when Load returns, in a way the client interceptors see (so that
// grpc_client_handled_total matches grpc_client_started_total and the
// logging interceptor logs "finished call"), with OK or the stream's
// real code, and the server's handler has returned.
func TestReflectionStreamsEnd(t *testing.T) {
	t.Parallel()
	const (
		v1      = "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"
		v1alpha = "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"
	)
	for _, tc := range []struct {
		name   string
		mode   reflectionMode
		dead   bool
		want   [][2]string // finished calls, in order; nil: only check that all finished
		loadOK bool
	}{
		{name: "v1", mode: reflectionBoth, loadOK: true,
			want: [][2]string{{v1, "OK"}}},
		{name: "v1alpha-only", mode: reflectionV1Alpha, loadOK: true,
			want: [][2]string{{v1, "Unimplemented"}, {v1alpha, "OK"}}},
		{name: "no-reflection", mode: reflectionNone},
		{name: "dead", dead: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			calls := new(callLog)
			running := new(serverCalls)
			var addr string
			if tc.dead {
				addr = deadAddr(t)
			} else {
				addr, _ = startServer(t, tc.mode, grpc.StreamInterceptor(running.intercept))
			}
			cc := dial(t, addr, grpc.WithStreamInterceptor(interceptors.StreamClientInterceptor(calls)))
			src := upstream.NewReflectionSource(cc)
			for i := range 2 { // a reload opens a new stream
				_, err := src.Load(t.Context())
				if tc.loadOK && err != nil {
					t.Fatalf("Load %d: %v", i, err)
				}
				if !tc.loadOK && err == nil {
					t.Fatalf("Load %d succeeded, want an error", i)
				}
				started, finished := calls.snapshot()
				if len(started) == 0 {
					t.Fatalf("Load %d opened no stream", i)
				}
				if len(finished) != len(started) {
					t.Errorf("after Load %d: %d streams started, %d finished: started %q, finished %q",
						i, len(started), len(finished), started, finished)
				}
				for _, f := range finished {
					if f[1] == codes.Canceled.String() {
						t.Errorf("after Load %d: stream %s reported CANCELED: the bridge abandoned it", i, f[0])
					}
				}
				if tc.want != nil {
					var want [][2]string
					for range i + 1 {
						want = append(want, tc.want...)
					}
					if !slices.Equal(finished, want) {
						t.Errorf("after Load %d: finished calls %q, want %q", i, finished, want)
					}
				}
				if n := running.count(); n != 0 {
					t.Errorf("after Load %d: %d reflection handlers still running on the server", i, n)
				}
			}
		})
	}
}
