package bridge_test

// Graceful shutdown (Handler.Shutdown): sessions drain during the grace
// period, and when it ends the calls still in flight get CALLERROR
// UNAVAILABLE before the close frame. The upstream service reports when a
// call blocks and when its context is cancelled, so the tests observe
// events, not timings.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/wampbridge/grpcwamp/bridge/internal/bridgetest"
)

// shutdownInBackground starts Handler.Shutdown with a context the test
// cancels to end the grace period, and returns Shutdown's result channel.
func shutdownInBackground(t *testing.T, e env) (grace context.CancelFunc, done <-chan error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), bridgetest.Timeout)
	t.Cleanup(cancel)
	ch := make(chan error, 1)
	go func() { ch <- e.b.Handler.Shutdown(ctx) }()
	return cancel, ch
}

// blockStream starts a Stream call that blocks until the test releases it
// and waits until the upstream runs it.
func blockStream(t *testing.T, e env, c *bridgetest.Client, id, tag string) {
	t.Helper()
	c.Send(t, fmt.Sprintf(`[2,%q,%q,{"block":true,"tag":%q}]`, id, streamProc, tag))
	if err := e.svc.WaitBlocked(t.Context(), tag); err != nil {
		t.Fatal(err)
	}
}

// TestE2EShutdownDrains: during the grace period a session with no call is
// closed with 1001 at once, new WebSocket connections get 503, a new CALL
// on a session still running a call is refused with CALLERROR UNAVAILABLE,
// and the call in flight ends normally; then its session closes with 1001
// and Shutdown returns nil.
func TestE2EShutdownDrains(t *testing.T) {
	t.Parallel()
	forEachDiscovery(t, func(t *testing.T, d bridgetest.Discovery) {
		e := start(t, d)
		tag := t.Name()
		busy := e.connect(t, "")
		idle := e.connect(t, "")
		blockStream(t, e, busy, "s", tag)

		_, done := shutdownInBackground(t, e)
		if reason := idle.ExpectClose(t, 1001); !strings.Contains(reason, "shutting down") {
			t.Errorf("idle session: close reason %q, want it to say the bridge is shutting down", reason)
		}
		if code, body := bridgetest.DialRefused(t, e.b.URL, "wamp"); code != http.StatusServiceUnavailable || !strings.Contains(body, "reconnect to another replica") {
			t.Errorf("dial during Shutdown: refused with %d %q, want 503 saying to reconnect to another replica", code, body)
		}

		// The idle session's close shows that the drain has begun.
		busy.Send(t, fmt.Sprintf(`[2,"late",%q,{"text":"late"}]`, echoProc))
		ce := busy.ExpectCallError(t, "late", 14)
		if !strings.Contains(ce.Desc, "shutting down") || !strings.Contains(ce.Desc, echoProc) {
			t.Errorf("CALL while draining: errorDesc %q, want it to name %s and say the bridge is shutting down", ce.Desc, echoProc)
		}
		if n := e.svc.Calls("late"); n != 0 {
			t.Errorf("CALL while draining reached the upstream %d times, want 0", n)
		}

		e.svc.Release(tag)
		busy.ExpectFrame(t, `[3,"s",null]`)
		busy.ExpectClose(t, 1001)
		if err := <-done; err != nil {
			t.Fatalf("Shutdown: %v, want nil: the call ended within the grace", err)
		}
		if e.svc.Canceled(tag) {
			t.Error("the upstream saw the drained call cancelled")
		}
		if err := e.b.Handler.Shutdown(t.Context()); err != nil {
			t.Errorf("second Shutdown: %v, want nil", err)
		}
		if code, _ := bridgetest.DialRefused(t, e.b.URL, "wamp"); code != http.StatusServiceUnavailable {
			t.Errorf("dial after Shutdown: refused with %d, want 503", code)
		}
	})
}

// TestE2EShutdownGraceEnds: when the grace period ends, a call still in
// flight is cancelled upstream and answered with exactly one CALLERROR
// UNAVAILABLE, which comes before the close 1001; Shutdown returns once
// the session has ended, with the context's error.
func TestE2EShutdownGraceEnds(t *testing.T) {
	t.Parallel()
	for _, query := range []string{"", "?stream=last", "?stream=collect"} {
		t.Run("query="+query, func(t *testing.T) {
			t.Parallel()
			e := start(t, bridgetest.Reflection)
			tag := t.Name()
			c := e.connect(t, query)
			blockStream(t, e, c, "s", tag)

			grace, done := shutdownInBackground(t, e)
			grace()
			ce := c.ExpectCallError(t, "s", 14)
			if !strings.Contains(ce.Desc, "shut down before the call ended") {
				t.Errorf("errorDesc %q, want it to say the bridge shut down before the call ended", ce.Desc)
			}
			c.ExpectClose(t, 1001)
			if err := <-done; !errors.Is(err, context.Canceled) {
				t.Errorf("Shutdown: %v, want an error wrapping context.Canceled", err)
			}
			if err := e.svc.WaitCanceled(t.Context(), tag); err != nil {
				t.Fatal(err)
			}
			if code, _ := bridgetest.DialRefused(t, e.b.URL, "wamp"); code != http.StatusServiceUnavailable {
				t.Errorf("dial after Shutdown: refused with %d, want 503", code)
			}
		})
	}
}

// TestE2EShutdownProgress: a stream that has sent progress results before
// the grace ends gets them all, then its one CALLERROR, then the close.
func TestE2EShutdownProgress(t *testing.T) {
	t.Parallel()
	e := start(t, bridgetest.Reflection)
	tag := t.Name()
	c := e.connect(t, "")
	c.Send(t, fmt.Sprintf(`[2,"s",%q,{"count":2,"block":true,"tag":%q}]`, streamProc, tag))
	if err := e.svc.WaitBlocked(t.Context(), tag); err != nil {
		t.Fatal(err)
	}
	grace, done := shutdownInBackground(t, e)
	for i := 1; i <= 2; i++ {
		if f := c.ReadFrame(t); f.Type() != 1000 || f.CallID() != "s" {
			t.Fatalf("frame %d: %s, want CALL_PROGRESS_RESULT of call s", i, f.Raw())
		}
	}
	grace()
	c.ExpectCallError(t, "s", 14)
	c.ExpectClose(t, 1001)
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Shutdown: %v, want an error wrapping context.Canceled", err)
	}
}

// TestE2EShutdownIdle: with no call in flight, Shutdown closes every
// session with 1001 at once and returns nil, well within its grace.
func TestE2EShutdownIdle(t *testing.T) {
	t.Parallel()
	e := start(t, bridgetest.Reflection)
	clients := []*bridgetest.Client{e.connect(t, ""), e.connect(t, "?stream=collect")}
	clients[1].Send(t, `[5,"urn:topic"]`)
	clients[1].Sync(t)
	_, done := shutdownInBackground(t, e)
	for _, c := range clients {
		c.ExpectClose(t, 1001)
	}
	if err := <-done; err != nil {
		t.Fatalf("Shutdown: %v, want nil", err)
	}
}
