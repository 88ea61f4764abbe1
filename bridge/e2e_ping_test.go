package bridge_test

import (
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wampbridge/grpcwamp/bridge"
	"github.com/wampbridge/grpcwamp/bridge/internal/bridgetest"
)

// TestE2EPongTimeout: the bridge pings every ping interval and closes a
// client that answers no ping within the pong timeout, which cancels its
// calls upstream; a client that answers stays connected however many pong
// timeouts go by, without sending anything else.
//
// The durations are short, so that the dead peer is found quickly; the
// pong timeout is ten ping intervals, so that a client answering every
// ping is not closed when the machine is slow for a moment.
func TestE2EPongTimeout(t *testing.T) {
	t.Parallel()
	const (
		pingInterval = 25 * time.Millisecond
		pongTimeout  = 250 * time.Millisecond
		// pings is how many pings the live client answers before it calls.
		// A ticker never fires early, so the last of them leaves at least
		// pings × pingInterval after the session started: 4 pong timeouts.
		pings = 40
	)
	logs := &recordHandler{records: make(chan map[string]string, 1000)}
	e := start(t, bridgetest.Reflection, bridge.WithPingInterval(pingInterval), bridge.WithPongTimeout(pongTimeout),
		bridge.WithLogger(slog.New(logs)))

	t.Run("silent client", func(t *testing.T) {
		t.Parallel()
		const tag = "pong-timeout"
		c := bridgetest.Dial(t, e.b.URL, "wamp")
		// It answers pings until its call is blocked in the upstream, then
		// stops, as a peer whose network went away would.
		var answer atomic.Bool
		answer.Store(true)
		c.Conn.SetPingHandler(func(data string) error {
			if !answer.Load() {
				return nil
			}
			return c.Conn.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(bridgetest.Timeout))
		})
		id := c.ReadWelcome(t).SessionID
		c.Send(t, fmt.Sprintf(`[2,"held",%q,{"block":true,"tag":%q}]`, streamProc, tag))
		// Pings are handled only while the client reads: read in the
		// background until the connection ends.
		ended := make(chan error, 1)
		go func() {
			for {
				if _, err := c.Next(); err != nil {
					ended <- err
					return
				}
			}
		}()
		if err := e.svc.WaitBlocked(t.Context(), tag); err != nil {
			t.Fatal(err)
		}
		answer.Store(false)
		if err := e.svc.WaitCanceled(t.Context(), tag); err != nil {
			t.Fatalf("the bridge did not cancel the call of a client that stopped answering pings: %v", err)
		}
		err := <-ended
		// The bridge takes the peer for gone: it closes the connection
		// without a close frame, which gorilla reports as 1006.
		var ce *websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != websocket.CloseAbnormalClosure {
			t.Errorf("connection ended with %v, want it closed by the bridge without a close frame (%d)", err, websocket.CloseAbnormalClosure)
		}
		// The log says why the session ended: not "the client left".
		rec := logs.next(t, "session ended")
		for rec["session"] != id {
			rec = logs.next(t, "session ended")
		}
		if want := fmt.Sprintf("the client answered no ping for %v (the pong timeout)", pongTimeout); rec["cause"] != want {
			t.Errorf("session ended with cause %q, want %q", rec["cause"], want)
		}
	})

	t.Run("answering client", func(t *testing.T) {
		t.Parallel()
		c := bridgetest.Dial(t, e.b.URL, "wamp")
		// The handler runs on the goroutine reading: this one.
		n := 0
		c.Conn.SetPingHandler(func(data string) error {
			n++
			if err := c.Conn.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(bridgetest.Timeout)); err != nil {
				return err
			}
			if n == pings {
				return c.Conn.WriteMessage(websocket.TextMessage, []byte(fmt.Sprintf(`[2,"alive",%q,{"text":"alive"}]`, echoProc)))
			}
			return nil
		})
		c.ReadWelcome(t)
		// Nothing but pongs goes out until the pings-th ping, then the
		// CALL; its CALLRESULT shows that the session is still served.
		if f := c.ReadFrame(t); f.Type() != 3 || f.CallID() != "alive" {
			t.Fatalf("after %d pings: got %s, want the CALLRESULT of the call sent then", n, f.Raw())
		}
		if n < pings {
			t.Errorf("the client answered %d pings, want at least %d", n, pings)
		}
	})
}
