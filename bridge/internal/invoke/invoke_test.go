package invoke

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/wampbridge/grpcwamp/bridge/internal/transcode"
	"github.com/wampbridge/grpcwamp/bridge/internal/upstream"
)

// records is a slog.Handler keeping every record.
type records struct {
	mu   sync.Mutex
	list []slog.Record
}

func (h *records) Enabled(context.Context, slog.Level) bool { return true }
func (h *records) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *records) WithGroup(string) slog.Handler            { return h }

func (h *records) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	h.list = append(h.list, r.Clone())
	h.mu.Unlock()
	return nil
}

func (h *records) all() []slog.Record {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]slog.Record(nil), h.list...)
}

// TestCallUnreachable: a call that got past the readiness check (here, a
// Procedure resolved by hand) but found no connection to the upstream, on
// an address that refuses connections, fails with UNAVAILABLE whose
// message names the procedure and says to retry, as the readiness refusal
// does, without grpc-go's text and its address; that text goes to the log
// once, at warning level, however many calls fail so.
func TestCallUnreachable(t *testing.T) {
	t.Parallel()
	var lc net.ListenConfig
	lis, err := lc.Listen(t.Context(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	if err := lis.Close(); err != nil {
		t.Fatal(err)
	}
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cc.Close() })
	log := &records{}
	c := New(upstream.New(cc, nil, slog.New(slog.DiscardHandler)), transcode.DefaultOptions(), slog.New(log))
	cat := shadowCatalog(t)
	m, ok := cat.Lookup("shadow.S.Take")
	if !ok {
		t.Fatal("test bug: no shadow.S.Take")
	}
	p := &Procedure{name: "app.take", method: m, codec: c.codecFor(cat), core: c}

	const calls = 3
	for i := range calls {
		err := p.Call(t.Context(), nil, func(json.RawMessage) error {
			t.Error("a response from nowhere")
			return nil
		})
		st := status.Convert(err)
		if st.Code() != codes.Unavailable {
			t.Fatalf("call %d: %v, want UNAVAILABLE", i, err)
		}
		for _, want := range []string{`procedure "app.take": `, "shadow.S.Take", "not reachable", "not sent", "retry shortly"} {
			if !strings.Contains(st.Message(), want) {
				t.Errorf("call %d: message %q does not contain %q", i, st.Message(), want)
			}
		}
		if strings.Contains(st.Message(), addr) || strings.Contains(st.Message(), "127.0.0.1") {
			t.Errorf("call %d: message %q names the upstream's address", i, st.Message())
		}
		if f := c.Failure(err); f.URI != "wamp.error.unavailable" || strings.Contains(string(f.Details), "127.0.0.1") {
			t.Errorf("call %d: failure %s %s, want wamp.error.unavailable without the address", i, f.URI, f.Details)
		}
	}
	if n := c.Running(); n != 0 {
		t.Errorf("Running = %d after the calls, want 0", n)
	}

	logged := log.all()
	if len(logged) != 1 {
		t.Fatalf("%d log records for %d calls, want 1 (one a minute): %v", len(logged), calls, logged)
	}
	r := logged[0]
	attrs := map[string]string{}
	r.Attrs(func(a slog.Attr) bool {
		attrs[a.Key] = a.Value.String()
		return true
	})
	if r.Level != slog.LevelWarn || attrs["procedure"] != "app.take" || attrs["method"] != "shadow.S.Take" ||
		!strings.Contains(attrs["error"], `transport: Error while dialing: dial tcp `+addr) {
		t.Errorf("log record %v %q %v: want a warning with the procedure, the method and grpc-go's text naming %s", r.Level, r.Message, attrs, addr)
	}
}
