package main

import (
	"bytes"
	"fmt"
	"testing"
)

// TestWSRelay drives the WebSocket relay as the reference figures do: a
// unary CALL gets its CALLRESULT, a stream its progress frames and then
// its CALLRESULT, a CALL it does not serve a CALLERROR, and a cancelled
// stream ends with a CALLERROR. (The
// relay's role is not run here: it would set this process's GOMAXPROCS.)
func TestWSRelay(t *testing.T) {
	t.Parallel()
	c := relaySession(t)
	read := func(what string) []byte {
		t.Helper()
		f, err := c.read()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return f
	}

	if err := c.send(appendUnaryCall(nil, 7)); err != nil {
		t.Fatal(err)
	}
	if f := read("unary"); !bytes.HasPrefix(f, []byte(`[3,"u7",{"payload":{`)) {
		t.Errorf("unary: %s, want the CALLRESULT of u7", f)
	}

	if err := c.send(fmt.Appendf(nil, `[2,"s","%s",{"count":"3"}]`, procStream)); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if f := read("stream"); !bytes.HasPrefix(f, []byte(`[1000,"s",{"payload":{`)) {
			t.Fatalf("stream: frame %d: %s, want a CALL_PROGRESS_RESULT of s", i, f)
		}
	}
	if f := read("stream"); !bytes.HasPrefix(f, []byte(`[3,"s",`)) {
		t.Errorf("stream: after 3 messages: %s, want the CALLRESULT of s", f)
	}

	if err := c.send([]byte(`[2,"x","bench.v1.BenchService.Other",{}]`)); err != nil {
		t.Fatal(err)
	}
	if f := read("other CALL"); !bytes.HasPrefix(f, []byte(`[4,"x",`)) {
		t.Errorf("a CALL of another procedure: %s, want the CALLERROR of x", f)
	}

	if err := c.send(fmt.Appendf(nil, `[2,"c","%s",{"count":"%d"}]`, procStream, streamCount)); err != nil {
		t.Fatal(err)
	}
	read("stream to cancel")
	if err := c.send([]byte(`[1001,"c"]`)); err != nil {
		t.Fatal(err)
	}
	for {
		f := read("cancelled stream")
		if bytes.HasPrefix(f, []byte(`[4,"c",`)) {
			break
		}
		if !bytes.HasPrefix(f, []byte(`[1000,"c",`)) {
			t.Fatalf("cancelled stream: %s, want progress frames, then the CALLERROR of c", f)
		}
	}
}

// relaySession starts an upstream and the WebSocket relay in front of it,
// and opens a session with the relay; the test's cleanup stops them all.
func relaySession(t *testing.T) *wsClient {
	t.Helper()
	upAddr, stopUp, err := startUpstream()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stopUp)
	url, stop, err := startWSRelay(upAddr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	c, err := dialWAMP(t.Context(), url, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.close() })
	return c
}

// TestParseRelayCall checks that the relay reads the benchmark's CALLs,
// and nothing else.
func TestParseRelayCall(t *testing.T) {
	for _, tc := range []struct {
		frame  string
		id     string
		method string
		num    uint64
	}{
		{frame: `[2,"u12","bench.v1.BenchService.Unary",{"seq":12}]`, id: "u12", method: wsRelayUnary, num: 12},
		{frame: `[2,"s","bench.v1.BenchService.Stream",{"count":"1099511627776"}]`, id: "s", method: wsRelayStream, num: 1 << 40},
		{frame: `[2,"x","bench.v1.BenchService.Other",{"seq":1}]`},
		{frame: `[2,"x","bench.v1.BenchService.Unary",{"seq":"one"}]`},
		{frame: `[2,"x`},
		{frame: `[1001,"s"]`},
	} {
		id, method, num, ok := parseRelayCall([]byte(tc.frame))
		if ok != (tc.method != "") || id != tc.id || method != tc.method || num != tc.num {
			t.Errorf("parseRelayCall(%s) = %q, %q, %d, %v; want %q, %q, %d", tc.frame, id, method, num, ok, tc.id, tc.method, tc.num)
		}
	}
}

// TestWSRelayProtocolError breaks the protocol in the middle of a stream:
// gorilla's reader then writes a close frame itself, while the relay's
// writer flushes the stream's frames, and the race detector would see the
// two share the batch buffer unlocked. The session ends.
func TestWSRelayProtocolError(t *testing.T) {
	t.Parallel()
	c := relaySession(t)
	if err := c.send(fmt.Appendf(nil, `[2,"s","%s",{"count":"%d"}]`, procStream, streamCount)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.read(); err != nil {
		t.Fatal(err)
	}
	// A masked frame of the reserved opcode 3, empty.
	if _, err := c.conn.NetConn().Write([]byte{0x83, 0x80, 1, 2, 3, 4}); err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := c.read(); err != nil {
			return // the relay closed the session
		}
	}
}
