package bridge_test

// §3 cancellation: CALL_CANCEL, closing the socket (shutting the bridge
// down is in e2e_shutdown_test.go). The upstream service reports when a call's context is cancelled, so
// the tests observe the cancellation itself, not a timing.

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/wampbridge/grpcwamp/bridge"
	"github.com/wampbridge/grpcwamp/bridge/internal/bridgetest"
)

// TestE2ECallCancel: §3. CALL_CANCEL cancels the upstream call's context at
// once; the caller receives exactly one CALLERROR CANCELLED
// (wamp.error.canceled) and nothing for that call after it. Every kind of
// method is cancelled while its upstream blocks: Stream with block, the
// others held by the test service.
func TestE2ECallCancel(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		mode bridge.StreamMode
		proc string
		// args are the CALL's arguments, a format in which %[1]s is the
		// tag (an explicit index, so args may leave it out).
		args string
		// key is what the upstream reports the call's events under: the
		// tag when "". It is held (Service.Hold), which Stream ignores:
		// it blocks with block: true.
		key string
		// before lists the frames the call delivers before it blocks.
		before []string
		// lastHeld: in last mode the held-back message may be delivered
		// as progress just before the CALLERROR; the contract does not say
		// whether a cancelled call delivers it, so both are accepted.
		lastHeld string
	}{
		{"progress/after a message", bridge.StreamProgress, streamProc, `{"count":1,"block":true,"tag":"%[1]s"}`, "", []string{`[1000,"c",{"index":1,"tag":"%s"}]`}, ""},
		{"progress/before any message", bridge.StreamProgress, streamProc, `{"count":0,"block":true,"tag":"%[1]s"}`, "", nil, ""},
		{"collect", bridge.StreamCollect, streamProc, `{"count":2,"block":true,"tag":"%[1]s"}`, "", nil, ""},
		{"last", bridge.StreamLast, streamProc, `{"count":2,"block":true,"tag":"%[1]s"}`, "", []string{`[1000,"c",{"index":1,"tag":"%s"}]`}, `[1000,"c",{"index":2,"tag":"%s"}]`},
		{"unary", bridge.StreamProgress, echoProc, `{"text":"%[1]s"}`, "", nil, ""},
		{"client-stream", bridge.StreamProgress, sumProc, `[1,2]`, bridgetest.SumKey, nil, ""},
		{"bidi/progress", bridge.StreamProgress, chatProc, `{"text":"%[1]s","repeat":1}`, "", []string{`[1000,"c",{"text":"%s","index":1}]`}, ""},
		{"bidi/collect", bridge.StreamCollect, chatProc, `{"text":"%[1]s","repeat":2}`, "", nil, ""},
		{"bidi/last", bridge.StreamLast, chatProc, `{"text":"%[1]s","repeat":2}`, "", []string{`[1000,"c",{"text":"%s","index":1}]`}, `[1000,"c",{"text":"%s","index":2}]`},
	}
	forEachDiscovery(t, func(t *testing.T, d bridgetest.Discovery) {
		e := start(t, d)
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				tag, key := t.Name(), tc.key
				if key == "" {
					key = tag
				}
				e.svc.Hold(key)
				c := e.connect(t, "?stream="+tc.mode.String())
				c.Send(t, fmt.Sprintf(`[2,"c",%[2]q,`+tc.args+`]`, tag, tc.proc))
				for _, f := range tc.before {
					c.ExpectFrame(t, fmt.Sprintf(f, tag))
				}
				if err := e.svc.WaitBlocked(t.Context(), key); err != nil {
					t.Fatal(err)
				}
				c.Send(t, `[1001,"c"]`)
				if err := e.svc.WaitCanceled(t.Context(), key); err != nil {
					t.Fatal(err)
				}
				data := c.Read(t)
				if tc.lastHeld != "" && bridgetest.JSONEqual(data, []byte(fmt.Sprintf(tc.lastHeld, tag))) == nil {
					data = c.Read(t)
				}
				ce, err := bridgetest.ParseCallError(data, "c", 1)
				if err != nil {
					t.Fatal(err)
				}
				// The bridge's own words, not the context's "context canceled":
				// the call is marked cancelled, which decides its end even if
				// the upstream finishes first.
				if want := `call "c" was cancelled by CALL_CANCEL`; ce.Desc != want {
					t.Errorf("errorDesc %q, want %q", ce.Desc, want)
				}
				c.Sync(t) // nothing after the CALLERROR
			})
		}
		t.Run("one of two", func(t *testing.T) {
			t.Parallel()
			a, b := t.Name()+"/a", t.Name()+"/b"
			c := e.connect(t, "?stream=progress")
			c.Send(t, fmt.Sprintf(`[2,"a",%q,{"block":true,"tag":%q}]`, streamProc, a))
			c.Send(t, fmt.Sprintf(`[2,"b",%q,{"block":true,"tag":%q}]`, streamProc, b))
			for _, tag := range []string{a, b} {
				if err := e.svc.WaitBlocked(t.Context(), tag); err != nil {
					t.Fatal(err)
				}
			}
			c.Send(t, `[1001,"a"]`)
			if err := e.svc.WaitCanceled(t.Context(), a); err != nil {
				t.Fatal(err)
			}
			c.ExpectCallError(t, "a", 1)
			if e.svc.Canceled(b) {
				t.Fatal("CALL_CANCEL of call a cancelled call b too")
			}
			e.svc.Release(b)
			c.ExpectFrame(t, `[3,"b",null]`)
			c.Sync(t)
		})
	})
}

// TestE2ECallCancelFlood: §3 under pressure. CALL_CANCEL reaches a stream
// that floods the client, 100 000 messages with no interval: every frame
// before the CALLERROR is a progress frame of the call with the next index
// (no gap, nothing out of order), exactly one CALLERROR CANCELLED ends the
// call, the upstream sees its context cancelled, and nothing follows. In
// last mode every message but the last is progress, so the frames read the
// same (the held-back message may come as progress, with the next index).
// Each message carries about 1 KB: no buffer between the upstream and the
// client (gRPC's windows grow to 16 MiB) holds the 100 MB stream, so it is
// still running when the cancel arrives.
func TestE2ECallCancelFlood(t *testing.T) {
	t.Parallel()
	const (
		n      = 100_000
		before = 2000 // progress frames read before the cancel
	)
	forEachDiscovery(t, func(t *testing.T, d bridgetest.Discovery) {
		e := start(t, d)
		for _, mode := range []bridge.StreamMode{bridge.StreamProgress, bridge.StreamLast} {
			t.Run(mode.String(), func(t *testing.T) {
				t.Parallel()
				tag := t.Name() + "/" + strings.Repeat("x", 1000)
				c := e.connect(t, "?stream="+mode.String())
				c.Send(t, fmt.Sprintf(`[2,"c",%q,{"count":%d,"tag":%q}]`, streamProc, n, tag))
				next := 1 // the index the next progress frame must carry
				// progress checks that data is the progress frame with
				// index next; it reports false for any other frame type.
				progress := func(data []byte) bool {
					f, err := bridgetest.ParseFrame(data)
					if err != nil {
						t.Fatal(err)
					}
					if f.Type() != 1000 {
						return false
					}
					var m struct {
						Index int    `json:"index"`
						Tag   string `json:"tag"`
					}
					if len(f) != 3 || f.CallID() != "c" || json.Unmarshal(f[2], &m) != nil || m.Index != next || m.Tag != tag {
						t.Fatalf("got %.200s, want progress frame [1000,\"c\",{\"index\":%d,...}] of the call", data, next)
					}
					next++
					return true
				}
				for next <= before {
					if data := c.Read(t); !progress(data) {
						t.Fatalf("got %.200s, want progress frame %d before the cancel", data, next)
					}
				}
				c.Send(t, `[1001,"c"]`)
				data := c.Read(t)
				for progress(data) {
					data = c.Read(t)
				}
				if _, err := bridgetest.ParseCallError(data, "c", 1); err != nil {
					t.Fatalf("after %d progress frames: %v", next-1, err)
				}
				t.Logf("%d progress frames, %d of them after the cancel was sent", next-1, next-1-before)
				if err := e.svc.WaitCanceled(t.Context(), tag); err != nil {
					t.Fatal(err)
				}
				// Nothing follows the CALLERROR: each Sync's result is the
				// very next frame.
				c.Sync(t)
				c.Sync(t)
			})
		}
	})
}

// TestE2ECallCancelIgnored: §3. A CALL_CANCEL for an unknown or finished
// callId is ignored: the session goes on and answers the next call.
func TestE2ECallCancelIgnored(t *testing.T) {
	t.Parallel()
	forEachDiscovery(t, func(t *testing.T, d bridgetest.Discovery) {
		e := start(t, d)
		t.Run("unknown", func(t *testing.T) {
			t.Parallel()
			c := e.connect(t, "")
			c.Send(t, `[1001,"never-called"]`)
			c.Sync(t)
		})
		t.Run("finished", func(t *testing.T) {
			t.Parallel()
			c := e.connect(t, "")
			c.Send(t, fmt.Sprintf(`[2,"done",%q,"x"]`, echoProc))
			c.ExpectFrame(t, echoResult(t, "done", `{"text":"x"}`, ""))
			c.Send(t, `[1001,"done"]`)
			c.Sync(t)
			// The callId is free and a new call with it is not cancelled.
			c.Send(t, fmt.Sprintf(`[2,"done",%q,"y"]`, echoProc))
			c.ExpectFrame(t, echoResult(t, "done", `{"text":"y"}`, ""))
		})
		t.Run("other session's call", func(t *testing.T) {
			t.Parallel()
			tag := t.Name()
			owner := e.connect(t, "?stream=progress")
			owner.Send(t, fmt.Sprintf(`[2,"x",%q,{"block":true,"tag":%q}]`, streamProc, tag))
			if err := e.svc.WaitBlocked(t.Context(), tag); err != nil {
				t.Fatal(err)
			}
			other := e.connect(t, "")
			other.Send(t, `[1001,"x"]`)
			other.Sync(t)
			if e.svc.Canceled(tag) {
				t.Fatal("CALL_CANCEL in one session cancelled a call of another")
			}
			e.svc.Release(tag)
			owner.ExpectFrame(t, `[3,"x",null]`)
		})
	})
}

// TestE2ECloseCancelsCalls: §3. Closing the WebSocket, politely or not,
// cancels every upstream call of that session, streaming (a, b), unary (u)
// or bidi (ch), and none of another.
func TestE2ECloseCancelsCalls(t *testing.T) {
	t.Parallel()
	closers := []struct {
		name  string
		close func(c *bridgetest.Client)
	}{
		{"close frame", func(c *bridgetest.Client) { c.Close() }},
		{"tcp close", func(c *bridgetest.Client) { c.Conn.NetConn().Close() }},
	}
	forEachDiscovery(t, func(t *testing.T, d bridgetest.Discovery) {
		e := start(t, d)
		for _, mode := range streamModes {
			for _, cl := range closers {
				t.Run(mode.String()+"/"+cl.name, func(t *testing.T) {
					t.Parallel()
					a, b, other := t.Name()+"/a", t.Name()+"/b", t.Name()+"/other"
					u, ch := t.Name()+"/u", t.Name()+"/ch"
					e.svc.HoldEcho(u)
					e.svc.Hold(ch)
					c := e.connect(t, "?stream="+mode.String())
					c.Send(t, fmt.Sprintf(`[2,"a",%q,{"count":1,"block":true,"tag":%q}]`, streamProc, a))
					c.Send(t, fmt.Sprintf(`[2,"b",%q,{"count":0,"block":true,"tag":%q}]`, streamProc, b))
					c.Send(t, fmt.Sprintf(`[2,"u",%q,{"text":%q}]`, echoProc, u))
					c.Send(t, fmt.Sprintf(`[2,"ch",%q,{"text":%q,"repeat":1}]`, chatProc, ch))
					c2 := e.connect(t, "?stream=progress")
					c2.Send(t, fmt.Sprintf(`[2,"a",%q,{"block":true,"tag":%q}]`, streamProc, other))
					for _, tag := range []string{a, b, u, ch, other} {
						if err := e.svc.WaitBlocked(t.Context(), tag); err != nil {
							t.Fatal(err)
						}
					}
					cl.close(c)
					for _, tag := range []string{a, b, u, ch} {
						if err := e.svc.WaitCanceled(t.Context(), tag); err != nil {
							t.Fatal(err)
						}
					}
					if e.svc.Canceled(other) {
						t.Fatal("closing one session cancelled a call of another")
					}
					e.svc.Release(other)
					c2.ExpectFrame(t, `[3,"a",null]`)
					c2.Sync(t)
				})
			}
		}
	})
}
