package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"google.golang.org/grpc"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/resolver/manual"
)

// TestUpstreamRoundRobin: the connection serve dials (newUpstreamConn,
// with its round_robin service config) spreads the calls of one WebSocket
// session over the two addresses its target resolves to; when one replica
// stops, the calls go on, all on the other, and /readyz stays 200.
//
// Two servers on 127.0.0.1 cannot share a port, so a dns:/// name cannot
// resolve to both: a manual resolver stands in for the dns resolver, given
// to newUpstreamConn as any dial option would be.
func TestUpstreamRoundRobin(t *testing.T) {
	t.Parallel()
	addr1, svc1, stop1 := startEchoServer(t)
	addr2, svc2, _ := startEchoServer(t)
	res := manual.NewBuilderWithScheme("test")
	res.InitialState(resolver.State{Addresses: []resolver.Address{{Addr: addr1}, {Addr: addr2}}})
	cc, err := newUpstreamConn("test:///replicas", keepaliveParams{}, slog.New(slog.DiscardHandler), nil, grpc.WithResolvers(res))
	if err != nil {
		t.Fatalf("newUpstreamConn: %v", err)
	}
	t.Cleanup(func() { _ = cc.Close() })
	_, srv := serveHandler(t, cc)
	readyz := func() (int, string) {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+"/readyz", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatalf("GET /readyz: %v", err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}

	ctx, cancel := context.WithTimeout(t.Context(), readyTimeout)
	defer cancel()
	ws, _, err := websocket.DefaultDialer.DialContext(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+"/", nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer ws.Close()
	read := func() []json.RawMessage {
		t.Helper()
		if err := ws.SetReadDeadline(time.Now().Add(readyTimeout)); err != nil {
			t.Fatal(err)
		}
		_, data, err := ws.ReadMessage()
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		var f []json.RawMessage
		if err := json.Unmarshal(data, &f); err != nil || len(f) < 3 {
			t.Fatalf("frame %s: want a WAMP frame (%v)", data, err)
		}
		return f
	}
	read() // WELCOME
	n := 0
	// call makes one Echo call and reports whether it succeeded; the only
	// failure it accepts is UNAVAILABLE, from a replica that just stopped.
	call := func() bool {
		t.Helper()
		n++
		id := fmt.Sprintf("c%d", n)
		if err := ws.WriteMessage(websocket.TextMessage, fmt.Appendf(nil, `[2,%q,"bridgetest.v1.TestService.Echo",{"text":%q}]`, id, id)); err != nil {
			t.Fatalf("send call %s: %v", id, err)
		}
		f := read()
		switch string(f[0]) + " " + string(f[1]) + " " + string(f[2]) {
		case fmt.Sprintf(`4 %q "wamp.error.unavailable"`, id):
			return false
		}
		if string(f[0]) != "3" || string(f[1]) != fmt.Sprintf("%q", id) {
			t.Fatalf("call %s: got %s, want its CALLRESULT or CALLERROR wamp.error.unavailable", id, f)
		}
		return true
	}

	// round_robin picks among the ready replicas only, so the first calls
	// may all reach the replica that connected first: call until both have
	// served one, bounded by a call count.
	const maxCalls = 500
	for svc1.total() == 0 || svc2.total() == 0 {
		if n == maxCalls {
			t.Fatalf("after %d calls: replica 1 served %d, replica 2 %d; want both to serve some", n, svc1.total(), svc2.total())
		}
		if !call() {
			t.Fatalf("call c%d failed with both replicas up", n)
		}
	}
	// Both are ready now: round_robin alternates between them.
	const spread = 20
	b1, b2 := svc1.total(), svc2.total()
	for range spread {
		if !call() {
			t.Fatalf("call c%d failed with both replicas up", n)
		}
	}
	d1, d2 := svc1.total()-b1, svc2.total()-b2
	if d1+d2 != spread || d1 < spread/2-1 || d2 < spread/2-1 {
		t.Fatalf("%d calls: replica 1 served %d, replica 2 %d; want them spread evenly", spread, d1, d2)
	}

	// Stop replica 1. Calls picked for it before the balancer notices fail
	// with UNAVAILABLE; then every call succeeds, on replica 2. The
	// channel stays READY throughout, through replica 2.
	stop1()
	served1 := svc1.total() // Stop has waited for its handlers
	if code, body := readyz(); code != http.StatusOK {
		t.Errorf("GET /readyz right after replica 1 stopped: %d %q, want 200: replica 2 still serves", code, body)
	}
	const consecutive = 10
	start := n
	for ok := 0; ok < consecutive; {
		if n-start == maxCalls {
			t.Fatalf("%d calls after stopping replica 1, and never %d successes in a row", maxCalls, consecutive)
		}
		before := svc2.total()
		if !call() {
			ok = 0
			continue
		}
		if got := svc2.total(); got != before+1 {
			t.Fatalf("call c%d succeeded but replica 2 served %d calls, want 1", n, got-before)
		}
		ok++
	}
	if got := svc1.total(); got != served1 {
		t.Fatalf("stopped replica 1 served %d calls after Stop", got-served1)
	}
	if code, body := readyz(); code != http.StatusOK {
		t.Errorf("GET /readyz with replica 1 stopped: %d %q, want 200", code, body)
	}
}
