package session

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gorilla/websocket"
)

// pipeRW is the http.ResponseWriter of a handshake over net.Pipe.
type pipeRW struct {
	h    http.Header
	conn net.Conn
}

func (p *pipeRW) Header() http.Header         { return p.h }
func (p *pipeRW) Write(b []byte) (int, error) { return len(b), nil }
func (p *pipeRW) WriteHeader(int)             {}
func (p *pipeRW) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return p.conn, bufio.NewReadWriter(bufio.NewReader(p.conn), bufio.NewWriter(p.conn)), nil
}

// pipeUpgraded returns the two sides of a WebSocket over net.Pipe, made by
// Upgrade on the bridge's side. Unlike a TCP connection, the pipe buffers
// nothing, and its goroutines block durably, as testing/synctest needs:
// a test runs in fake time and sees exactly when a write waits for the
// client.
func pipeUpgraded(t *testing.T) (*Conn, *websocket.Conn) {
	t.Helper()
	sc, cc := net.Pipe()
	type upgradeResult struct {
		c   *Conn
		err error
	}
	done := make(chan upgradeResult, 1)
	go func() {
		r, err := http.ReadRequest(bufio.NewReader(sc))
		if err != nil {
			done <- upgradeResult{nil, err}
			return
		}
		c, err := Upgrade(&websocket.Upgrader{}, &pipeRW{h: http.Header{}, conn: sc}, r, nil)
		done <- upgradeResult{c, err}
	}()
	d := websocket.Dialer{
		NetDialContext:  func(context.Context, string, string) (net.Conn, error) { return cc, nil },
		ReadBufferSize:  1024,
		WriteBufferSize: 1024,
	}
	client, _, err := d.Dial("ws://bridge/", nil)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	r := <-done
	if r.err != nil {
		t.Fatalf("Upgrade: %v", r.err)
	}
	return r.c, client
}

// testWelcome is the WELCOME that tests give writeLoop (welcomeFrame).
var testWelcome = []byte(`[0,"s",1,"test"]`)

// welcomeFrame returns a pooled frame holding testWelcome.
func welcomeFrame() *frame {
	f := framePool.Get().(*frame)
	f.b = append(f.b[:0], testWelcome...)
	return f
}

// writerSession returns a session on conn with what its writer needs, a
// send queue of 4 and a no-read timeout (WriteTimeout) of 1 s, and the
// cancel of its context (s.cancel, which wakes the writer).
func writerSession(conn *Conn) (*session, context.CancelCauseFunc) {
	cfg := withDefaults(Config{SendQueue: 4, WriteTimeout: time.Second, PingInterval: time.Hour,
		Logger: slog.New(slog.DiscardHandler), Stats: new(Stats)})
	ctx, cancel := context.WithCancelCause(context.Background())
	s := &session{cfg: cfg, conn: conn, ctx: ctx, cancelSession: cancel,
		queue:  make(chan *frame, cfg.SendQueue),
		events: eventQueue{limit: 1, ready: make(chan struct{}, 1)}}
	return s, s.cancel
}

// backlog starts the writer of s and a stream whose upstream is always
// ahead of the client, sending frames of a quarter of the batch buffer
// until s ends. The channels close when the stream and the writer have
// ended.
func backlog(s *session) (produced, written <-chan struct{}) {
	payload := json.RawMessage(`"` + strings.Repeat("x", maxBatchBuffer/4) + `"`)
	p := make(chan struct{})
	go func() {
		defer close(p)
		for s.send(s.ctx, progressFrame("c", payload)) == nil {
		}
	}()
	return p, startWriter(s)
}

// startWriter runs the writer of s, which writes testWelcome first; the
// channel closes when it has returned.
func startWriter(s *session) <-chan struct{} {
	w := make(chan struct{})
	go func() { defer close(w); s.writeLoop(s.ctx, welcomeFrame(), nil) }()
	return w
}

// TestNoReadTimeoutBoundsOneWrite: WriteTimeout (-no-read-timeout) bounds
// each network write to the client, not a batch of writes. A stream faster
// than its client keeps the writer's batch going for as long as the client
// reads, here 10 times WriteTimeout (the pipe buffers nothing, so each
// network write of four frames waits for the client to read them); the
// client reads steadily and stays connected. Once it stops reading, it is
// disconnected after WriteTimeout.
func TestNoReadTimeoutBoundsOneWrite(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		conn, client := pipeUpgraded(t)
		s, _ := writerSession(conn)
		ctx, cfg := s.ctx, s.cfg

		produced, written := backlog(s)

		stopReading := make(chan struct{})
		read := make(chan int)
		go func() { // one frame every 10 ms: 100 per WriteTimeout
			n := 0
			defer func() { read <- n }()
			for {
				if _, _, err := client.ReadMessage(); err != nil {
					return
				}
				n++
				select {
				case <-stopReading:
					return
				case <-time.After(10 * time.Millisecond):
				}
			}
		}()

		time.Sleep(10 * cfg.WriteTimeout)
		if n := s.cfg.Stats.NoReadDisconnects.Load(); n != 0 || ctx.Err() != nil {
			t.Errorf("a client reading a frame every 10 ms for 10 times the no-read timeout: %d no-read disconnects, session cause %v; want it kept",
				n, context.Cause(ctx))
			conn.ws.Close() // ends the client's read
			<-read
			<-written
			<-produced
			client.Close()
			return
		}
		close(stopReading)
		n := <-read
		start := time.Now()
		<-written // the writer gives up on the client
		// Its last write began when the client read the four frames of
		// the write before, up to 40 ms before it stopped.
		if got := time.Since(start); got > cfg.WriteTimeout || got < cfg.WriteTimeout-40*time.Millisecond {
			t.Errorf("the writer gave up %v after the client stopped reading, want the no-read timeout %v", got, cfg.WriteTimeout)
		}
		if got := s.cfg.Stats.NoReadDisconnects.Load(); got != 1 {
			t.Errorf("no-read disconnects after the client stopped reading: %d, want 1", got)
		}
		var pe *peerGoneError
		if !errors.As(context.Cause(ctx), &pe) || !strings.Contains(pe.reason, "no-read timeout") {
			t.Errorf("session cause %v, want the no-read timeout", context.Cause(ctx))
		}
		if n < 900 {
			t.Errorf("the client read %d frames in 10 s, want about 1000", n)
		}
		<-produced
		client.Close()
		conn.ws.Close()
	})
}

// TestPongsDoNotHoldAClosingSession: once the session is closing, the
// reader waits CloseGrace for the client's close and no longer: a client
// that never answers the close but keeps sending pongs (which RFC 6455
// allows unasked) does not extend the read deadline, as each pong does
// while the session is open. Else Serve, and a shutdown waiting for it,
// would never end.
func TestPongsDoNotHoldAClosingSession(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		conn, client := pipeUpgraded(t)
		cfg := Config{PingInterval: time.Hour, PongTimeout: 10 * time.Second, CloseGrace: time.Second,
			Logger: slog.New(slog.DiscardHandler)}
		served := make(chan error, 1)
		go func() { served <- Serve(context.Background(), conn, nil, cfg) }()

		client.SetCloseHandler(func(int, string) error { return nil }) // never answers the close
		closed := make(chan struct{})
		go func() {
			defer close(closed)
			for {
				if _, _, err := client.ReadMessage(); err != nil {
					return // the close frame
				}
			}
		}()
		// A binary frame closes the session with 1003.
		if err := client.WriteMessage(websocket.BinaryMessage, []byte{1}); err != nil {
			t.Fatal(err)
		}
		<-closed
		closedAt := time.Now()

		stop := make(chan struct{})
		pongs := make(chan struct{})
		go func() { // a pong every half CloseGrace, for a minute
			defer close(pongs)
			for range 120 {
				select {
				case <-stop:
					return
				case <-time.After(cfg.CloseGrace / 2):
				}
				if client.WriteControl(websocket.PongMessage, nil, time.Now().Add(time.Second)) != nil {
					return
				}
			}
		}()
		<-served
		if got := time.Since(closedAt); got > cfg.CloseGrace {
			t.Errorf("Serve ended %v after the close frame, want at most CloseGrace %v: pongs extended the read deadline", got, cfg.CloseGrace)
		}
		close(stop)
		<-pongs
		client.Close()
	})
}

// TestPingFlood: a client may ping up to 10 times a second, each answered
// with a pong carrying its data; a burst of 11 closes the session with
// 1008, since each pong costs a network write and a flood
// of them would take the CPU from the other sessions.
func TestPingFlood(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		conn, client := pipeUpgraded(t)
		served := make(chan error, 1)
		go func() {
			served <- Serve(context.Background(), conn, nil, Config{PingInterval: time.Hour, Logger: slog.New(slog.DiscardHandler)})
		}()
		pongs := make(chan string, 100)
		client.SetPongHandler(func(data string) error { pongs <- data; return nil })
		var closeErr error
		read := make(chan struct{})
		go func() {
			defer close(read)
			for {
				if _, _, err := client.ReadMessage(); err != nil {
					closeErr = err
					return
				}
			}
		}()
		ping := func(data string) {
			t.Helper()
			if err := client.WriteControl(websocket.PingMessage, []byte(data), time.Now().Add(time.Second)); err != nil {
				t.Fatal(err)
			}
		}
		// Ten a second for three seconds: every one answered.
		time.Sleep(time.Second - time.Duration(time.Now().UnixNano()%int64(time.Second))) // the start of a second
		for i := range 30 {
			ping(fmt.Sprint(i))
			time.Sleep(100 * time.Millisecond)
			if got := <-pongs; got != fmt.Sprint(i) {
				t.Fatalf("pong %q, want %q", got, fmt.Sprint(i))
			}
		}
		// Eleven in one second: closed.
		for i := range 11 {
			ping(fmt.Sprint("flood", i))
		}
		select {
		case <-read:
		case <-time.After(10 * time.Second):
			t.Error("the session is still open 10 s after a flood of 11 pings in a second")
			client.Close()
			<-read
		}
		ce, ok := errors.AsType[*websocket.CloseError](closeErr)
		if want := "too many pings: more than 10 a second"; !ok || ce.Code != websocket.ClosePolicyViolation || ce.Text != want {
			t.Errorf("client read %v, want close 1008 %q", closeErr, want)
		}
		if n := len(pongs); n != 10 {
			t.Errorf("%d pongs to the flood of 11 pings, want 10", n)
		}
		client.Close()
		<-served
	})
}

// TestNoReadTimeoutLargeFrames: a message larger than the batch buffer is
// written in pieces, each under the no-read timeout of its own, so a client
// that reads megabyte messages slowly but steadily (4 KiB every 10 ms,
// about 400 KB/s: 2.6 s a message under a timeout of 1 s) stays connected.
func TestNoReadTimeoutLargeFrames(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		conn, client := pipeUpgraded(t)
		s, cancel := writerSession(conn)
		ctx := s.ctx
		const frames = 3
		payload := json.RawMessage(`"` + strings.Repeat("x", 1<<20) + `"`)
		for range frames {
			s.queue <- progressFrame("c", payload)
		}
		written := startWriter(s)

		raw := client.NetConn() // bytes, not messages: 4 KiB at a time
		buf := make([]byte, 4<<10)
		want := len(testWelcome) + 2 + // 2: a short frame's header
			frames*(len(`[1000,"c",]`)+len(payload)+10) // 10: a 64-bit length's frame header
		for got := 0; got < want && ctx.Err() == nil; {
			n, err := raw.Read(buf)
			if err != nil {
				t.Fatalf("after %d bytes: %v", got, err)
			}
			got += n
			time.Sleep(10 * time.Millisecond)
		}
		if n := s.cfg.Stats.NoReadDisconnects.Load(); n != 0 || ctx.Err() != nil {
			t.Errorf("a client reading 4 KiB every 10 ms: %d no-read disconnects, session cause %v; want it kept", n, context.Cause(ctx))
		}
		cancel(errors.New("test over"))
		client.Close()
		<-written
		conn.ws.Close()
	})
}

// TestWelcomeFirst: the writer sends WELCOME before anything else
// (PROTOCOL.md §2), even when an EVENT and a frame of a call are queued
// already (a client may SUBSCRIBE and PUBLISH to itself, or call, before
// the writer has run), and even when the session is closing already (a
// client closed for its first frame): then WELCOME, then the close frame.
func TestWelcomeFirst(t *testing.T) {
	for _, closing := range []bool{false, true} {
		t.Run(fmt.Sprintf("closing=%v", closing), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				conn, client := pipeUpgraded(t)
				s, cancel := writerSession(conn)
				s.events.push([]byte(`[8,"t",1]`))
				s.queue <- progressFrame("c", json.RawMessage(`1`))
				if closing {
					s.cancel(&closeError{code: websocket.CloseUnsupportedData, reason: "binary frame"})
				}
				written := startWriter(s)
				if closing {
					frames, code, _ := readUntilClose(client)
					if len(frames) != 1 || frames[0] != string(testWelcome) || code != websocket.CloseUnsupportedData {
						t.Errorf("a closing session sent %q and close %d, want WELCOME %s alone and then close 1003", frames, code, testWelcome)
					}
				} else {
					if got := nextText(t, client); got != string(testWelcome) {
						t.Errorf("first frame %s, want WELCOME %s", got, testWelcome)
					}
					// Then the two queued frames, in either order.
					for range 2 {
						if got := nextText(t, client); got == string(testWelcome) {
							t.Errorf("WELCOME sent twice")
						}
					}
				}
				cancel(errors.New("test over"))
				client.Close()
				<-written
				conn.ws.Close()
			})
		})
	}
}

// TestPingsDuringBacklog: the writer pings on time while a stream keeps its
// queue full, as it does when idle. Its batch used to go on for as long as
// frames kept coming, so a client that read a fast stream steadily got no
// ping, and was closed when the pong timeout ran out.
func TestPingsDuringBacklog(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		conn, client := pipeUpgraded(t)
		s, cancel := writerSession(conn)
		s.cfg.PingInterval = 100 * time.Millisecond
		produced, written := backlog(s)

		var pings, frames int
		client.SetPingHandler(func(string) error { pings++; return nil })
		const readFor = 2 * time.Second // 20 ping intervals
		for start := time.Now(); time.Since(start) < readFor; {
			if _, _, err := client.ReadMessage(); err != nil {
				t.Fatalf("ReadMessage: %v", err)
			}
			frames++
			time.Sleep(10 * time.Millisecond) // a client slower than the stream
		}
		if want := int(readFor/s.cfg.PingInterval) - 1; pings < want {
			t.Errorf("the client got %d pings while it read %d frames of a stream for %v; want at least %d (one every %v)",
				pings, frames, readFor, want, s.cfg.PingInterval)
		}
		cancel(errPeerGone)
		conn.ws.Close()
		<-written
		<-produced
		client.Close()
	})
}
