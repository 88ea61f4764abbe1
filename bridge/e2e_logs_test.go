package bridge_test

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/wampbridge/grpcwamp/bridge"
	"github.com/wampbridge/grpcwamp/bridge/internal/bridgetest"
)

// recordHandler is a slog.Handler that hands every record's message and
// attributes to records.
type recordHandler struct {
	records chan map[string]string
	attrs   []slog.Attr
}

func (h *recordHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h *recordHandler) Handle(_ context.Context, r slog.Record) error {
	m := map[string]string{"msg": r.Message, "level": r.Level.String()}
	add := func(a slog.Attr) bool {
		m[a.Key] = a.Value.String()
		return true
	}
	for _, a := range h.attrs {
		add(a)
	}
	r.Attrs(add)
	select {
	case h.records <- m:
	default: // a full channel drops records rather than block the bridge
	}
	return nil
}

func (h *recordHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &recordHandler{records: h.records, attrs: append(append([]slog.Attr(nil), h.attrs...), as...)}
}

func (h *recordHandler) WithGroup(string) slog.Handler { return h }

// next returns the next record whose message is msg, or the next record
// if msg is "".
func (h *recordHandler) next(t *testing.T, msg string) map[string]string {
	t.Helper()
	timeout := time.NewTimer(bridgetest.Timeout)
	defer timeout.Stop()
	for {
		select {
		case m := <-h.records:
			if msg == "" || m["msg"] == msg {
				return m
			}
		case <-timeout.C:
			t.Fatalf("no log record %q within %v", msg, bridgetest.Timeout)
		}
	}
}

// TestE2ELogs: one line at info level when a session starts, one when it
// ends, and one per failed call with the procedure, code and duration.
func TestE2ELogs(t *testing.T) {
	t.Parallel()
	h := &recordHandler{records: make(chan map[string]string, 1000)}
	addr, _ := bridgetest.StartUpstream(t, bridgetest.UpstreamOptions{})
	br := bridgetest.StartBridge(t, addr, bridgetest.Reflection, bridge.WithLogger(slog.New(h)))
	c := bridgetest.Dial(t, br.URL, "wamp")
	id := c.ReadWelcome(t).SessionID

	started := h.next(t, "session started")
	if started["session"] != id || started["remote"] == "" || started["level"] != "INFO" {
		t.Errorf("session started record %v: want INFO with session %q and the remote address", started, id)
	}
	c.Send(t, `[2,"ok","bridgetest.v1.TestService.Echo",{"text":"fine"}]`)
	c.ReadFrame(t)
	c.Send(t, `[2,"bad","bridgetest.v1.TestService.Fail",{"code":5,"message":"gone"}]`)
	c.ExpectCallError(t, "bad", 5)
	failed := h.next(t, "call failed")
	for k, want := range map[string]string{"procedure": "bridgetest.v1.TestService.Fail", "code": "NOT_FOUND", "call": "bad", "session": id, "level": "INFO"} {
		if failed[k] != want {
			t.Errorf("call failed record: %s = %q, want %q (record %v)", k, failed[k], want, failed)
		}
	}
	if d, err := time.ParseDuration(failed["duration"]); err != nil || d <= 0 {
		t.Errorf("call failed record: duration %q, want a positive duration", failed["duration"])
	}
	c.Close()
	ended := h.next(t, "session ended")
	if ended["session"] != id || ended["calls"] != "2" || ended["cause"] != "the client left" {
		t.Errorf("session ended record %v: want session %q, calls 2, cause \"the client left\"", ended, id)
	}
	if d, err := time.ParseDuration(ended["duration"]); err != nil || d <= 0 {
		t.Errorf("session ended record: duration %q, want a positive duration", ended["duration"])
	}
}

// TestE2ELogsFailedCallsLimited: a session logs its first 10 failed calls,
// then at most one a second, so that a client cannot flood the log with
// calls it makes fail; the line of the session's end counts them all.
func TestE2ELogsFailedCallsLimited(t *testing.T) {
	t.Parallel()
	const calls = 40
	h := &recordHandler{records: make(chan map[string]string, 1000)}
	addr, _ := bridgetest.StartUpstream(t, bridgetest.UpstreamOptions{})
	br := bridgetest.StartBridge(t, addr, bridgetest.Reflection, bridge.WithLogger(slog.New(h)))
	c := bridgetest.Dial(t, br.URL, "wamp")
	c.ReadWelcome(t)
	start := time.Now()
	for i := range calls {
		id := fmt.Sprint("c", i)
		c.Send(t, fmt.Sprintf(`[2,%q,"no.such.Procedure"]`, id))
		c.ExpectCallError(t, id, 12)
	}
	elapsed := time.Since(start)
	c.Close()
	logged := 0
	for {
		m := h.next(t, "")
		if m["msg"] == "call failed" {
			logged++
		}
		if m["msg"] != "session ended" {
			continue
		}
		if m["failed"] != fmt.Sprint(calls) || m["failed_not_logged"] != fmt.Sprint(calls-logged) {
			t.Errorf("session ended record %v: want failed %d, failed_not_logged %d (%d lines logged)", m, calls, calls-logged, logged)
		}
		break
	}
	// One more line a second may pass, and one at once after the first 10
	// if the calls took a second.
	if most := 10 + int(elapsed/time.Second) + 1; logged < 10 || logged > most {
		t.Errorf("%d call failed lines for %d failed calls in %v, want the first 10 and then at most one a second (%d)",
			logged, calls, elapsed, most)
	}
}
