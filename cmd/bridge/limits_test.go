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
	if cfg.maxSessions != bridge.DefaultMaxSessions || cfg.maxUpstreamCalls != bridge.DefaultMaxUpstreamCalls ||
		cfg.maxResultSize != bridge.DefaultMaxResultSize || cfg.upstreamKeepalive != 0 {
		t.Errorf("defaults: -max-sessions %d, -max-upstream-calls %d, -max-result-size %d, -upstream-keepalive %v; want %d, %d, %d, 0",
			cfg.maxSessions, cfg.maxUpstreamCalls, cfg.maxResultSize, cfg.upstreamKeepalive,
			bridge.DefaultMaxSessions, bridge.DefaultMaxUpstreamCalls, bridge.DefaultMaxResultSize)
	}
	args := []string{"-max-sessions", "0", "-max-upstream-calls", "0", "-max-result-size", "0", "-upstream-keepalive", "5m"}
	if cfg, err = parseServeFlags(args, &stderr); err != nil {
		t.Fatalf("parseServeFlags(%q): %v (%s)", args, err, stderr.String())
	}
	if cfg.maxSessions != 0 || cfg.maxUpstreamCalls != 0 || cfg.maxResultSize != 0 || cfg.upstreamKeepalive != 5*time.Minute {
		t.Errorf("parseServeFlags(%q): -max-sessions %d, -max-upstream-calls %d, -max-result-size %d, -upstream-keepalive %v",
			args, cfg.maxSessions, cfg.maxUpstreamCalls, cfg.maxResultSize, cfg.upstreamKeepalive)
	}
	if cfg, err = parseServeFlags([]string{"-max-result-size", "1MiB"}, &stderr); err != nil || cfg.maxResultSize != 1<<20 {
		t.Errorf("-max-result-size 1MiB: %d, %v", cfg.maxResultSize, err)
	}
	for _, bad := range [][]string{{"-max-sessions", "-1"}, {"-max-upstream-calls", "-1"}, {"-max-result-size", "-1"}, {"-upstream-keepalive", "-1s"}} {
		stderr.Reset()
		if _, err := parseServeFlags(bad, &stderr); err == nil || !strings.Contains(err.Error(), bad[0]) {
			t.Errorf("parseServeFlags(%q): %v, want an error naming the flag", bad, err)
		}
	}
}

// wsDial opens a WAMP session at url and reads its WELCOME.
func wsDial(t *testing.T, url string) *websocket.Conn {
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

// wsCall sends frame and returns the next frame read, as JSON elements.
func wsCall(t *testing.T, ws *websocket.Conn, frame string) []json.RawMessage {
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

// isResourceExhausted reports whether f is a CALLERROR with the URI of
// RESOURCE_EXHAUSTED whose errorDesc contains want.
func isResourceExhausted(f []json.RawMessage, want string) bool {
	return len(f) == 5 && string(f[0]) == "4" && string(f[2]) == `"grpc.error.resource_exhausted"` && strings.Contains(string(f[3]), want)
}

// TestServeMaxUpstreamCalls: -max-upstream-calls reaches the bridge. With a
// limit of 1, a second session's call is refused while a first session's
// stream runs.
func TestServeMaxUpstreamCalls(t *testing.T) {
	t.Parallel()
	url, _ := runServe(t, "-max-upstream-calls", "1")
	waitReady(t, strings.TrimSuffix(strings.TrimPrefix(url, "ws://"), "/"))
	a, b := wsDial(t, url), wsDial(t, url)
	// The first tick comes at once; the stream then waits an hour.
	f := wsCall(t, a, `[2,"s","GetProgressiveTime",{"count":2,"interval":"3600s"}]`)
	if string(f[0]) != "1000" {
		t.Fatalf("stream: first frame %s, want a CALL_PROGRESS_RESULT", f)
	}
	if f = wsCall(t, b, `[2,"t","GetTime"]`); !isResourceExhausted(f, "limit of 1 upstream calls") {
		t.Errorf("call beyond -max-upstream-calls 1: got %s, want CALLERROR grpc.error.resource_exhausted naming the limit", f)
	}
}

// TestServeMaxResultSize: -max-result-size reaches the bridge: the clock's
// time, about 30 bytes of JSON, is over a limit of 16.
func TestServeMaxResultSize(t *testing.T) {
	t.Parallel()
	url, _ := runServe(t, "-max-result-size", "16")
	waitReady(t, strings.TrimSuffix(strings.TrimPrefix(url, "ws://"), "/"))
	if f := wsCall(t, wsDial(t, url), `[2,"t","GetTime"]`); !isResourceExhausted(f, "more than 16 bytes of JSON") {
		t.Errorf("GetTime with -max-result-size 16: got %s, want CALLERROR grpc.error.resource_exhausted naming the limit", f)
	}
}
