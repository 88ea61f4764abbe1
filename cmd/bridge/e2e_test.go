package main

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/wampbridge/grpcwamp/bridge"
)

// readyTimeout bounds the waits for readiness; it is not a performance
// threshold.
const readyTimeout = 10 * time.Second

var timeRE = regexp.MustCompile(`^\d{8} \d{2}:\d{2}:\d{2}$`)

// startBridge serves the demo clock through a bridge in an httptest server
// and returns the WebSocket URL and the handler, once the handler is ready.
// Everything stops when the test ends.
func startBridge(t *testing.T, opts ...bridge.Option) (string, *bridge.Handler) {
	t.Helper()
	addr, stopDemo, err := bridge.StartDemo(t.Context())
	if err != nil {
		t.Fatalf("bridge.StartDemo: %v", err)
	}
	t.Cleanup(stopDemo)
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatalf("grpc.NewClient(%q): %v", addr, err)
	}
	t.Cleanup(func() { _ = cc.Close() })
	h, srv := serveHandler(t, cc, opts...)
	return "ws" + strings.TrimPrefix(srv.URL, "http") + "/", h
}

// serveHandler serves a bridge in front of cc in an httptest server, once
// the handler is ready; the end of the test shuts both down.
func serveHandler(t *testing.T, cc *grpc.ClientConn, opts ...bridge.Option) (*bridge.Handler, *httptest.Server) {
	t.Helper()
	h, err := bridge.NewHandler(cc, opts...)
	if err != nil {
		t.Fatalf("bridge.NewHandler: %v", err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(func() {
		srv.Close() // forgets the WebSockets: the handler closes them
		ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
		defer cancel()
		if err := h.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	waitFor(t, "the bridge to be ready", h.Ready)
	return h, srv
}

// waitFor polls cond until it holds, failing the test after readyTimeout.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	deadline := time.NewTimer(readyTimeout)
	defer deadline.Stop()
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline.C:
			t.Fatalf("waited %v for %s", readyTimeout, what)
		case <-t.Context().Done():
			t.Fatalf("test ended waiting for %s", what)
		}
	}
}

// waitReady waits until GET /readyz on hostport, a bridge's listener,
// answers 200.
func waitReady(t *testing.T, hostport string) {
	t.Helper()
	hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	waitFor(t, "/readyz", func() bool {
		resp, err := hc.Get("http://" + hostport + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

type tick struct {
	Time  string `json:"time"`
	Index int32  `json:"index"`
}

// checkTicks checks that lines are ticks with indexes 1, 2, ...
func checkTicks(t *testing.T, lines []string) {
	t.Helper()
	for i, l := range lines {
		var tk tick
		if err := json.Unmarshal([]byte(l), &tk); err != nil {
			t.Errorf("line %d: %v: %s", i+1, err, l)
			continue
		}
		if tk.Index != int32(i+1) || !timeRE.MatchString(tk.Time) {
			t.Errorf("line %d = %s, want index %d and a time like 20261125 14:03:07", i+1, l, i+1)
		}
	}
}

func TestCallDemo(t *testing.T) {
	t.Parallel()
	url, _ := startBridge(t)
	const three = `{"count":3,"interval":"0.001s"}`
	for _, tc := range []struct {
		name  string
		args  []string
		ticks int    // lines of ticks first
		last  string // then this line: "null", "ticks" (a JSON array of ticks) or "time"
	}{
		{"progress", []string{url, "demo.v1.ClockService.GetProgressiveTime", three}, 3, "null"},
		{"last", []string{"-stream", "last", url, "demo.v1.ClockService.GetProgressiveTime", three}, 3, ""},
		{"collect", []string{"-stream", "collect", url, "demo.v1.ClockService.GetProgressiveTime", three}, 0, "ticks"},
		{"gRPC path", []string{url, "/demo.v1.ClockService/GetProgressiveTime", three}, 3, "null"},
		{"positional arguments, bare duration", []string{url, "GetProgressiveTime", "2", "0.001s"}, 2, "null"},
		{"empty stream", []string{url, "GetProgressiveTime", "0"}, 0, "null"},
		{"unary", []string{url, "GetTime"}, 0, "time"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			stdout, stderr := newLineWriter(), newLineWriter()
			if got := run(t.Context(), append([]string{"call"}, tc.args...), stdout, stderr); got != exitOK {
				t.Fatalf("exit status %d, want 0; stderr:\n%s", got, stderr)
			}
			lines := stdout.lines()
			want := tc.ticks
			if tc.last != "" {
				want++
			}
			if len(lines) != want {
				t.Fatalf("got %d lines, want %d:\n%s", len(lines), want, stdout)
			}
			checkTicks(t, lines[:tc.ticks])
			switch last := lines[len(lines)-1]; tc.last {
			case "null":
				if last != "null" {
					t.Errorf("last line = %s, want null", last)
				}
			case "ticks":
				var arr []json.RawMessage
				if err := json.Unmarshal([]byte(last), &arr); err != nil || len(arr) != 3 {
					t.Fatalf("last line = %s, want an array of 3 ticks (%v)", last, err)
				}
				var ls []string
				for _, a := range arr {
					ls = append(ls, string(a))
				}
				checkTicks(t, ls)
			case "time":
				var r struct{ Time string }
				if err := json.Unmarshal([]byte(last), &r); err != nil || !timeRE.MatchString(r.Time) {
					t.Errorf("last line = %s, want {\"time\": \"yyyymmdd hh:nn:ss\"} (%v)", last, err)
				}
			}
			if stderr.String() != "" {
				t.Errorf("stderr = %q, want nothing", stderr)
			}
		})
	}
}

func TestCallDemoErrors(t *testing.T) {
	t.Parallel()
	url, _ := startBridge(t)
	for _, tc := range []struct {
		name      string
		args      []string
		uri       string
		inMessage string
	}{
		{"unknown procedure", []string{url, "demo.v1.ClockService.NoSuchMethod"}, "wamp.error.no_such_procedure", "NoSuchMethod"},
		{"negative count", []string{url, "GetProgressiveTime", `{"count":-1}`}, "wamp.error.invalid_argument", `"count"`},
		{"count over the limit", []string{url, "GetProgressiveTime", "100001"}, "wamp.error.invalid_argument", "100000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			stdout, stderr := newLineWriter(), newLineWriter()
			if got := run(t.Context(), append([]string{"call"}, tc.args...), stdout, stderr); got != exitFailure {
				t.Fatalf("exit status %d, want 1; stderr:\n%s", got, stderr)
			}
			if stdout.String() != "" {
				t.Errorf("stdout = %q, want nothing", stdout)
			}
			// One line: the bridge's errorDetails only repeat it.
			lines := stderr.lines()
			if len(lines) != 1 {
				t.Fatalf("stderr has %d lines, want 1:\n%s", len(lines), stderr)
			}
			if prefix := "error: " + tc.uri + ": "; !strings.HasPrefix(lines[0], prefix) || !strings.Contains(lines[0], tc.inMessage) {
				t.Errorf("stderr line 1 = %q, want %q... containing %q", lines[0], prefix, tc.inMessage)
			}
		})
	}
}

// startCall runs `bridge call args...` in the background with ctx as its
// interrupt, waits for its first line of output and returns the channel of
// its exit status.
func startCall(t *testing.T, ctx context.Context, args []string, stdout, stderr *lineWriter) <-chan int {
	t.Helper()
	code := make(chan int, 1)
	go func() { code <- run(ctx, append([]string{"call"}, args...), stdout, stderr) }()
	select {
	case <-stdout.Lines:
	case c := <-code:
		t.Fatalf("call ended with %d before its first result; stderr:\n%s", c, stderr)
	}
	return code
}

// TestCallDemoInterrupt interrupts a stream after its first message: the
// client sends CALL_CANCEL, prints the CALLERROR and exits 130.
func TestCallDemoInterrupt(t *testing.T) {
	t.Parallel()
	url, _ := startBridge(t)
	ctx, interrupt := context.WithCancel(t.Context())
	defer interrupt()
	stdout, stderr := newLineWriter(), newLineWriter()
	code := startCall(t, ctx, []string{url, "GetProgressiveTime", `{"count":10,"interval":"3600s"}`}, stdout, stderr)
	interrupt()
	if got := <-code; got != exitInterrupted {
		t.Errorf("exit status %d, want %d; stderr:\n%s", got, exitInterrupted, stderr)
	}
	if n := len(stdout.lines()); n != 1 {
		t.Errorf("stdout has %d lines, want 1:\n%s", n, stdout)
	}
	if !strings.Contains(stderr.String(), "\nerror: wamp.error.canceled: ") {
		t.Errorf("stderr = %q, want the CANCELLED CALLERROR", stderr)
	}
}

// TestCallDemoShutdown shuts the bridge down during a call with no grace
// left: the client reports the CALLERROR UNAVAILABLE (or the 1001 close
// that follows it), and exits 1.
func TestCallDemoShutdown(t *testing.T) {
	t.Parallel()
	url, h := startBridge(t)
	stdout, stderr := newLineWriter(), newLineWriter()
	code := startCall(t, t.Context(), []string{url, "GetProgressiveTime", `{"count":10,"interval":"3600s"}`}, stdout, stderr)
	ctx, cancel := context.WithCancel(t.Context())
	cancel() // the grace is over at once: the call is cancelled
	if err := h.Shutdown(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Shutdown: %v, want an error wrapping context.Canceled", err)
	}
	if got := <-code; got != exitFailure {
		t.Errorf("exit status %d, want %d; stderr:\n%s", got, exitFailure, stderr)
	}
	if s := stderr.String(); !strings.Contains(s, "code 1001") && !strings.HasPrefix(s, "error: ") {
		t.Errorf("stderr = %q, want the 1001 close or a CALLERROR", s)
	}
}

// TestServe runs the serve command with the demo clock, calls it with the
// call command at the address it prints, and interrupts it.
func TestServe(t *testing.T) {
	t.Parallel()
	ctx, interrupt := context.WithCancel(t.Context())
	defer interrupt()
	stderr := newLineWriter()
	code := make(chan int, 1)
	go func() { code <- run(ctx, []string{"-listen", "127.0.0.1:0", "-stream", "last"}, nil, stderr) }()

	bannerRE := regexp.MustCompile(`^bridge: serving WAMP v1 on (ws://(127\.0\.0\.1:\d+)/) \(upstream: built-in demo clock at 127\.0\.0\.1:\d+\)$`)
	var url, addr string
	for url == "" {
		select {
		case l := <-stderr.Lines:
			if m := bannerRE.FindStringSubmatch(l); m != nil {
				url, addr = m[1], m[2]
			}
		case c := <-code:
			t.Fatalf("serve ended with %d before its banner; stderr:\n%s", c, stderr)
		}
	}
	if l := <-stderr.Lines; !strings.HasPrefix(l, "bridge: try: go run ./cmd/bridge call "+url+" ") {
		t.Errorf("second line = %q, want the try: line", l)
	}
	waitReady(t, addr)

	// -stream last is the server's default: 2 ticks, the last as the result.
	stdout, callErr := newLineWriter(), newLineWriter()
	if got := run(t.Context(), []string{"call", url, "GetProgressiveTime", "2", "0.001s"}, stdout, callErr); got != exitOK {
		t.Fatalf("call exit status %d, want 0; stderr:\n%s", got, callErr)
	}
	if lines := stdout.lines(); len(lines) != 2 {
		t.Errorf("call printed %d lines, want 2:\n%s", len(lines), stdout)
	} else {
		checkTicks(t, lines)
	}

	interrupt()
	if got := <-code; got != exitOK {
		t.Errorf("serve exit status %d, want 0; stderr:\n%s", got, stderr)
	}
}

func TestServeBadDescriptorSet(t *testing.T) {
	t.Parallel()
	stderr := newLineWriter()
	got := run(t.Context(), []string{"-listen", "127.0.0.1:0", "-descriptor-set", t.TempDir() + "/missing.binpb"}, nil, stderr)
	if got != exitFailure {
		t.Errorf("exit status %d, want %d", got, exitFailure)
	}
	if s := stderr.String(); !strings.HasPrefix(s, "error: ") || !strings.Contains(s, "missing.binpb") {
		t.Errorf("stderr = %q, want an error naming the file", s)
	}
}

// TestCallWrongPath: a call to a path of the bridge that is not its
// WebSocket endpoint says the handshake was not accepted, with the HTTP
// answer, and asks whether the path is right.
func TestCallWrongPath(t *testing.T) {
	t.Parallel()
	url, _ := startBridge(t)
	stderr := newLineWriter()
	if got := run(t.Context(), []string{"call", url + "healthz", "GetTime"}, newLineWriter(), stderr); got != exitFailure {
		t.Fatalf("exit status %d, want 1; stderr:\n%s", got, stderr)
	}
	if want := "did not accept the WebSocket handshake: 200 OK: ok; is the path right? the bridge's endpoint is its -path, / by default"; !strings.Contains(stderr.String(), want) {
		t.Errorf("stderr = %q, want it to contain %q", stderr, want)
	}
}
