package bridge_test

// §3 cancellation: CALL_CANCEL, closing the socket (shutting the bridge
// down is in e2e_shutdown_test.go). The upstream service reports when a call's context is cancelled, so
// the tests observe the cancellation itself, not a timing.

import (
	"fmt"
	"testing"

	"github.com/wampbridge/grpcwamp/bridge"
	"github.com/wampbridge/grpcwamp/bridge/internal/bridgetest"
)

// TestE2ECallCancel: §3. CALL_CANCEL cancels the upstream call's context at
// once; the caller receives exactly one CALLERROR CANCELLED
// (wamp.error.canceled) and nothing for that call after it.
func TestE2ECallCancel(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		mode  bridge.StreamMode
		count int
		// before lists the frames the call delivers before it blocks.
		before []string
		// lastHeld: in last mode the held-back message may be delivered
		// as progress just before the CALLERROR; the contract does not say
		// whether a cancelled call delivers it, so both are accepted.
		lastHeld string
	}{
		{"progress/after a message", bridge.StreamProgress, 1, []string{`[1000,"c",{"index":1,"tag":"%s"}]`}, ""},
		{"progress/before any message", bridge.StreamProgress, 0, nil, ""},
		{"collect", bridge.StreamCollect, 2, nil, ""},
		{"last", bridge.StreamLast, 2, []string{`[1000,"c",{"index":1,"tag":"%s"}]`}, `[1000,"c",{"index":2,"tag":"%s"}]`},
	}
	forEachDiscovery(t, func(t *testing.T, d bridgetest.Discovery) {
		e := start(t, d)
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				tag := t.Name()
				c := e.connect(t, "?stream="+tc.mode.String())
				c.Send(t, fmt.Sprintf(`[2,"c",%q,{"count":%d,"block":true,"tag":%q}]`, streamProc, tc.count, tag))
				for _, f := range tc.before {
					c.ExpectFrame(t, fmt.Sprintf(f, tag))
				}
				if err := e.svc.WaitBlocked(t.Context(), tag); err != nil {
					t.Fatal(err)
				}
				c.Send(t, `[1001,"c"]`)
				if err := e.svc.WaitCanceled(t.Context(), tag); err != nil {
					t.Fatal(err)
				}
				data := c.Read(t)
				if tc.lastHeld != "" && bridgetest.JSONEqual(data, []byte(fmt.Sprintf(tc.lastHeld, tag))) == nil {
					data = c.Read(t)
				}
				if _, err := bridgetest.ParseCallError(data, "c", 1); err != nil {
					t.Fatal(err)
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
// cancels every upstream call of that session and none of another.
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
					c := e.connect(t, "?stream="+mode.String())
					c.Send(t, fmt.Sprintf(`[2,"a",%q,{"count":1,"block":true,"tag":%q}]`, streamProc, a))
					c.Send(t, fmt.Sprintf(`[2,"b",%q,{"count":0,"block":true,"tag":%q}]`, streamProc, b))
					c2 := e.connect(t, "?stream=progress")
					c2.Send(t, fmt.Sprintf(`[2,"a",%q,{"block":true,"tag":%q}]`, streamProc, other))
					for _, tag := range []string{a, b, other} {
						if err := e.svc.WaitBlocked(t.Context(), tag); err != nil {
							t.Fatal(err)
						}
					}
					cl.close(c)
					for _, tag := range []string{a, b} {
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
