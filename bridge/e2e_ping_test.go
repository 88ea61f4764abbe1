package bridge_test

import (
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
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

// TestE2EPongSlowReader: a client that reads a stream slowly but steadily,
// and answers every ping as soon as it reads it, is not closed, although
// each ping waits behind what the socket buffers hold, at the client's
// pace far longer than the pong timeout: the bridge (on Linux) sees the
// client's kernel take data meanwhile. TestE2EPongTimeout shows that a
// client taking nothing but the pings is still closed.
//
// The client reads 1 MiB/s, catching up after a pause, so that each look
// window of the watch (a quarter of the pong timeout) sees several of the
// 64 KiB steps in which a receiving kernel on loopback announces room. The
// buffers of the two kernels hold some MiB, so the first ping arrives
// seconds after it was sent, and the pong timeout of 1 s passes several
// times before the client can answer: without the watch the bridge closed
// this client. It does not run in parallel, so that the client keeps its
// pace.
func TestE2EPongSlowReader(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the pong watch needs tcp_info and SIOCOUTQ (Linux)")
	}
	const (
		pingInterval = 100 * time.Millisecond
		pongTimeout  = time.Second
		rate         = 1 << 20 // bytes the client reads a second
		n            = 5000    // messages of msgSize: more than the buffers hold, and a few seconds at rate
		msgSize      = 1000
	)
	e := start(t, bridgetest.Reflection, bridge.WithPingInterval(pingInterval), bridge.WithPongTimeout(pongTimeout))
	c := e.connect(t, "")
	// The handler runs on the goroutine reading: this one.
	read, pings, readBeforePing := 0, 0, 0
	c.Conn.SetPingHandler(func(data string) error {
		if pings++; pings == 1 {
			readBeforePing = read
		}
		return c.Conn.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(bridgetest.Timeout))
	})
	c.Send(t, fmt.Sprintf(`[2,"slow",%q,{"count":%d,"tag":%q}]`, streamProc, n, strings.Repeat("x", msgSize)))

	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	began := time.Now()
	for progress := 0; ; {
		for float64(read) > time.Since(began).Seconds()*rate {
			<-tick.C // pacing, not synchronisation
		}
		data, err := c.Next()
		if err != nil {
			t.Fatalf("a client reading %d bytes a second, answering every ping: connection ended after %d of %d messages (%d bytes, %d pings): %v",
				rate, progress, n, read, pings, err)
		}
		read += len(data)
		f, err := bridgetest.ParseFrame(data)
		if err != nil {
			t.Fatal(err)
		}
		if f.Type() == 1000 && f.CallID() == "slow" {
			progress++
			continue
		}
		if f.Type() != 3 || f.CallID() != "slow" {
			t.Fatalf("got %.200s, want a progress result or the CALLRESULT of the stream", data)
		}
		if progress != n {
			t.Errorf("the stream ended after %d progress results, want %d", progress, n)
		}
		break
	}
	c.Sync(t) // the session is still served
	t.Logf("the first ping arrived after %d bytes (%.1f pong timeouts at the client's pace); %d pings answered",
		readBeforePing, float64(readBeforePing)/rate/pongTimeout.Seconds(), pings)
}
