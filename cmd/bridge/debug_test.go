package main

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// TestServeDebugListen: -debug-listen serves Go's profiles on a listener of
// its own, which the banner names; the WebSocket port does not serve them.
func TestServeDebugListen(t *testing.T) {
	t.Parallel()
	url, stderr := runServe(t, "-debug-listen", "127.0.0.1:0")
	m := regexp.MustCompile(`pprof: (http://127\.0\.0\.1:\d+/debug/pprof/)\)`).FindStringSubmatch(stderr.String())
	if m == nil {
		t.Fatalf("banner names no pprof URL; stderr:\n%s", stderr)
	}
	client := &http.Client{}
	defer client.CloseIdleConnections()
	get := func(u string) (int, string) {
		t.Helper()
		return httpGet(t, client, u)
	}
	if code, body := get(m[1] + "heap?gc=1&debug=1"); code != http.StatusOK || !strings.Contains(body, "# HeapInuse = ") {
		t.Errorf("GET heap profile: %d, body without runtime.MemStats:\n%.300s", code, body)
	}
	ws := "http" + strings.TrimPrefix(url, "ws")
	if code, _ := get(ws + "debug/pprof/"); code == http.StatusOK {
		t.Errorf("the WebSocket port serves /debug/pprof/: want it only on -debug-listen")
	}
}
