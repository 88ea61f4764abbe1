package session

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"testing/synctest"
	"time"
	"unsafe"

	"github.com/gorilla/websocket"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// TestSendQueueBound: a session's send queue holds Config.SendQueue frames
// of calls. That many are queued while no writer takes any; the next send
// blocks until the writer takes one, and then goes in behind the others;
// a send so blocked gives up when its call is cancelled. A blocked send is
// what stops a call reading from its upstream stream (back-pressure).
//
// synctest.Wait tells a send that is blocked from one that has not run
// yet: it returns once every goroutine of the bubble is durably blocked.
func TestSendQueueBound(t *testing.T) {
	if got := withDefaults(Config{}).SendQueue; got != 64 {
		t.Errorf("default SendQueue = %d, want 64 as the README says", got)
	}
	synctest.Test(t, func(t *testing.T) {
		const n = 3
		cfg := withDefaults(Config{SendQueue: n})
		s := &session{cfg: cfg, queue: make(chan *frame, cfg.SendQueue)} // as Serve makes it
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		msg := func(i int) *frame { return progressFrame("c", json.RawMessage(fmt.Sprint(i))) }
		for i := range n {
			if err := s.send(ctx, msg(i)); err != nil {
				t.Fatalf("send %d into a queue of %d: %v", i+1, n, err)
			}
		}
		done := make(chan error, 1)
		blocked := func(what string) {
			t.Helper()
			synctest.Wait()
			select {
			case err := <-done:
				t.Fatalf("%s: send returned %v, want it blocked", what, err)
			default:
			}
		}

		go func() { done <- s.send(ctx, msg(n)) }()
		blocked(fmt.Sprintf("send %d into a full queue of %d with no writer", n+1, n))
		// The writer takes the oldest frame: the blocked send goes in.
		f := <-s.queue
		if want := `[1000,"c",0]`; string(f.b) != want {
			t.Errorf("writer took %s, want %s", f.b, want)
		}
		f.release()
		if err := <-done; err != nil {
			t.Fatalf("send once the writer took a frame: %v", err)
		}
		if len(s.queue) != n {
			t.Errorf("queue holds %d frames, want %d", len(s.queue), n)
		}

		go func() { done <- s.send(ctx, msg(n+1)) }()
		blocked("send into a full queue again")
		cancel()
		if err := <-done; status.Code(err) != codes.Canceled {
			t.Errorf("blocked send after its call was cancelled: %v, want CANCELLED", err)
		}
		for i := 1; i <= n; i++ {
			f := <-s.queue
			if want := fmt.Sprintf(`[1000,"c",%d]`, i); string(f.b) != want {
				t.Errorf("queued frame %s, want %s: in order, without the cancelled one", f.b, want)
			}
			f.release()
		}
	})
}

// TestMaxWaiting: the bytes of call frames waiting for the client are
// bounded. With a client that reads nothing, the frame that would take
// them past MaxWaiting closes the session with 1008 as too slow; a frame
// larger than the bound passes when nothing else waits; and what the
// writer takes is given back.
func TestMaxWaiting(t *testing.T) {
	const limit = 4 << 10
	kb := func(n int) *frame {
		return resultFrame("c", json.RawMessage(`"`+strings.Repeat("x", n<<10-20)+`"`))
	}
	t.Run("too far behind", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			conn, client := pipeUpgraded(t)
			s, _ := writerSession(conn) // a send queue of 4
			s.cfg.MaxWaiting = limit
			written := startWriter(s)
			// The client reads nothing: the writer waits in the write of
			// WELCOME, three results of 1 KiB fit, the fourth does not.
			for range 8 {
				go s.sendFinal(kb(1))
			}
			synctest.Wait()
			var ce *closeError
			if !errors.As(context.Cause(s.ctx), &ce) || ce.code != websocket.ClosePolicyViolation || !strings.Contains(ce.reason, "max waiting results") {
				t.Errorf("session cause %v, want a close with 1008 naming the max waiting results", context.Cause(s.ctx))
			}
			if got := s.cfg.Stats.SlowDisconnects.Load(); got != 1 {
				t.Errorf("slow disconnects %d, want 1", got)
			}
			if got := s.waiting.Load(); got > limit {
				t.Errorf("%d bytes counted as waiting, more than the limit %d", got, limit)
			}
			// The writer's write of WELCOME then times out: the session
			// is not counted as closed a second time, for reading nothing.
			<-written
			if got := s.cfg.Stats.NoReadDisconnects.Load(); got != 0 {
				t.Errorf("no-read disconnects %d after the session was closed as too far behind, want 0", got)
			}
			client.Close()
		})
	})
	t.Run("a stream waits", func(t *testing.T) {
		// Progress frames do not count: a stream faster than its client
		// fills the queue with frames of a quarter of the limit each, and
		// waits for room, however long the client takes.
		synctest.Test(t, func(t *testing.T) {
			conn, client := pipeUpgraded(t)
			s, cancel := writerSession(conn)
			s.cfg.MaxWaiting = maxBatchBuffer
			produced, written := backlog(s)
			for range 100 {
				if _, _, err := client.ReadMessage(); err != nil {
					t.Fatalf("ReadMessage: %v", err)
				}
				time.Sleep(10 * time.Millisecond) // a client slower than the stream
			}
			if err := context.Cause(s.ctx); err != nil {
				t.Errorf("a client reading a stream slowly: session ended: %v", err)
			}
			cancel(errPeerGone)
			conn.ws.Close()
			<-written
			<-produced
			client.Close()
		})
	})
	t.Run("one large frame, then given back", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			conn, client := pipeUpgraded(t)
			s, cancel := writerSession(conn)
			s.cfg.MaxWaiting = limit
			written := startWriter(s)
			s.sendFinal(kb(8)) // twice the limit, alone
			read := func() {
				if _, _, err := client.ReadMessage(); err != nil {
					t.Fatalf("ReadMessage: %v", err)
				}
			}
			read() // WELCOME; the writer takes the result and writes it
			synctest.Wait()
			if got := s.waiting.Load(); got != 0 {
				t.Errorf("%d bytes counted as waiting once the writer took the frame, want 0", got)
			}
			s.sendFinal(kb(1))
			read()
			read()
			synctest.Wait()
			if err := context.Cause(s.ctx); err != nil {
				t.Errorf("session ended: %v", err)
			}
			if got := s.waiting.Load(); got != 0 {
				t.Errorf("%d bytes counted as waiting after the client read every frame, want 0", got)
			}
			cancel(errPeerGone)
			conn.ws.Close()
			<-written
			client.Close()
		})
	})
}

// TestSessionSizeClass: the session struct, with the allocator's 8-byte
// header, fits the 576-byte size class; every idle session holds one, and
// the next class is 640 bytes.
func TestSessionSizeClass(t *testing.T) {
	if n := unsafe.Sizeof(session{}); n+8 > 576 {
		t.Errorf("session struct of %d bytes, want at most 568 (576, a size class, with the header): group small fields with small fields", n)
	}
}

// TestBatchConnSizeClass: the batching connection, which every session
// holds too, fits the 144-byte size class (the next is 160). It fitted
// 128 bytes until the read-ahead's pointer (see readAhead) took it 8 bytes
// past.
func TestBatchConnSizeClass(t *testing.T) {
	if n := unsafe.Sizeof(batchConn{}); n > 144 {
		t.Errorf("batchConn struct of %d bytes, want at most 144, a size class: group small fields with small fields", n)
	}
}
