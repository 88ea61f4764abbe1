package session

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	rpccode "google.golang.org/genproto/googleapis/rpc/code"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/wampbridge/grpcwamp/bridge/internal/invoke"
	"github.com/wampbridge/grpcwamp/bridge/wampv1"
)

// call is an entry of the table of calls in flight: a call that runs, or
// one refused, from its CALL until the writer takes its terminal frame
// from the queue (see taken). Until then its call id is in flight: the
// client cannot have seen the end of the call.
type call struct {
	id        string
	cancel    context.CancelCauseFunc // a no-op for a refused call
	procedure string
	start     time.Time // zero for a refused call
	// Guarded by session.mu:
	canceled bool // CALL_CANCEL arrived
	// reused: a CALL with the same id arrived while this one was in
	// flight; reuseAnswered: the terminal frame queued answers that.
	reused, reuseAnswered bool
}

// reuseError is how a call ends when a CALL reuses its id while it is in
// flight (see reuse).
func reuseError(id string) error {
	return invoke.Errorf(codes.InvalidArgument,
		"call id %q was reused by another CALL while in flight in this session: both calls are ended; use a new call id for each call", id)
}

// errReused cancels a call whose id a CALL reused.
var errReused = errors.New("call id reused while in flight")

// reuse handles a CALL (well-formed or not) whose id may be in flight, and
// reports whether it was. Such a CALL is refused with INVALID_ARGUMENT,
// and the call in flight ends with it: it is cancelled, and the one
// terminal frame that goes out for the id is that refusal (see finish and
// taken), so that no frame follows the end of a call (PROTOCOL.md §2).
// Letting the first call go on would send its frames, and its own end,
// after the refusal had ended the id. The reader calls it.
func (s *session) reuse(id string) bool {
	s.mu.Lock()
	reused := s.reuseLocked(id)
	s.mu.Unlock()
	if reused {
		s.countReuse()
	}
	return reused
}

// reuseLocked is reuse with s.mu held, but for countReuse, which the
// caller runs once it has released s.mu.
func (s *session) reuseLocked(id string) bool {
	c := s.calls[id]
	if c == nil {
		return false
	}
	if !c.reused {
		c.reused = true
		c.cancel(errReused)
	}
	return true
}

// countReuse counts a CALL that reused an id in flight: the first
// call's terminal frame answers it.
func (s *session) countReuse() {
	s.cfg.Metrics.callEnded("", codes.InvalidArgument, false)
}

// startCall registers a CALL and runs it on its own goroutine. The reader
// never blocks here: a refused call is answered from a goroutine too.
func (s *session) startCall(m *wampv1.Call) {
	id := m.CallID
	if len(id) > s.cfg.MaxNameLength {
		s.closeCallIDTooLong(len(id))
		return
	}
	procedure := s.prefixes.Expand(m.ProcURI)
	s.mu.Lock()
	if s.reuseLocked(id) {
		s.mu.Unlock()
		s.countReuse()
		return
	}
	if len(procedure) > s.cfg.MaxNameLength {
		s.mu.Unlock()
		s.refuse(id, clipName(procedure), invoke.Errorf(codes.InvalidArgument,
			"procedure URI %q of %d bytes (after PREFIX expansion): the limit is %d bytes",
			clipName(procedure), len(procedure), s.cfg.MaxNameLength))
		return
	}
	if s.drainingLocked() {
		s.mu.Unlock()
		s.refuse(id, procedure, invoke.Errorf(codes.Unavailable,
			"procedure %q: the bridge is shutting down: call refused; reconnect to another replica", procedure))
		return
	}
	if int(s.inFlight.Load()) >= s.cfg.MaxCallsInFlight {
		s.mu.Unlock()
		s.refuse(id, procedure, invoke.Errorf(codes.ResourceExhausted,
			"procedure %q: too many calls in flight: this session already runs %d, the limit; wait for results before calling again",
			procedure, s.cfg.MaxCallsInFlight))
		return
	}
	cctx, cancel := context.WithCancelCause(s.callsBase)
	if s.callsEnded != nil {
		cancel(s.callsEnded)
	}
	c := &call{id: id, cancel: cancel, procedure: procedure, start: time.Now()}
	s.addLocked(c)
	s.running.Add(1)
	s.inFlight.Add(1)
	s.started++
	s.mu.Unlock()
	s.cfg.Metrics.callStarted()
	s.goCall(func() {
		defer cancel(nil)
		var method string
		var result *frame
		p, err := s.core.Resolve(procedure)
		if err == nil {
			method = p.Method()
			result, err = s.run(cctx, id, procedure, p, m.Args)
		}
		if err != nil && errors.Is(context.Cause(cctx), errShutdown) && !c.isCanceled(s) {
			err = status.Errorf(codes.Unavailable,
				"procedure %q: the bridge shut down before the call ended: retry on another replica", procedure)
		}
		s.finish(id, c, method, result, err)
		s.mu.Lock()
		s.running.Add(-1)
		s.mu.Unlock()
		s.closeIfDrained()
	})
}

// goCall runs f, a call or a refusal, on a goroutine that Serve waits for:
// one of cfg.Workers, or a new one.
func (s *session) goCall(f func()) {
	if s.cfg.Workers == nil {
		s.wg.Go(f)
		return
	}
	s.wg.Add(1)
	s.cfg.Workers.Go(func() {
		defer s.wg.Done()
		f()
	})
}

// addLocked enters c in the table of calls in flight; s.mu is held.
func (s *session) addLocked(c *call) {
	if s.calls == nil {
		s.calls = make(map[string]*call)
	}
	s.calls[c.id] = c
}

// refuse answers a call that was never started with CALLERROR. Its id is
// in flight until the writer takes that frame, as a started call's is.
// The refusals being delivered are bounded: a client that keeps calling
// while not reading its frames is disconnected. The reader calls it, for
// an id that is not in flight (see reuse).
func (s *session) refuse(id, procedure string, err error) {
	s.mu.Lock()
	if s.closed || s.forced {
		// The close frame is going out, or the grace has ended and it
		// must not wait for a client that keeps calling: no answer.
		s.mu.Unlock()
		return
	}
	if int(s.refusing) >= s.cfg.MaxCallsInFlight {
		s.mu.Unlock()
		s.closeWith(websocket.ClosePolicyViolation,
			fmt.Sprintf("more than %d refused calls waiting to be answered: the client calls faster than it reads the answers", s.cfg.MaxCallsInFlight))
		return
	}
	s.refusing++
	c := &call{id: id, cancel: func(error) {}, procedure: procedure}
	s.addLocked(c)
	s.mu.Unlock()
	s.goCall(func() {
		if s.answersReuse(c) {
			err = reuseError(id)
		}
		frame, code := s.errorFrame(id, procedure, time.Time{}, err)
		s.cfg.Metrics.callEnded("", code, false)
		frame.call = c
		s.sendFinal(frame)
		s.mu.Lock()
		s.refusing--
		s.mu.Unlock()
		s.closeIfDrained()
	})
}

// drainingLocked reports whether the session drains; s.mu is held. It
// looks at the drain channel too, so that a CALL read after the drain began
// is refused even before watchShutdown has seen it.
func (s *session) drainingLocked() bool {
	if !s.draining {
		select {
		case <-s.cfg.Drain:
			s.draining = true
		default:
		}
	}
	return s.draining
}

// isCanceled reports whether CALL_CANCEL arrived for c.
func (c *call) isCanceled(s *session) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return c.canceled
}

// cancelCall handles CALL_CANCEL. An unknown or finished call id is ignored.
func (s *session) cancelCall(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.calls[id]; ok {
		c.canceled = true
		c.cancel(nil)
	}
}

// run calls the resolved procedure p and delivers its messages in the
// session's mode. It returns the CALLRESULT frame that ends the call when it
// succeeds; on failure the frame, if any, is the caller's to release.
func (s *session) run(ctx context.Context, id, procedure string, p *invoke.Procedure, args []json.RawMessage) (*frame, error) {
	if !p.Streaming() {
		// The result goes straight into its frame: emit's slice is
		// valid only until emit returns, and this saves a copy.
		var result *frame
		err := p.Call(ctx, args, func(b json.RawMessage) error {
			if result != nil {
				result.release()
			}
			result = resultFrame(id, b)
			return nil
		})
		if result == nil && err == nil {
			result = resultFrame(id, nil)
		}
		return result, err
	}
	switch s.cfg.Mode {
	case Last:
		// One message is held back: only the end of the stream tells
		// whether it was the last. It is a copy, kept in one buffer that
		// each message reuses once the one before has been encoded.
		var held json.RawMessage
		err := p.Call(ctx, args, func(b json.RawMessage) error {
			if held != nil {
				if err := s.send(ctx, progressFrame(id, held)); err != nil {
					return err
				}
			}
			held = keep(held, b)
			return nil
		})
		if err != nil && held != nil {
			// The stream failed: the held message was not the result,
			// but it was sent by the upstream, so it is delivered.
			if sendErr := s.send(ctx, progressFrame(id, held)); sendErr != nil {
				return nil, sendErr
			}
		}
		if err != nil {
			return nil, err
		}
		return resultFrame(id, held), nil
	case Collect:
		buf := []byte{'['}
		n := 0
		// held is what this call counts in s.collected: the limit bounds
		// the session's collect calls together, so that running many at
		// once does not multiply the memory one client can pin.
		held := 0
		defer func() { s.release(held) }()
		err := p.Call(ctx, args, func(b json.RawMessage) error {
			// The result so far, a comma unless b is the first, b, and
			// the closing bracket.
			if len(buf)+min(n, 1)+len(b)+1 > s.cfg.CollectLimit {
				return status.Errorf(codes.ResourceExhausted,
					"procedure %q: collected result exceeds the limit of %d bytes after %d messages: connect with ?stream=progress to receive messages one by one",
					procedure, s.cfg.CollectLimit, n)
			}
			grow := len(b) + 1
			if !s.collect(grow, held) {
				held = 0
				return status.Errorf(codes.ResourceExhausted,
					"procedure %q: the collect-mode calls of this connection together hold more than the limit of %d bytes (after %d messages of this call): run fewer at once, or connect with ?stream=progress to receive messages one by one",
					procedure, s.cfg.CollectLimit, n)
			}
			held += grow
			if n > 0 {
				buf = append(buf, ',')
			}
			buf = append(buf, b...)
			n++
			return nil
		})
		if err != nil {
			return nil, err
		}
		// The frame holds the bytes now, until the writer takes it: a
		// result waiting for a client that reads nothing still counts.
		f := resultFrame(id, append(buf, ']'))
		f.held, held = held, 0
		return f, nil
	default:
		err := p.Call(ctx, args, func(b json.RawMessage) error {
			return s.send(ctx, progressFrame(id, b))
		})
		if err != nil {
			return nil, err
		}
		return resultFrame(id, nil), nil
	}
}

// collect adds n bytes to what the session's collect-mode calls hold and
// reports true, unless that would exceed CollectLimit: then it releases
// the held bytes of the call that failed, in the same step, so that no
// other call is refused for them, and reports false.
func (s *session) collect(n, held int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.collected+n > s.cfg.CollectLimit {
		s.collected -= held
		return false
	}
	s.collected += n
	return true
}

// release gives back n bytes a collect-mode call held.
func (s *session) release(n int) {
	s.mu.Lock()
	s.collected -= n
	s.mu.Unlock()
}

// keep returns a copy of b in buf's storage, nil if b is nil. The session
// copies what emit hands it so as not to rely on owning it.
func keep(buf, b json.RawMessage) json.RawMessage {
	if b == nil {
		return nil
	}
	if out := append(buf[:0], b...); out != nil {
		return out
	}
	return json.RawMessage{}
}

// answersReuse reports whether c's id was reused while in flight, and if
// so records that the terminal frame about to be queued says so.
func (s *session) answersReuse(c *call) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	c.reuseAnswered = c.reused
	return c.reused
}

// finish ends a call: it queues exactly one terminal frame: result, the
// CALLRESULT, when err is nil, else a CALLERROR. The call stays in the
// table until the writer takes that frame (see taken). method is the
// resolved method's full name, "" when the procedure did not resolve.
func (s *session) finish(id string, c *call, method string, result *frame, err error) {
	switch {
	case s.answersReuse(c):
		err = reuseError(id)
	case c.isCanceled(s):
		err = status.Errorf(codes.Canceled, "call %q was cancelled by CALL_CANCEL", id)
	}
	if err != nil {
		if result != nil {
			s.release(result.held)
			result.release()
		}
		frame, code := s.errorFrame(id, c.procedure, c.start, err)
		s.cfg.Metrics.callEnded(method, code, true)
		frame.ends, frame.call = true, c
		s.sendFinal(frame)
		return
	}
	s.cfg.Metrics.callEnded(method, codes.OK, true)
	result.ends, result.call = true, c
	s.sendFinal(result)
}

// taken gives back what f counted against the session's limits, and ends
// the call whose terminal frame f is: its id leaves the table, before the
// client can see f, so a client that reuses the id once it has the end of
// the call is never refused. The writer calls it as it takes f from the
// queue.
//
// A CALL that reused the id after the terminal frame was made, but before
// the writer took it, was refused by this frame (see reuse): taken then
// makes f that refusal. (The call was counted in the metrics, and logged,
// with the code it had.)
func (s *session) taken(f *frame) {
	if f.waits > 0 {
		s.waiting.Add(-int64(f.waits))
		f.waits = 0
	}
	if f.ends {
		s.inFlight.Add(-1)
	}
	if f.held > 0 {
		s.release(f.held)
	}
	if c := f.call; c != nil {
		s.mu.Lock()
		if s.calls[c.id] == c {
			delete(s.calls, c.id)
			if len(s.calls) == 0 {
				s.calls = nil // an idle session holds no table
			}
		}
		late := c.reused && !c.reuseAnswered
		s.mu.Unlock()
		if late {
			f.b = wampv1.Append(f.b[:0], callError(c.id, s.core.Failure(reuseError(c.id))))
		}
	}
}

// errorFrame returns the CALLERROR answering id, a call of procedure
// started at start (zero: refused before it started), with err, and err's
// code. It logs the failure, one line per failed call as far as failLog
// lets it, and counts it.
func (s *session) errorFrame(id, procedure string, start time.Time, err error) (*frame, codes.Code) {
	f := s.core.Failure(err)
	var d time.Duration
	if !start.IsZero() {
		d = time.Since(start)
	}
	logged := false
	s.failLog.Do(func() {
		logged = true
		s.cfg.Logger.Info("call failed", "session", s.id, "procedure", procedure, "call", id, "code", rpccode.Code(f.Code).String(), "duration", d, "error", f.Message)
	})
	s.mu.Lock()
	s.failed++
	if logged {
		s.failLogged++
	}
	s.mu.Unlock()
	return encodeFrame(callError(id, f)), f.Code
}

// callError is the CALLERROR answering id with f.
func callError(id string, f *invoke.Failure) *wampv1.CallError {
	return &wampv1.CallError{CallID: id, ErrorURI: f.URI, ErrorDesc: f.Message, ErrorDetails: f.Details}
}

// frame is an encoded frame on its way to the writer. Frames come from a
// pool and go back to it once the writer has copied them out; the close
// marker is never pooled.
type frame struct {
	b []byte
	// ends: the terminal frame of a call that counts in the session's
	// inFlight; held: bytes it counts in the session's collected. The
	// writer gives both back when it takes the frame (see taken).
	ends bool
	held int
	// waits: bytes it counts in the session's waiting (see hold), given
	// back when the writer takes it.
	waits int
	// call is the call whose terminal frame this is, refusals included;
	// taken ends it.
	call *call
}

// closeMarker, queued behind the terminal frames of a draining session,
// makes the writer close the session with 1001 (see closeIfDrained).
var closeMarker = new(frame)

// maxPooledFrame bounds the frames kept for reuse, so that one huge result
// does not stay pinned in the pool.
const maxPooledFrame = 64 << 10

var framePool = sync.Pool{New: func() any { return new(frame) }}

// encodeFrame returns a pooled frame holding m.
func encodeFrame(m wampv1.Message) *frame {
	f := framePool.Get().(*frame)
	f.b = wampv1.Append(f.b[:0], m)
	return f
}

// release gives f back to the pool; f must not be used afterwards.
func (f *frame) release() {
	if f == closeMarker {
		return
	}
	if cap(f.b) > maxPooledFrame {
		f.b = nil
	}
	f.ends, f.held, f.waits, f.call = false, 0, 0, nil
	framePool.Put(f)
}

// resultFrame encodes a CALLRESULT; a nil result encodes null. It copies
// result.
func resultFrame(id string, result json.RawMessage) *frame {
	return encodeFrame(&wampv1.CallResult{CallID: id, Result: result})
}

// progressFrame encodes a CALL_PROGRESS_RESULT. It copies result, so the
// caller may reuse result once it returns.
func progressFrame(id string, result json.RawMessage) *frame {
	return encodeFrame(&wampv1.CallProgressResult{CallID: id, Result: result})
}

// send queues a frame of a call in flight. It blocks while the queue is
// full, which is how back-pressure reaches the upstream, and gives up when
// the call is cancelled.
func (s *session) send(ctx context.Context, f *frame) error {
	if err := ctx.Err(); err != nil {
		f.release()
		return status.FromContextError(err).Err()
	}
	// Most frames find room: a plain send costs less than a select.
	select {
	case s.queue <- f:
	default:
		select {
		case s.queue <- f:
		case <-ctx.Done():
			f.release()
			return status.FromContextError(ctx.Err()).Err()
		}
	}
	s.cfg.Metrics.progressFrame()
	s.cfg.Metrics.queueDepth(len(s.queue))
	return nil
}

// sendFinal queues a terminal frame; only the end of the session stops it.
func (s *session) sendFinal(f *frame) {
	if f != closeMarker && !s.hold(f) {
		f.release()
		return
	}
	// A plain send first, as in send: a select would make the session's
	// Done channel, which an idle session would then hold.
	select {
	case s.queue <- f:
	default:
		select {
		case s.queue <- f:
		case <-s.ctx.Done():
			return
		}
	}
	s.cfg.Metrics.queueDepth(len(s.queue))
}

// hold counts f, a terminal frame, among those waiting for the client,
// queued or waiting for room. When they would pass MaxWaiting while
// others wait, it closes the session as too slow instead and reports
// false: a client that calls without reading its results must not make
// the bridge hold them all (each call holds its result while it waits),
// which -max-calls-in-flight alone bounds only by count. A frame larger
// than the limit passes when nothing else waits. Progress frames do not
// count: a stream's frame waits for room, which is how back-pressure
// reaches its upstream, and a client that reads a stream slowly is not
// too far behind; the send queue bounds them (SendQueue frames, and one
// frame held by each stream waiting for room).
func (s *session) hold(f *frame) bool {
	n := int64(len(f.b))
	total := s.waiting.Add(n)
	if limit := s.cfg.MaxWaiting; limit > 0 && total > limit && total > n {
		s.waiting.Add(-n)
		s.tooFarBehind(limit)
		return false
	}
	f.waits = int(n)
	return true
}

// tooFarBehind closes the session whose results waiting for it passed
// limit bytes.
func (s *session) tooFarBehind(limit int64) {
	// Of the calls that find the bound passed at once, one closes.
	if s.ctx.Err() != nil || !s.behind.CompareAndSwap(false, true) {
		return
	}
	s.cfg.Stats.SlowDisconnects.Add(1)
	s.cfg.Logger.Info("closing a client too far behind its results", "session", s.id, "max_waiting_results", limit)
	s.cancel(&closeError{code: websocket.ClosePolicyViolation,
		reason: fmt.Sprintf("too slow: over %d bytes of results wait to be sent (the max waiting results): read them as they come", limit)})
}
