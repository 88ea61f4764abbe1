package session

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gorilla/websocket"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/wampbridge/grpcwamp/bridge/internal/invoke"
	"github.com/wampbridge/grpcwamp/bridge/internal/transcode"
	"github.com/wampbridge/grpcwamp/bridge/internal/upstream"
	"github.com/wampbridge/grpcwamp/bridge/wampv1"
)

// notReadyCore returns a Core whose upstream never loads a schema: every
// call it resolves fails at once with UNAVAILABLE, without any network.
// It is made outside any synctest bubble; the connection never connects.
func notReadyCore(t *testing.T) *invoke.Core {
	t.Helper()
	cc, err := grpc.NewClient("passthrough:///127.0.0.1:1", grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	discard := slog.New(slog.DiscardHandler)
	return invoke.New(upstream.New(cc, nil, discard), transcode.DefaultOptions(), discard)
}

// serveHeld serves a session on conn with at most 2 calls in flight and a
// send queue of 1, and sends it CALLs c1 to cn of x.v1.S.M from client,
// which reads nothing: the writer is held in its write of WELCOME into
// the pipe, which buffers nothing. It returns what Serve returns.
func serveHeld(t *testing.T, core *invoke.Core, conn *Conn, client *websocket.Conn, n int) <-chan error {
	t.Helper()
	cfg := Config{MaxCallsInFlight: 2, SendQueue: 1, PingInterval: time.Hour, WriteTimeout: time.Hour,
		Logger: slog.New(slog.DiscardHandler)}
	served := make(chan error, 1)
	go func() { served <- Serve(context.Background(), conn, core, cfg) }()
	synctest.Wait() // the writer is in the write of WELCOME
	for i := 1; i <= n; i++ {
		if err := client.WriteMessage(websocket.TextMessage, fmt.Appendf(nil, `[2,"c%d","x.v1.S.M"]`, i)); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
	}
	return served
}

// nextText returns the next message client reads.
func nextText(t *testing.T, client *websocket.Conn) string {
	t.Helper()
	_, data, err := client.ReadMessage()
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// readUntilClose reads client until the connection ends and returns the
// messages read and, if the bridge closed it, the close code and reason.
func readUntilClose(client *websocket.Conn) (frames []string, code int, reason string) {
	for {
		_, data, err := client.ReadMessage()
		if ce, ok := errors.AsType[*websocket.CloseError](err); ok {
			code, reason = ce.Code, ce.Text
		}
		if err != nil {
			return frames, code, reason
		}
		frames = append(frames, string(data))
	}
}

// TestInFlightCountsUntilTheResultLeaves: a call counts against
// MaxCallsInFlight until the writer takes its terminal frame from the send
// queue, not only while it runs. A client that reads nothing cannot start
// calls without bound, each ending and then waiting, with its result, for
// room in the queue; and a client that calls again once it has read a
// result is never refused.
func TestInFlightCountsUntilTheResultLeaves(t *testing.T) {
	core := notReadyCore(t)
	synctest.Test(t, func(t *testing.T) {
		// Call c1 ends at once and its CALLERROR fills the queue of 1;
		// c2 ends and waits for room; both still count, so c3 is refused.
		conn, client := pipeUpgraded(t)
		served := serveHeld(t, core, conn, client, 3)
		if got := nextText(t, client); !strings.HasPrefix(got, "[0,") {
			t.Fatalf("first frame %s, want WELCOME", got)
		}
		for _, want := range []string{
			`[4,"c1","wamp.error.unavailable"`,
			`[4,"c2","wamp.error.unavailable"`,
			`[4,"c3","grpc.error.resource_exhausted","procedure \"x.v1.S.M\": too many calls in flight: this session already runs 2, the limit`,
		} {
			if got := nextText(t, client); !strings.HasPrefix(got, want) {
				t.Errorf("frame %.200s, want it to begin %s", got, want)
			}
		}
		// Each result's slot was free before the client could read it:
		// two calls at once fit again.
		for _, id := range []string{"c4", "c5"} {
			if err := client.WriteMessage(websocket.TextMessage, fmt.Appendf(nil, `[2,%q,"x.v1.S.M"]`, id)); err != nil {
				t.Fatal(err)
			}
		}
		// They run at once, so their results come in either order.
		got := map[string]bool{}
		for range 2 {
			f := nextText(t, client)
			for _, id := range []string{"c4", "c5"} {
				if strings.HasPrefix(f, `[4,"`+id+`","wamp.error.unavailable"`) {
					got[id] = true
				}
			}
		}
		if !got["c4"] || !got["c5"] {
			t.Errorf("results of c4 and c5: got UNAVAILABLE for %v, want both (neither refused)", got)
		}
		client.Close()
		<-served
	})
}

// TestWriterGivesBackLimits: the writer gives back what a terminal frame
// counts, its call's slot in MaxCallsInFlight and the bytes a collect-mode
// result counts against CollectLimit, as it takes the frame; a frame of
// the queue that counts nothing gives back nothing.
func TestWriterGivesBackLimits(t *testing.T) {
	conn, counter, client := upgraded(t)
	s := &session{cfg: withDefaults(Config{}), conn: conn, queue: make(chan *frame, 2)}
	// The slot is free before the frame reaches the network.
	atWrite := make(chan int32, 1)
	conn.batch.Conn = &observedConn{Conn: counter, before: func() { atWrite <- s.inFlight.Load() }}
	s.inFlight.Store(3)
	s.collected = 1000
	progress := progressFrame("a", []byte(`1`))
	result := resultFrame("b", []byte(`[1,2]`))
	result.ends, result.held = true, 600
	s.queue <- result
	if err := s.writeBatch(t.Context(), progress, nil); err != nil {
		t.Fatal(err)
	}
	if got := s.inFlight.Load(); got != 2 {
		t.Errorf("calls in flight after the writer took one terminal frame: %d, want 2", got)
	}
	if got := <-atWrite; got != 2 {
		t.Errorf("calls in flight when the batch reached the network: %d, want 2", got)
	}
	if s.collected != 400 {
		t.Errorf("collected bytes after the writer took a result holding 600 of 1000: %d, want 400", s.collected)
	}
	for _, want := range []string{`[1000,"a",1]`, `[3,"b",[1,2]]`} {
		if _, data, err := client.ReadMessage(); err != nil || string(data) != want {
			t.Errorf("read %s (%v), want %s", data, err, want)
		}
	}
}

// TestRefusalsBounded: refusals waiting to be sent are bounded too: a
// client that goes on calling while it reads nothing is closed with 1008
// once more than MaxCallsInFlight refusals wait.
func TestRefusalsBounded(t *testing.T) {
	core := notReadyCore(t)
	synctest.Test(t, func(t *testing.T) {
		// c1 and c2 count against the limit, c3 and c4 are refusals
		// waiting, c5 is one too many.
		conn, client := pipeUpgraded(t)
		served := serveHeld(t, core, conn, client, 5)
		_, code, reason := readUntilClose(client)
		if want := "more than 2 refused calls waiting to be answered: the client calls faster than it reads the answers"; code != websocket.ClosePolicyViolation || reason != want {
			t.Errorf("close %d %q, want 1008 %q", code, reason, want)
		}
		client.Close()
		if err := <-served; err == nil {
			t.Error("Serve returned nil, want the close")
		}
	})
}

// observedConn calls before ahead of each write to the network.
type observedConn struct {
	net.Conn
	before func()
}

func (c *observedConn) Write(p []byte) (int, error) {
	c.before()
	return c.Conn.Write(p)
}

// TestReuseWhileQueued: a call id stays in flight until the writer takes
// the call's terminal frame, refusals included. A CALL reusing it while
// that frame waits in the queue, or waits for room there, is refused by
// that frame: the writer sends the refusal in its place, and no other
// frame for the id, so the client sees exactly one end of the call. Once
// the writer has taken the frame the id is free.
func TestReuseWhileQueued(t *testing.T) {
	core := notReadyCore(t)
	synctest.Test(t, func(t *testing.T) {
		// c1 ends at once and its CALLERROR fills the queue of 1; c2 ends
		// and waits for room; c3 is refused (2 in flight) and its refusal
		// waits too. Then each id is reused.
		conn, client := pipeUpgraded(t)
		served := serveHeld(t, core, conn, client, 3)
		for _, id := range []string{"c1", "c2", "c3"} {
			if err := client.WriteMessage(websocket.TextMessage, fmt.Appendf(nil, `[2,%q,"x.v1.S.M"]`, id)); err != nil {
				t.Fatal(err)
			}
			synctest.Wait()
		}
		if got := nextText(t, client); !strings.HasPrefix(got, "[0,") {
			t.Fatalf("first frame %s, want WELCOME", got)
		}
		// c2 and c3 wait for room at once: they come in either order.
		got := map[string]bool{}
		for range 3 {
			f := nextText(t, client)
			for _, id := range []string{"c1", "c2", "c3"} {
				want := fmt.Sprintf(`[4,%q,"wamp.error.invalid_argument","call id \"%s\" was reused by another CALL while in flight in this session: both calls are ended; use a new call id for each call"`, id, id)
				if strings.HasPrefix(f, want) {
					got[id] = true
				}
			}
			if !strings.HasPrefix(f, `[4,"c`) {
				t.Errorf("frame %.200s, want the refusal of a reused call id", f)
			}
		}
		if len(got) != 3 {
			t.Errorf("refusals of the reused ids: got %v, want c1, c2 and c3", got)
		}
		// Nothing else for c1 to c3 was queued, and each id is free again.
		for _, id := range []string{"c1", "c4"} {
			if err := client.WriteMessage(websocket.TextMessage, fmt.Appendf(nil, `[2,%q,"x.v1.S.M"]`, id)); err != nil {
				t.Fatal(err)
			}
			if f, want := nextText(t, client), `[4,"`+id+`","wamp.error.unavailable"`; !strings.HasPrefix(f, want) {
				t.Errorf("frame %.200s, want it to begin %s", f, want)
			}
		}
		client.Close()
		<-served
	})
}

// TestDrainAnswersLateCalls: a CALL that a draining session reads after
// its close marker is queued is refused with UNAVAILABLE, and that refusal
// goes out before the close, whether it is queued behind the marker by the
// time the writer reaches it or is still to be queued then (the marker
// then waits for it, but not once the grace has ended). Once the close is
// going out, a CALL is dropped.
func TestDrainAnswersLateCalls(t *testing.T) {
	refusal := func(id string) *frame {
		return encodeFrame(&wampv1.CallError{CallID: id, ErrorURI: "wamp.error.unavailable", ErrorDesc: "shutting down"})
	}
	t.Run("queued behind the marker", func(t *testing.T) {
		conn, _, client := upgraded(t)
		s, _ := writerSession(conn)
		s.draining, s.closing = true, true
		s.queue <- closeMarker
		s.queue <- refusal("late")
		if err := s.writeBatch(s.ctx, <-s.queue, nil); err != nil {
			t.Fatal(err)
		}
		if got := context.Cause(s.ctx); !errors.Is(got, errDrained) {
			t.Errorf("session cause %v, want the drain's close", got)
		}
		conn.ws.Close() // the client reads what was written, then the end
		if got := nextText(t, client); !strings.HasPrefix(got, `[4,"late","wamp.error.unavailable"`) {
			t.Errorf("frame %s, want the refusal of the late CALL before the close", got)
		}
	})
	t.Run("still to be queued after the grace", func(t *testing.T) {
		// The grace has ended: the writer closes without waiting, so that a
		// client calling without pause cannot hold the session open.
		conn, _, _ := upgraded(t)
		s, _ := writerSession(conn)
		s.draining, s.forced, s.closing, s.refusing = true, true, true, 1
		if err := s.writeBatch(s.ctx, closeMarker, nil); err != nil {
			t.Fatal(err)
		}
		if got := context.Cause(s.ctx); !errors.Is(got, errDrained) {
			t.Errorf("session cause %v, want the drain's close", got)
		}
	})
	t.Run("still to be queued", func(t *testing.T) {
		conn, _, client := upgraded(t)
		s, _ := writerSession(conn)
		s.draining, s.closing, s.refusing = true, true, 1
		s.queue <- closeMarker
		if err := s.writeBatch(s.ctx, <-s.queue, nil); err != nil {
			t.Fatal(err)
		}
		if s.ctx.Err() != nil || s.closing {
			t.Fatalf("with a refusal still to be queued the writer closed (cause %v, closing %t), want the marker withdrawn",
				context.Cause(s.ctx), s.closing)
		}
		// The refusal's goroutine queues it, and then the marker again.
		s.sendFinal(refusal("late"))
		s.mu.Lock()
		s.refusing--
		s.mu.Unlock()
		s.closeIfDrained()
		if err := s.writeBatch(s.ctx, <-s.queue, nil); err != nil {
			t.Fatal(err)
		}
		if got := context.Cause(s.ctx); !errors.Is(got, errDrained) {
			t.Errorf("session cause %v, want the drain's close", got)
		}
		conn.ws.Close()
		if got := nextText(t, client); !strings.HasPrefix(got, `[4,"late","wamp.error.unavailable"`) {
			t.Errorf("frame %s, want the refusal of the late CALL before the close", got)
		}
		// Once the close goes out, nothing is refused any more.
		s.refuse("later", "x.v1.S.M", errors.New("shutting down"))
		if s.refusing != 0 || len(s.queue) != 0 {
			t.Errorf("a CALL after the close was refused (refusing %d, queued %d), want it dropped", s.refusing, len(s.queue))
		}
	})
}

// TestForcedDrainCloses: once the grace has ended, the session closes with
// 1001 however its client goes on calling. Here the client keeps more
// CALLs pending than the send queue holds, and sends one more for every
// frame it reads, which kept the writer inside one batch and a refusal
// always waiting: the session never closed (found in review).
func TestForcedDrainCloses(t *testing.T) {
	core := notReadyCore(t)
	synctest.Test(t, func(t *testing.T) {
		conn, client := pipeUpgraded(t)
		drain := make(chan struct{})
		ctx, force := context.WithCancel(context.Background())
		cfg := Config{SendQueue: 1, PingInterval: time.Hour, WriteTimeout: time.Hour, Logger: slog.New(slog.DiscardHandler), Drain: drain}
		served := make(chan error, 1)
		go func() { served <- Serve(ctx, conn, core, cfg) }()
		if f := nextText(t, client); !strings.HasPrefix(f, "[0,") {
			t.Fatal(f)
		}
		send := func(i int) {
			go client.WriteMessage(websocket.TextMessage, []byte(`[2,"c`+strconv.Itoa(i)+`","x.v1.S.M"]`))
			synctest.Wait()
		}
		// 8 calls start and end at once; their CALLERRORs wait for the
		// client, which reads nothing yet. Then the drain begins, and
		// every CALL is refused.
		next := 0
		for ; next < 8; next++ {
			send(next)
		}
		close(drain)
		synctest.Wait()
		for ; next < 250; next++ {
			send(next)
		}
		force()
		synctest.Wait()
		for round := 0; round < 2000; round++ {
			if _, _, err := client.ReadMessage(); err != nil {
				if !websocket.IsCloseError(err, websocket.CloseGoingAway) {
					t.Errorf("after %d frames: %v, want close 1001", round, err)
				}
				client.Close()
				<-served
				return
			}
			send(next)
			next++
		}
		t.Errorf("session still open 2000 frames after the grace ended (force)")
		client.Close()
		<-served
	})
}
