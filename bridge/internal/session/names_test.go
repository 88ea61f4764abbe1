package session

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wampbridge/grpcwamp/bridge/internal/broker"
)

// TestNameLengthLimit: names a client chooses are bounded by MaxNameLength
// (4096 bytes by default), since a session keeps them (prefixes,
// subscriptions) or holds them per call. A PREFIX or a call id over it
// closes the session with 1008; a procedure URI over it, after PREFIX
// expansion, is refused with INVALID_ARGUMENT; a topic over it is dropped
// and counted, as other refused SUBSCRIBE and PUBLISH frames are.
func TestNameLengthLimit(t *testing.T) {
	if got := withDefaults(Config{}).MaxNameLength; got != 4096 {
		t.Errorf("default MaxNameLength = %d, want 4096 as the README says", got)
	}
	const limit = 16
	long := strings.Repeat("x", limit+1)
	core := notReadyCore(t)
	b, err := broker.New(broker.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()

	// run serves one session, sends frames, and returns the frames the
	// client reads until the bridge closes, the close code and reason, and
	// the session's stats.
	run := func(t *testing.T, frames ...string) ([]string, int, string, *Stats) {
		t.Helper()
		var got []string
		var code int
		var reason string
		stats := new(Stats)
		synctest.Test(t, func(t *testing.T) {
			conn, client := pipeUpgraded(t)
			cfg := Config{MaxNameLength: limit, PingInterval: time.Hour, Stats: stats, Broker: b,
				Logger: slog.New(slog.DiscardHandler)}
			served := make(chan error, 1)
			go func() { served <- Serve(context.Background(), conn, core, cfg) }()
			read := make(chan struct{})
			go func() {
				defer close(read)
				got, code, reason = readUntilClose(client)
			}()
			for _, f := range frames {
				if err := client.WriteMessage(websocket.TextMessage, []byte(f)); err != nil {
					t.Fatal(err)
				}
				synctest.Wait()
			}
			client.Close()
			<-read
			<-served
		})
		return got, code, reason, stats
	}

	t.Run("PREFIX", func(t *testing.T) {
		for _, f := range []string{`[1,"p","` + long + `"]`, `[1,"` + long + `","http://a/"]`} {
			_, code, reason, _ := run(t, f)
			if want := "PREFIX with a name of 17 bytes: the limit is 16"; code != websocket.ClosePolicyViolation || reason != want {
				t.Errorf("%s: close %d %q, want 1008 %q", f, code, reason, want)
			}
		}
	})
	t.Run("call id", func(t *testing.T) {
		// Also when the rest of the CALL is malformed, which would
		// otherwise be answered with INVALID_ARGUMENT, echoing the id.
		for _, f := range []string{`[2,"` + long + `","x.v1.S.M"]`, `[2,"` + long + `",5]`} {
			got, code, reason, _ := run(t, f)
			if want := "CALL with a call id of 17 bytes: the limit is 16"; code != websocket.ClosePolicyViolation || reason != want {
				t.Errorf("%s: close %d %q, want 1008 %q", f, code, reason, want)
			}
			if len(got) > 1 {
				t.Errorf("%s: frames %q, want at most WELCOME: the call is not answered", f, got)
			}
		}
	})
	t.Run("procedure", func(t *testing.T) {
		// 8 + 9 bytes once the prefix is expanded.
		got, code, _, _ := run(t, `[1,"p","x.v1.S.M"]`, `[2,"c1","p:123456789"]`, `[2,"c2","p:12345678"]`)
		if code != 0 {
			t.Errorf("close %d, want none: the client ends the session", code)
		}
		want := []string{
			`[4,"c1","wamp.error.invalid_argument","procedure URI \"x.v1.S.M123456789\" of 17 bytes (after PREFIX expansion): the limit is 16 bytes"`,
			`[4,"c2","wamp.error.unavailable"`, // 16 bytes: called
		}
		if len(got) != 3 {
			t.Fatalf("frames %q, want WELCOME and two CALLERRORs", got)
		}
		for i, w := range want {
			if !strings.HasPrefix(got[i+1], w) {
				t.Errorf("frame %.200s, want it to begin %s", got[i+1], w)
			}
		}
	})
	t.Run("topic", func(t *testing.T) {
		got, _, _, stats := run(t,
			`[5,"`+long+`"]`, `[5,"t"]`,
			`[7,"`+long+`","dropped",false]`, `[7,"t","delivered",false]`)
		if len(got) != 2 || got[1] != `[8,"t","delivered"]` {
			t.Errorf("frames %q, want WELCOME and the event on the short topic", got)
		}
		if n := stats.DroppedPubSub.Load(); n != 2 {
			t.Errorf("dropped publish and subscribe: %d, want 2", n)
		}
	})
}
