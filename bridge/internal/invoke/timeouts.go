package invoke

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/wampbridge/grpcwamp/bridge/internal/upstream"
)

// MethodDuration is a duration for the methods whose full name matches
// Pattern ([upstream.MatchMethod]: a glob such as "pkg.v1.*.Get*", or a
// service full name).
type MethodDuration struct {
	Pattern  string
	Duration time.Duration
}

// Timeouts are the deadlines the core puts on calls, by method. In each
// list the first rule whose pattern matches the method applies; no match,
// or a zero duration, means no limit. The zero value limits nothing: long
// streams are legitimate, so nothing has a deadline unless configured.
type Timeouts struct {
	// Default is the deadline of a call whose caller set none.
	Default []MethodDuration
	// Max is the longest deadline a call may have: a caller's later
	// deadline, or none at all, is cut to it.
	Max []MethodDuration
	// StreamIdle is the longest the upstream may stay silent in a server
	// stream: from the start of the call to its first message, and between
	// messages. Time that the client takes to accept a message does not
	// count: that is back-pressure, not an idle upstream.
	StreamIdle []MethodDuration
}

// Validate checks the patterns and durations.
func (t Timeouts) Validate() error {
	for _, list := range [][]MethodDuration{t.Default, t.Max, t.StreamIdle} {
		for _, r := range list {
			if err := upstream.ValidPattern(r.Pattern); err != nil {
				return err
			}
			if r.Duration < 0 {
				return fmt.Errorf("method pattern %q: duration %v is negative", r.Pattern, r.Duration)
			}
		}
	}
	return nil
}

func lookup(rules []MethodDuration, method string) time.Duration {
	for _, r := range rules {
		if upstream.MatchMethod(r.Pattern, method) {
			return r.Duration
		}
	}
	return 0
}

// SetTimeouts sets the deadlines of calls started from now on.
func (c *Core) SetTimeouts(t Timeouts) {
	if len(t.Default) == 0 && len(t.Max) == 0 && len(t.StreamIdle) == 0 {
		c.timeouts.Store(nil) // the common case costs a call nothing
		return
	}
	c.timeouts.Store(&t)
}

// noLimit is limit's done when no timeout applies.
func noLimit(err error) error { return err }

// timeoutError is the cause with which a deadline of the core ends a call;
// it is what the call returns in place of gRPC's generic error.
type timeoutError struct{ err error }

func (e *timeoutError) Error() string { return e.err.Error() }

func (e *timeoutError) Unwrap() error { return e.err }

// limit applies the core's timeouts to a call of p: it returns the call's
// context and emit, and done, which the call must run on its result: done
// stops the timers and turns a failure caused by one of them into
// DEADLINE_EXCEEDED naming the procedure and the limit.
func (c *Core) limit(ctx context.Context, p *Procedure, emit func(json.RawMessage) error) (context.Context, func(json.RawMessage) error, func(error) error) {
	t := c.timeouts.Load()
	if t == nil {
		return ctx, emit, noLimit
	}
	method := p.method.FullName
	var cancels []context.CancelFunc
	// own is the cause of the deadline the core set, when that deadline is
	// the call's: the upstream, which gets it as grpc-timeout, may give up
	// first, and then the failure is the upstream's, not the context's.
	var own *timeoutError
	if _, has := ctx.Deadline(); !has {
		if d := lookup(t.Default, method); d > 0 {
			own = &timeoutError{status.Errorf(codes.DeadlineExceeded,
				"procedure %q: no result within %v, the default deadline of %s: the call was cancelled; ask the operator to raise it if the method needs longer",
				p.name, d, method)}
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeoutCause(ctx, d, own)
			cancels = append(cancels, cancel)
		}
	}
	if d := lookup(t.Max, method); d > 0 {
		if dl, has := ctx.Deadline(); !has || time.Until(dl) > d {
			own = &timeoutError{status.Errorf(codes.DeadlineExceeded,
				"procedure %q: no result within %v, the longest deadline allowed for %s: the call was cancelled; ask the operator to raise the limit if the method needs longer",
				p.name, d, method)}
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeoutCause(ctx, d, own)
			cancels = append(cancels, cancel)
		}
	}
	var idle *time.Timer
	if d := lookup(t.StreamIdle, method); d > 0 && p.Streaming() {
		var cancel context.CancelCauseFunc
		ctx, cancel = context.WithCancelCause(ctx)
		cancels = append(cancels, func() { cancel(nil) })
		cause := &timeoutError{status.Errorf(codes.DeadlineExceeded,
			"procedure %q: the upstream sent no message for %v, the stream idle timeout of %s: the stream was cancelled",
			p.name, d, method)}
		idle = time.AfterFunc(d, func() { cancel(cause) })
		inner := emit
		emit = func(b json.RawMessage) error {
			if !idle.Stop() {
				return context.Cause(ctx) // it fired: the call is ending
			}
			err := inner(b)
			idle.Reset(d)
			return err
		}
	}
	done := func(err error) error {
		if idle != nil {
			idle.Stop()
		}
		var te *timeoutError
		switch {
		case err == nil:
		case errors.As(context.Cause(ctx), &te):
			if c := status.Code(err); c == codes.DeadlineExceeded || c == codes.Canceled || errors.Is(err, te) {
				err = te.err
			}
		case own != nil:
			// The upstream saw the deadline pass before the context did.
			dl, _ := ctx.Deadline()
			if c := status.Code(err); (c == codes.DeadlineExceeded || c == codes.Canceled) && !time.Now().Before(dl) {
				err = own.err
			}
		}
		for _, cancel := range cancels {
			cancel()
		}
		return err
	}
	return ctx, emit, done
}
