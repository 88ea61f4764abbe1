package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wampbridge/grpcwamp/bridge"
)

func TestParseLimitFlags(t *testing.T) {
	t.Parallel()
	var stderr strings.Builder
	cfg, err := parseServeFlags(nil, &stderr)
	if err != nil {
		t.Fatalf("parseServeFlags(): %v (%s)", err, stderr.String())
	}
	if cfg.maxSessions != bridge.DefaultMaxSessions || cfg.maxUpstreamCalls != bridge.DefaultMaxUpstreamCalls || cfg.upstreamKeepalive != 0 {
		t.Errorf("defaults: -max-sessions %d, -max-upstream-calls %d, -upstream-keepalive %v; want %d, %d, 0",
			cfg.maxSessions, cfg.maxUpstreamCalls, cfg.upstreamKeepalive, bridge.DefaultMaxSessions, bridge.DefaultMaxUpstreamCalls)
	}
	args := []string{"-max-sessions", "0", "-max-upstream-calls", "0", "-upstream-keepalive", "5m"}
	if cfg, err = parseServeFlags(args, &stderr); err != nil {
		t.Fatalf("parseServeFlags(%q): %v (%s)", args, err, stderr.String())
	}
	if cfg.maxSessions != 0 || cfg.maxUpstreamCalls != 0 || cfg.upstreamKeepalive != 5*time.Minute {
		t.Errorf("parseServeFlags(%q): -max-sessions %d, -max-upstream-calls %d, -upstream-keepalive %v",
			args, cfg.maxSessions, cfg.maxUpstreamCalls, cfg.upstreamKeepalive)
	}
	for _, bad := range [][]string{{"-max-sessions", "-1"}, {"-max-upstream-calls", "-1"}, {"-upstream-keepalive", "-1s"}} {
		stderr.Reset()
		if _, err := parseServeFlags(bad, &stderr); err == nil || !strings.Contains(err.Error(), bad[0]) {
			t.Errorf("parseServeFlags(%q): %v, want an error naming the flag", bad, err)
		}
	}
}

// TestServeMaxUpstreamCalls: -max-upstream-calls reaches the bridge. With a
// limit of 1, a second session's call is refused while a first session's
// stream runs.
func TestServeMaxUpstreamCalls(t *testing.T) {
	t.Parallel()
	url, _ := runServe(t, "-max-upstream-calls", "1")
	waitReady(t, strings.TrimSuffix(strings.TrimPrefix(url, "ws://"), "/"))
	dial := func() *websocket.Conn {
		t.Helper()
		ws, _, err := websocket.DefaultDialer.DialContext(t.Context(), url, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ws.Close() })
		ws.SetReadDeadline(time.Now().Add(2 * readyTimeout))
		if _, _, err := ws.ReadMessage(); err != nil { // WELCOME
			t.Fatal(err)
		}
		return ws
	}
	call := func(ws *websocket.Conn, frame string) []json.RawMessage {
		t.Helper()
		if err := ws.WriteMessage(websocket.TextMessage, []byte(frame)); err != nil {
			t.Fatal(err)
		}
		_, data, err := ws.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		var f []json.RawMessage
		if err := json.Unmarshal(data, &f); err != nil {
			t.Fatalf("frame %s: %v", data, err)
		}
		return f
	}
	a, b := dial(), dial()
	// The first tick comes at once; the stream then waits an hour.
	f := call(a, `[2,"s","GetProgressiveTime",{"count":2,"interval":"3600s"}]`)
	if string(f[0]) != "1000" {
		t.Fatalf("stream: first frame %s, want a CALL_PROGRESS_RESULT", f)
	}
	f = call(b, `[2,"t","GetTime"]`)
	if len(f) != 5 || string(f[0]) != "4" || string(f[2]) != `"grpc.error.resource_exhausted"` || !strings.Contains(string(f[3]), "limit of 1 upstream calls") {
		t.Errorf("call beyond -max-upstream-calls 1: got %s, want CALLERROR grpc.error.resource_exhausted naming the limit", f)
	}
}
