package session

import (
	"context"
	"errors"
	"fmt"
	"net"
	"runtime"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"
)

// maxCloseReason is the longest close reason a close frame carries (RFC
// 6455: 125 bytes of payload, 2 of them the code).
const maxCloseReason = 123

// writeLoop is the connection's only writer of data frames. It writes
// welcome (and releases it, as every frame), then every queued frame and then flushes
// once, pings the peer, and on the end of the session sends the close
// frame. It also watches the start of a drain ([Config].Drain), so that a
// session needs no goroutine of its own for it (the end of the grace,
// which must not wait for the writer, Serve watches).
func (s *session) writeLoop(ctx context.Context, welcome *frame, drain <-chan struct{}) {
	ws := s.conn.ws
	// WELCOME goes first on every connection (PROTOCOL.md §2), alone:
	// before any frame of a call or EVENT that the reader has caused
	// already (the select below would pick between the two queues at
	// random), and even when the session is closing already, so that a
	// client closed for its first frame has had its WELCOME.
	if err := s.writeOne(welcome); err != nil {
		s.writeFailed(err)
		return
	}
	// The writer waits on as few channels as it can: each one it waits on
	// costs an idle session a waiter (a sudog), and a ticker's or a
	// context's channel costs one more allocation. The ping timer and the
	// session's end (cancel) set their state and wake it through the
	// event queue's ready channel instead (see wake). Pings keep a
	// ticker's schedule: every PingInterval from the start, a ping that
	// comes late not moving the next.
	nextPing := time.Now().Add(s.cfg.PingInterval)
	ping := time.AfterFunc(s.cfg.PingInterval, s.pingTimer)
	defer ping.Stop()
	// markerDue: the close marker is to be queued, and the queue was full.
	// It goes in as soon as there is room, behind every frame queued
	// before, as if a call goroutine had queued it.
	markerDue := false
	sendPing := func() error {
		now := time.Now()
		for !nextPing.After(now) {
			nextPing = nextPing.Add(s.cfg.PingInterval)
		}
		ping.Reset(nextPing.Sub(now))
		return ws.WriteControl(websocket.PingMessage, nil, now.Add(s.cfg.WriteTimeout))
	}
	startDrain := func() {
		drain = nil
		markerDue = s.drain() || markerDue
	}
	for {
		// Once the session is closing nothing but the close frame goes
		// out: frames queued by calls that the close cancelled would only
		// report that cancellation, and select alone would pick between
		// them and the close at random. A shutdown instead queues a close
		// marker behind the calls' terminal frames, so that they go out
		// before the close (see closeIfDrained).
		if ctx.Err() != nil {
			s.writeClose(context.Cause(ctx))
			return
		}
		if markerDue {
			select {
			case s.queue <- closeMarker:
				markerDue = false
			default:
			}
		}
		// A ping or a drain that is due goes first: with the queues never
		// empty (a stream faster than its client), the select below
		// would leave either to chance after every batch.
		if s.pingDue.Swap(false) {
			if err := sendPing(); err != nil {
				s.writeFailed(err)
				return
			}
			continue
		}
		select {
		case <-drain:
			startDrain()
			continue
		default:
		}
		var err error
		select {
		case f := <-s.queue:
			err = s.writeBatch(ctx, f, nil)
		case <-s.events.ready:
			// An EVENT frame, or a wake: a ping due or the session's
			// end, which the loop sees above.
			if ev, ok := s.events.pop(); ok {
				err = s.writeBatch(ctx, nil, ev)
			}
		case <-drain:
			startDrain()
		}
		if err != nil {
			s.writeFailed(err)
			return
		}
	}
}

// pingTimer runs on the writer's ping timer: a ping is due.
func (s *session) pingTimer() {
	s.pingDue.Store(true)
	s.wake()
}

// wake wakes the writer to look at the session's state (a ping due, the
// session's end) without a channel of its own: it shares the event
// queue's ready channel, after which the writer looks at everything.
func (s *session) wake() {
	select {
	case s.events.ready <- struct{}{}:
	default:
	}
}

// writeFailed ends the session after a failed write: the peer is gone or
// stopped reading for longer than WriteTimeout.
func (s *session) writeFailed(err error) {
	cause := errPeerGone
	// A session closed already (too far behind, say) whose last write
	// then timed out is not counted, or logged, a second time.
	if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() && s.ctx.Err() == nil {
		s.cfg.Stats.NoReadDisconnects.Add(1)
		s.cfg.Logger.Info("closing a client that reads nothing", "session", s.id, "no_read_timeout", s.cfg.WriteTimeout)
		cause = &peerGoneError{fmt.Sprintf("the client read nothing for %v (the no-read timeout)", s.cfg.WriteTimeout)}
	} else {
		s.cfg.Logger.Debug("write failed", "session", s.id, "error", err)
	}
	s.cancel(cause)
	s.endReadBy(time.Now()) // unblock the reader
}

// writeBatch writes f (a frame of the calls' queue) or ev (an EVENT frame),
// and every frame queued behind it, taking from the two queues in turn,
// then flushes. When both queues are empty while other calls run, it
// yields once (s.yield, see writerYield) and takes what they queued
// meanwhile before it flushes. It stops early when the session starts
// closing, and once it has written maxBatchBuffer bytes, so that the
// writer's loop sends its pings and starts a drain on time however long
// the queues stay full: a full batch buffer is written out at that point
// anyway.
func (s *session) writeBatch(ctx context.Context, f *frame, ev []byte) error {
	bc := s.conn.batch
	bc.begin(s.cfg.WriteTimeout)
	yielded := false // at most once per batch
	written := 0
	for ctx.Err() == nil {
		if f != nil {
			if f == closeMarker {
				if !s.closeNow() {
					// A refusal is yet to be queued; the last one
					// queues the marker again, behind it.
					if f, ev = s.queued(); f != nil || ev != nil {
						continue
					}
					break
				}
				// The frames behind the marker are refusals of CALLs
				// read after it was queued: they go out first.
				if err := s.writeRefusals(bc); err != nil {
					bc.end()
					return err
				}
				s.cancel(errDrained) // the loop then sends the close frame
				break
			}
		}
		n, err := s.put(bc, f, ev)
		if err != nil {
			bc.end()
			return err
		}
		written += n
		if written >= maxBatchBuffer {
			break
		}
		// The queue that did not give this frame goes first, so that
		// neither starves the other within a long batch.
		eventFirst := f != nil
		f, ev = nil, nil
		if eventFirst {
			if e, ok := s.events.pop(); ok {
				ev = e
				continue
			}
		}
		if f, ev = s.queued(); f != nil || ev != nil {
			continue
		}
		// Only another call can queue a frame during the yield.
		if s.yield == nil || yielded || s.running.Load() < 2 {
			break
		}
		yielded = true
		s.yield()
		if f, ev = s.queued(); f != nil || ev != nil {
			continue
		}
		break
	}
	return bc.end()
}

// writeRefusals writes the frames left in the calls' queue once the writer
// has reached the close marker, to be flushed with the batch: the
// refusals of CALLs read after the marker was queued (no call runs then).
func (s *session) writeRefusals(bc *batchConn) error {
	for {
		select {
		case f := <-s.queue:
			if f == closeMarker {
				continue
			}
			if _, err := s.put(bc, f, nil); err != nil {
				return err
			}
		default:
			return nil
		}
	}
}

// writeOne writes f on its own, and flushes it.
func (s *session) writeOne(f *frame) error {
	bc := s.conn.batch
	bc.begin(s.cfg.WriteTimeout)
	if _, err := s.put(bc, f, nil); err != nil {
		bc.end()
		return err
	}
	return bc.end()
}

// put writes f, a frame of the calls' queue, into the batch, having given
// back what it counts (taken), and releases it; or, when f is nil, ev, an
// EVENT frame. It returns the frame's length.
func (s *session) put(bc *batchConn, f *frame, ev []byte) (int, error) {
	data := ev
	if f != nil {
		s.taken(f)
		data = f.b
	}
	s.cfg.Metrics.bytesOut(len(data))
	err := bc.writeText(data)
	if f != nil {
		f.release()
	}
	return len(data), err
}

// queued returns a frame of the calls' queue, else an EVENT frame, else
// nothing, without waiting.
func (s *session) queued() (*frame, []byte) {
	select {
	case f := <-s.queue:
		return f, nil
	default:
	}
	if e, ok := s.events.pop(); ok {
		return nil, e
	}
	return nil, nil
}

// writerYield returns the yield of a session's writer when procs
// processors run Go code: runtime.Gosched on one processor, else nil.
//
// On one processor the writer and the call goroutines take turns. A call
// goroutine that queues a frame wakes the writer, and the scheduler runs
// the woken writer next, before the other call goroutines whose responses
// are ready: without a yield, every frame of a burst of unary results
// would be a batch, and a network write, of its own. One Gosched before
// the flush lets those goroutines queue their frames into the batch; when
// none is runnable it returns at once. On more processors the call
// goroutines run beside the writer, and a Gosched would rather hand the
// writer to another processor, waking it, which costs more than it saves.
func writerYield(procs int) func() {
	if procs == 1 {
		return runtime.Gosched
	}
	return nil
}

// writeClose tells the peer why the session ends, unless the peer left
// first, and gives it CloseGrace to answer before the reader stops.
func (s *session) writeClose(cause error) {
	ws := s.conn.ws
	s.sessionEnded() // before the close frame: a client that read it sees the session gone
	code, reason := websocket.CloseGoingAway, "the bridge is shutting down"
	var ce *closeError
	switch {
	case errors.Is(cause, errPeerGone):
		return
	case errors.As(cause, &ce):
		code, reason = ce.code, ce.reason
	}
	reason = truncate(reason, maxCloseReason)
	ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), time.Now().Add(s.cfg.WriteTimeout))
	s.endReadBy(time.Now().Add(s.cfg.CloseGrace))
}

// truncate shortens s to at most n bytes without splitting a character.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
