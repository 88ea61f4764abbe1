package bridge

import (
	"fmt"
	"strings"
	"time"

	"github.com/wampbridge/grpcwamp/bridge/internal/invoke"
	"github.com/wampbridge/grpcwamp/bridge/internal/upstream"
)

// MethodDuration is a duration for the methods whose full name matches
// Pattern: a glob on the full name ("demo.v1.*", "*.Get*") or a service
// full name meaning all its methods.
type MethodDuration struct {
	Pattern  string
	Duration time.Duration
}

// ParseMethodDuration parses "PATTERN=DURATION" (such as
// "demo.v1.ClockService.*=30s"), or a bare "DURATION", which applies to
// every method (pattern "*").
func ParseMethodDuration(s string) (MethodDuration, error) {
	pattern, d, ok := strings.Cut(s, "=")
	if !ok {
		pattern, d = "*", s
	}
	pattern = strings.TrimSpace(pattern)
	dur, err := time.ParseDuration(strings.TrimSpace(d))
	if err != nil {
		return MethodDuration{}, fmt.Errorf("want PATTERN=DURATION or DURATION (such as demo.v1.*=30s), got %q: %w", s, err)
	}
	if dur < 0 {
		return MethodDuration{}, fmt.Errorf("%q: duration %v is negative", s, dur)
	}
	if pattern == "" {
		return MethodDuration{}, fmt.Errorf("%q: empty method pattern", s)
	}
	if err := upstream.ValidPattern(pattern); err != nil {
		return MethodDuration{}, err
	}
	return MethodDuration{Pattern: pattern, Duration: dur}, nil
}

// String returns the rule as ParseMethodDuration reads it.
func (m MethodDuration) String() string { return m.Pattern + "=" + m.Duration.String() }

// WithCallTimeout sets the deadline of calls whose caller set none (a WAMP
// v1 client cannot set one), by method: the first rule whose pattern
// matches applies. A call still running at its deadline is cancelled
// upstream and ends with DEADLINE_EXCEEDED (wamp.error.timeout). The
// default is no deadline for any call: long streams are legitimate.
func WithCallTimeout(rules ...MethodDuration) Option {
	return func(c *config) { c.timeouts.Default = toInvoke(rules) }
}

// WithMaxCallTimeout sets the longest deadline a call may have, by method:
// a later deadline, or none, is cut to it.
func WithMaxCallTimeout(rules ...MethodDuration) Option {
	return func(c *config) { c.timeouts.Max = toInvoke(rules) }
}

// WithStreamIdleTimeout ends a server stream whose upstream sends no
// message for the duration (counted from the start of the call, and from
// each message the client accepted), by method, with DEADLINE_EXCEEDED.
func WithStreamIdleTimeout(rules ...MethodDuration) Option {
	return func(c *config) { c.timeouts.StreamIdle = toInvoke(rules) }
}

func toInvoke(rules []MethodDuration) []invoke.MethodDuration {
	out := make([]invoke.MethodDuration, len(rules))
	for i, r := range rules {
		out[i] = invoke.MethodDuration{Pattern: r.Pattern, Duration: r.Duration}
	}
	return out
}
