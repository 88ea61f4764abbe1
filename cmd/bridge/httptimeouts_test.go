package main

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestServeHTTPTimeouts: a connection that sends only part of a request
// head, one that trickles a request's body, and a keep-alive connection
// left idle after a request are closed by the bridge, on the WebSocket
// listener and on -debug-listen alike; a request head over maxHeaderBytes
// is refused with 431. Not parallel: it shortens the package's timeouts
// while it runs.
func TestServeHTTPTimeouts(t *testing.T) {
	defer func(h, r, i time.Duration) { readHeaderTimeout, readTimeout, idleTimeout = h, r, i }(readHeaderTimeout, readTimeout, idleTimeout)
	readHeaderTimeout, readTimeout, idleTimeout = 50*time.Millisecond, 100*time.Millisecond, 50*time.Millisecond

	url, stderr := runServe(t, "-debug-listen", "127.0.0.1:0")
	ws := strings.TrimSuffix(strings.TrimPrefix(url, "ws://"), "/")
	_, debug, ok := strings.Cut(stderr.String(), "pprof: http://")
	if !ok {
		t.Fatalf("banner names no pprof URL; stderr:\n%s", stderr)
	}
	debug, _, _ = strings.Cut(debug, "/")

	// The timeouts are for plain HTTP: a WebSocket session outlives them.
	// Its progressive call runs 300 ms, three times the read timeout.
	t.Run("WebSocket session", func(t *testing.T) {
		waitReady(t, ws)
		d := websocket.Dialer{Subprotocols: []string{"wamp"}}
		ws, _, err := d.DialContext(t.Context(), url, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer ws.Close()
		if err := ws.WriteMessage(websocket.TextMessage, []byte(`[2,"p","demo.v1.ClockService.GetProgressiveTime",{"count":3,"interval":"0.1s"}]`)); err != nil {
			t.Fatal(err)
		}
		var got []string
		for {
			_, data, err := ws.ReadMessage()
			if err != nil {
				t.Fatalf("after %q: %v", got, err)
			}
			f := string(data)
			if strings.HasPrefix(f, "[4,") {
				t.Fatalf("CALLERROR %s", f)
			}
			got = append(got, f[:min(len(f), 4)])
			if strings.HasPrefix(f, "[3,") || strings.HasPrefix(f, "[4,") {
				break
			}
		}
		if want := []string{"[0,\"", "[100", "[100", "[100", "[3,\""}; !slices.Equal(got, want) {
			t.Errorf("frames beginning %q, want %q: WELCOME, three progress frames and the CALLRESULT", got, want)
		}
	})

	for _, tc := range []struct{ listener, addr, path string }{
		{"WebSocket listener", ws, "/healthz"},
		{"-debug-listen", debug, "/debug/pprof/cmdline"},
	} {
		t.Run(tc.listener+"/partial head", func(t *testing.T) {
			c, r := sendRaw(t, tc.addr, "GET "+tc.path+" HTTP/1.1\r\nHost: x\r\n")
			expectClosed(t, c, r)
		})
		t.Run(tc.listener+"/trickled body", func(t *testing.T) {
			// The handler answers without reading the body; net/http
			// then reads the rest of it, which never comes.
			c, r := sendRaw(t, tc.addr, "POST "+tc.path+" HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nx")
			// net/http answers once it has read the body, or given up.
			response(t, r, "POST whose body never comes", "an answer once the read timeout ends the request")
			expectClosed(t, c, r)
		})
		t.Run(tc.listener+"/large head", func(t *testing.T) {
			big := strings.Repeat("x", maxHeaderBytes+8<<10) // past net/http's slack too
			_, r := sendRaw(t, tc.addr, "GET "+tc.path+" HTTP/1.1\r\nHost: x\r\nX-Big: "+big+"\r\n\r\n")
			if resp := response(t, r, "GET with a large header", "431"); resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
				t.Errorf("GET with a %d-byte header: status %d, want 431", len(big), resp.StatusCode)
			}
		})
		t.Run(tc.listener+"/idle keep-alive", func(t *testing.T) {
			c, r := sendRaw(t, tc.addr, "GET "+tc.path+" HTTP/1.1\r\nHost: x\r\n\r\n")
			if resp := response(t, r, "GET "+tc.path, "200"); resp.StatusCode != http.StatusOK || resp.Close {
				t.Fatalf("GET %s: status %d, close %v; want 200 on a connection kept alive", tc.path, resp.StatusCode, resp.Close)
			}
			expectClosed(t, c, r)
		})
	}
}

// sendRaw dials addr and writes request, raw; it returns the connection and
// a reader of what comes back.
func sendRaw(t *testing.T, addr, request string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c := dial(t, addr)
	if _, err := io.WriteString(c, request); err != nil {
		t.Fatal(err)
	}
	return c, bufio.NewReader(c)
}

// response reads the response to what from r, body and all; want says
// what was expected, for the failure of a read.
func response(t *testing.T, r *bufio.Reader, what, want string) *http.Response {
	t.Helper()
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		t.Fatalf("%s: %v; want %s", what, err, want)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	// Only keeps a failing test from hanging: the timeouts under test
	// are at most 100 ms.
	c.SetDeadline(time.Now().Add(20 * time.Second))
	return c
}

// expectClosed waits for the server to close c without sending anything.
// The deadline only keeps a failing test from hanging: the timeouts under
// test are 50 ms.
func expectClosed(t *testing.T, c net.Conn, r *bufio.Reader) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	b, err := r.ReadByte()
	var ne net.Error
	switch {
	case errors.Is(err, io.EOF):
	case errors.As(err, &ne) && ne.Timeout():
		t.Fatal("the connection is still open 20 s later: want the bridge to close it")
	case err == nil:
		t.Fatalf("the bridge sent %q, want it to close the connection", b)
	default:
		t.Fatal(err)
	}
}
