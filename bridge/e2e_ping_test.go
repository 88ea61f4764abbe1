package bridge_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http/httptest"
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
// pace longer than the pong timeout: the bridge (on Linux) sees the
// client's kernel take data meanwhile. TestE2EPongTimeout shows that a
// client taking nothing but the pings is still closed.
func TestE2EPongSlowReader(t *testing.T) {
	r := readSlowly(t, slowMessages, true)
	if r.err != nil {
		t.Fatalf("a client reading %d bytes a second, answering every ping: connection ended after %d of %d messages (%d bytes, %d pings): %v",
			slowRate, r.progress, slowMessages, r.read, r.pings, r.err)
	}
	r.c.Sync(t) // the session is still served
	t.Logf("the first ping arrived after %d bytes (%.1f pong timeouts at the client's pace); %d pings answered",
		r.readBeforePing, float64(r.readBeforePing)/slowRate/slowPongTimeout.Seconds(), r.pings)
}

// TestE2EPongWatchCap: a client that answers no ping is closed at the
// watch's cap, four pong timeouts after the session started, however
// steadily it takes data: the watch keeps it past the pong timeout, as it
// would a client whose application is frozen while its kernel takes data,
// but not for ever. The stream outlasts the cap at the client's pace.
func TestE2EPongWatchCap(t *testing.T) {
	logs := &recordHandler{records: make(chan map[string]string, 1000)}
	// Twice the messages of TestE2EPongSlowReader: at the cap, 4 s in, the
	// client has read 2 MB and the buffers hold 1 MB, far from the end.
	const messages = 2 * slowMessages
	r := readSlowly(t, messages, false, bridge.WithLogger(slog.New(logs)))
	if r.err == nil {
		t.Fatalf("a client answering no ping, reading %d bytes a second, was served to the end of its stream (%d bytes, %d pings)",
			slowRate, r.read, r.pings)
	}
	rec := logs.next(t, "session ended")
	want := fmt.Sprintf("the client answered no ping for %v (4 pong timeouts of %v: the data it kept taking held it no longer)",
		4*slowPongTimeout, slowPongTimeout)
	if rec["cause"] != want {
		t.Errorf("session ended with cause %q, want %q", rec["cause"], want)
	}
	t.Logf("closed after %d of %d messages (%d bytes, %d pings unanswered)", r.progress, messages, r.read, r.pings)
}

// The timings of readSlowly. A look window is a quarter of the pong
// timeout, 250 ms: a stall of the client or the bridge longer than that
// (a loaded machine, the race detector) reads as a client taking no data,
// which at 125 ms happened in 1 run of 10 under load.
const (
	slowPingInterval = 200 * time.Millisecond
	slowPongTimeout  = time.Second
	slowRate         = 512 << 10 // bytes the client reads a second
	slowMessages     = 2000      // of slowMsgSize: twice what the buffers hold, and seconds at slowRate
	slowMsgSize      = 1000
)

// slowRead is what readSlowly saw.
type slowRead struct {
	c                     *bridgetest.Client
	e                     env
	read, progress, pings int
	readBeforePing        int
	err                   error // the connection's end, if before the stream's
}

// readSlowly streams n messages of slowMsgSize to a client reading slowRate
// bytes a second, answering pings if answer is true, until the stream or
// the connection ends.
//
// The client reads 512 KiB/s, catching up after a pause, so that each
// look window of the watch (a quarter of the pong timeout) sees several of
// the 64 KiB steps in which a receiving kernel on loopback announces room.
// The socket buffers are set, not left to the kernels' tuning, which let a
// ping wait anything from 0.3 to 2.2 pong timeouts, too little at times
// for a client to need the watch: a send buffer of 2 × 448 KiB at the
// bridge (through a listener of the test's own) and a receive buffer of
// 2 × 64 KiB at the client, whose kernel then announces room in steps of
// at most 64 KiB (a larger receive buffer announced it in steps longer
// than a look window). A ping then waits behind about 1 MB, two pong
// timeouts at the client's pace, less than the watch's cap of four. It
// does not run in parallel, so that the client keeps its pace.
func readSlowly(t *testing.T, n int, answer bool, opts ...bridge.Option) *slowRead {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("the pong watch needs tcp_info and SIOCOUTQ (Linux)")
	}
	r := &slowRead{e: start(t, bridgetest.Reflection, append([]bridge.Option{
		bridge.WithPingInterval(slowPingInterval), bridge.WithPongTimeout(slowPongTimeout)}, opts...)...)}
	srv := httptest.NewUnstartedServer(r.e.b.Handler)
	srv.Listener = bufferedListener{srv.Listener, slowSendBuffer}
	srv.Start()
	t.Cleanup(srv.Close)
	r.c = dialBuffered(t, "ws"+strings.TrimPrefix(srv.URL, "http")+"/", slowReceiveBuffer)
	r.c.ReadWelcome(t)
	// The handler runs on the goroutine reading: this one.
	r.c.Conn.SetPingHandler(func(data string) error {
		if r.pings++; r.pings == 1 {
			r.readBeforePing = r.read
		}
		if !answer {
			return nil
		}
		return r.c.Conn.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(bridgetest.Timeout))
	})
	r.c.Send(t, fmt.Sprintf(`[2,"slow",%q,{"count":%d,"tag":%q}]`, streamProc, n, strings.Repeat("x", slowMsgSize)))

	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	began := time.Now()
	for {
		for float64(r.read) > time.Since(began).Seconds()*slowRate {
			<-tick.C // pacing, not synchronisation
		}
		data, err := r.c.Next()
		if err != nil {
			r.err = err
			return r
		}
		r.read += len(data)
		f, err := bridgetest.ParseFrame(data)
		if err != nil {
			t.Fatal(err)
		}
		if f.Type() == 1000 && f.CallID() == "slow" {
			r.progress++
			continue
		}
		if f.Type() != 3 || f.CallID() != "slow" {
			t.Fatalf("got %.200s, want a progress result or the CALLRESULT of the stream", data)
		}
		if r.progress != n {
			t.Errorf("the stream ended after %d progress results, want %d", r.progress, n)
		}
		return r
	}
}

// The socket buffers of readSlowly, each of which the kernel doubles.
const (
	slowSendBuffer    = 448 << 10
	slowReceiveBuffer = 64 << 10
)

// bufferedListener sets the send buffer of the connections it accepts.
type bufferedListener struct {
	net.Listener
	sndBuf int
}

func (l bufferedListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		err = c.(*net.TCPConn).SetWriteBuffer(l.sndBuf)
	}
	return c, err
}

// dialBuffered opens a session at url, offering "wamp", over a connection
// whose receive buffer is set to rcvBuf.
func dialBuffered(t *testing.T, url string, rcvBuf int) *bridgetest.Client {
	t.Helper()
	d := websocket.Dialer{Subprotocols: []string{"wamp"}, HandshakeTimeout: bridgetest.Timeout,
		NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
			if err == nil {
				err = c.(*net.TCPConn).SetReadBuffer(rcvBuf)
			}
			return c, err
		}}
	ws, _, err := d.DialContext(t.Context(), url, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &bridgetest.Client{Conn: ws}
	t.Cleanup(c.Close)
	return c
}
