package main

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestServeHTTPTimeouts: a connection that sends only part of a request
// head, and a keep-alive connection left idle after a request, are closed
// by the bridge, on the WebSocket listener and on -debug-listen alike.
// Not parallel: it shortens the package's timeouts while it runs.
func TestServeHTTPTimeouts(t *testing.T) {
	defer func(h, i time.Duration) { readHeaderTimeout, idleTimeout = h, i }(readHeaderTimeout, idleTimeout)
	readHeaderTimeout, idleTimeout = 50*time.Millisecond, 50*time.Millisecond

	url, stderr := runServe(t, "-debug-listen", "127.0.0.1:0")
	ws := strings.TrimSuffix(strings.TrimPrefix(url, "ws://"), "/")
	_, debug, ok := strings.Cut(stderr.String(), "pprof: http://")
	if !ok {
		t.Fatalf("banner names no pprof URL; stderr:\n%s", stderr)
	}
	debug, _, _ = strings.Cut(debug, "/")

	for _, tc := range []struct{ listener, addr, path string }{
		{"WebSocket listener", ws, "/healthz"},
		{"-debug-listen", debug, "/debug/pprof/cmdline"},
	} {
		t.Run(tc.listener+"/partial head", func(t *testing.T) {
			c := dial(t, tc.addr)
			if _, err := io.WriteString(c, "GET "+tc.path+" HTTP/1.1\r\nHost: x\r\n"); err != nil {
				t.Fatal(err)
			}
			expectClosed(t, c, bufio.NewReader(c))
		})
		t.Run(tc.listener+"/idle keep-alive", func(t *testing.T) {
			c := dial(t, tc.addr)
			if _, err := io.WriteString(c, "GET "+tc.path+" HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
				t.Fatal(err)
			}
			r := bufio.NewReader(c)
			resp, err := http.ReadResponse(r, nil)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || resp.Close {
				t.Fatalf("GET %s: status %d, close %v; want 200 on a connection kept alive", tc.path, resp.StatusCode, resp.Close)
			}
			expectClosed(t, c, r)
		})
	}
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
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
