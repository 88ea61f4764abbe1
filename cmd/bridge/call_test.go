package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wampbridge/grpcwamp/bridge/wampv1"
)

// script plays the server's side of one call after the CALL has arrived.
type script func(conn *websocket.Conn, call *wampv1.Call)

// fakeServer serves WAMP v1 at the returned ws:// URL: it sends first (a
// WELCOME when nil), reads the CALL, runs s, then reads until the client
// closes. It waits for its connections when the test ends.
func fakeServer(t *testing.T, first wampv1.Message, s script) string {
	t.Helper()
	if first == nil {
		first = &wampv1.Welcome{SessionID: "s1", ProtocolVersion: 1, ServerIdent: "fake"}
	}
	var wg sync.WaitGroup
	up := websocket.Upgrader{Subprotocols: []string{"wamp"}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Add before the hijack: until then srv.Close waits for this
		// request, so wg.Wait below cannot miss it.
		wg.Add(1)
		defer wg.Done()
		conn, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer conn.Close()
		if err := conn.WriteMessage(websocket.TextMessage, wampv1.Encode(first)); err != nil {
			return
		}
		_, data, err := conn.ReadMessage()
		if err != nil {
			return
		}
		if m, err := wampv1.Decode(data); err == nil {
			if call, ok := m.(*wampv1.Call); ok {
				s(conn, call)
			}
		}
		for {
			if _, _, err := conn.ReadMessage(); err != nil {
				return
			}
		}
	}))
	t.Cleanup(func() {
		srv.Close() // forgets hijacked connections: wait for them
		wg.Wait()
	})
	return "ws" + strings.TrimPrefix(srv.URL, "http") + "/"
}

func send(conn *websocket.Conn, frame string) {
	_ = conn.WriteMessage(websocket.TextMessage, []byte(frame))
}

// q quotes a call id for a frame.
func q(s string) string { return `"` + s + `"` }

func TestCallFrames(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		first      wampv1.Message
		script     script
		args       []string // after URL
		want       int
		wantStdout string
		wantStderr string // substring
	}{
		{
			name: "progress then result, others ignored",
			script: func(conn *websocket.Conn, c *wampv1.Call) {
				send(conn, `[1000, "other", 1]`)
				send(conn, `[99, "unknown type"]`)
				send(conn, `[8, "topic", {}]`)
				send(conn, "[1000, "+q(c.CallID)+", {\"a\": 1,\n \"b\": [1, 2]}]")
				send(conn, `[3, "other", 0]`)
				send(conn, "[3, "+q(c.CallID)+", 2]")
			},
			args:       []string{"P"},
			want:       exitOK,
			wantStdout: "{\"a\":1,\"b\":[1,2]}\n2\n",
		},
		{
			name: "arguments as JSON or strings",
			script: func(conn *websocket.Conn, c *wampv1.Call) {
				var got []string
				for _, a := range c.Args {
					got = append(got, string(a))
				}
				result := `"bad"`
				if c.ProcURI == "demo:P" && strings.Join(got, " ") == `3 "hello" {"a":1} "3"` {
					result = `"ok"`
				}
				send(conn, "[3, "+q(c.CallID)+", "+result+"]")
			},
			args:       []string{"demo:P", "3", "hello", `{"a": 1}`, `"3"`},
			want:       exitOK,
			wantStdout: "\"ok\"\n",
		},
		{
			name: "null result",
			script: func(conn *websocket.Conn, c *wampv1.Call) {
				send(conn, "[3, "+q(c.CallID)+", null]")
			},
			args:       []string{"P"},
			want:       exitOK,
			wantStdout: "null\n",
		},
		{
			name: "CALLERROR with details",
			script: func(conn *websocket.Conn, c *wampv1.Call) {
				send(conn, "[1000, "+q(c.CallID)+", 1]")
				send(conn, "[4, "+q(c.CallID)+`, "grpc.error.not_found", "no such thing", {"code": 5, "status": "NOT_FOUND"}]`)
			},
			args:       []string{"P"},
			want:       exitFailure,
			wantStdout: "1\n",
			wantStderr: "error: grpc.error.not_found: no such thing\n{\"code\":5,\"status\":\"NOT_FOUND\"}\n",
		},
		{
			// The bridge's own details repeat errorDesc: nothing more is
			// printed, unless they carry google.rpc.Status details.
			name: "CALLERROR with details that repeat it",
			script: func(conn *websocket.Conn, c *wampv1.Call) {
				send(conn, "[4, "+q(c.CallID)+`, "wamp.error.invalid_argument", "bad count", {"code": 3, "status": "INVALID_ARGUMENT", "message": "bad count", "details": []}]`)
			},
			args:       []string{"P"},
			want:       exitFailure,
			wantStderr: "error: wamp.error.invalid_argument: bad count\n",
		},
		{
			// Another server's shape, whose code is not gRPC's: shown.
			name: "CALLERROR with details of another shape",
			script: func(conn *websocket.Conn, c *wampv1.Call) {
				send(conn, "[4, "+q(c.CallID)+`, "x.error", "boom", {"code": 1234, "status": "", "message": "boom", "details": []}]`)
			},
			args:       []string{"P"},
			want:       exitFailure,
			wantStderr: "error: x.error: boom\n{\"code\":1234,",
		},
		{
			name: "CALLERROR with status details",
			script: func(conn *websocket.Conn, c *wampv1.Call) {
				send(conn, "[4, "+q(c.CallID)+`, "wamp.error.invalid_argument", "bad count", {"code": 3, "status": "INVALID_ARGUMENT", "message": "bad count", "details": [{"@type": "type.googleapis.com/google.rpc.BadRequest"}]}]`)
			},
			args:       []string{"P"},
			want:       exitFailure,
			wantStderr: "error: wamp.error.invalid_argument: bad count\n{\"code\":3,",
		},
		{
			name: "CALLERROR without details",
			script: func(conn *websocket.Conn, c *wampv1.Call) {
				send(conn, "[4, "+q(c.CallID)+`, "x.error", "boom"]`)
			},
			args:       []string{"P"},
			want:       exitFailure,
			wantStderr: "error: x.error: boom\n",
		},
		{
			name: "closed before the end",
			script: func(conn *websocket.Conn, c *wampv1.Call) {
				send(conn, "[1000, "+q(c.CallID)+", 1]")
				_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(4000, "bye"), time.Now().Add(time.Second))
			},
			args:       []string{"P"},
			want:       exitFailure,
			wantStdout: "1\n",
			wantStderr: `connection closed before the call ended: code 4000, reason "bye"`,
		},
		{
			name: "bad frame",
			script: func(conn *websocket.Conn, c *wampv1.Call) {
				send(conn, `{"not": "an array"}`)
			},
			args:       []string{"P"},
			want:       exitFailure,
			wantStderr: "bad frame from the server",
		},
		{
			name:       "first frame not WELCOME",
			first:      &wampv1.CallResult{CallID: "x", Result: []byte("1")},
			args:       []string{"P"},
			want:       exitFailure,
			wantStderr: "first frame is CallResult, want Welcome",
		},
		{
			name:       "WAMP v2 WELCOME",
			first:      &wampv1.Welcome{SessionID: "s", ProtocolVersion: 2, ServerIdent: "x"},
			args:       []string{"P"},
			want:       exitFailure,
			wantStderr: "version 2",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			url := fakeServer(t, tc.first, tc.script)
			stdout, stderr := newLineWriter(), newLineWriter()
			got := run(t.Context(), append([]string{"call", url}, tc.args...), stdout, stderr)
			if got != tc.want {
				t.Errorf("exit status %d, want %d; stderr:\n%s", got, tc.want, stderr)
			}
			if stdout.String() != tc.wantStdout {
				t.Errorf("stdout = %q, want %q", stdout, tc.wantStdout)
			}
			if !strings.Contains(stderr.String(), tc.wantStderr) {
				t.Errorf("stderr = %q, want it to contain %q", stderr, tc.wantStderr)
			}
		})
	}
}

// TestCallCancelUnanswered interrupts a call whose server never answers
// the CALL_CANCEL: the client sends it once, gives up after cancelWait and
// exits 130.
func TestCallCancelUnanswered(t *testing.T) {
	t.Parallel()
	gotCall := make(chan string, 1)
	gotCancel := make(chan wampv1.Message, 1)
	url := fakeServer(t, nil, func(conn *websocket.Conn, c *wampv1.Call) {
		gotCall <- c.CallID
		_, data, err := conn.ReadMessage()
		if err != nil {
			close(gotCancel)
			return
		}
		m, _ := wampv1.Decode(data)
		gotCancel <- m
	})
	ctx, interrupt := context.WithCancel(t.Context())
	defer interrupt()
	stdout, stderr := newLineWriter(), newLineWriter()
	code := make(chan int, 1)
	go func() {
		code <- call(ctx, callConfig{url: url, procedure: "P", cancelWait: time.Millisecond}, stdout, stderr)
	}()
	var id string
	select {
	case id = <-gotCall:
	case c := <-code:
		t.Fatalf("call ended with %d before the server saw the CALL; stderr:\n%s", c, stderr)
	}
	interrupt()
	if c := <-code; c != exitInterrupted {
		t.Errorf("exit status %d, want %d", c, exitInterrupted)
	}
	m := <-gotCancel
	if cc, ok := m.(*wampv1.CallCancel); !ok || cc.CallID != id {
		t.Errorf("server got %#v after the CALL, want CALL_CANCEL for %q", m, id)
	}
	for _, want := range []string{"interrupted: cancelling call " + id, "no answer to CALL_CANCEL"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr = %q, want it to contain %q", stderr, want)
		}
	}
}

// TestCallTimeout gives up on a call that does not end within -timeout. The
// timeout may pass while connecting or after the CALL; either way the status
// is 1.
func TestCallTimeout(t *testing.T) {
	t.Parallel()
	url := fakeServer(t, nil, func(conn *websocket.Conn, c *wampv1.Call) {
		if _, _, err := conn.ReadMessage(); err != nil {
			return
		}
		send(conn, "[4, "+q(c.CallID)+`, "wamp.error.canceled", "call cancelled"]`)
	})
	stdout, stderr := newLineWriter(), newLineWriter()
	if got := run(t.Context(), []string{"call", "-timeout", "1ms", url, "P"}, stdout, stderr); got != exitFailure {
		t.Errorf("exit status %d, want %d; stderr:\n%s", got, exitFailure, stderr)
	}
}
