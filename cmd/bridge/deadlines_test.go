package main

import (
	"strings"
	"testing"
)

// TestServeDeadlineFlags: -call-timeout, -max-call-timeout and
// -stream-idle-timeout reach the calls of bridge serve. A demo clock stream
// whose second tick is an hour away ends with CALLERROR wamp.error.timeout
// saying which limit ended it; GetTime, which no rule names, is not
// affected.
func TestServeDeadlineFlags(t *testing.T) {
	t.Parallel()
	const rule = "demo.v1.ClockService.GetProgressiveTime=50ms"
	for _, tc := range []struct {
		flag, says string
	}{
		{"-call-timeout", "the default deadline of demo.v1.ClockService.GetProgressiveTime"},
		{"-max-call-timeout", "the longest deadline allowed for demo.v1.ClockService.GetProgressiveTime"},
		{"-stream-idle-timeout", "sent no message for 50ms, the stream idle timeout of demo.v1.ClockService.GetProgressiveTime"},
	} {
		t.Run(tc.flag, func(t *testing.T) {
			t.Parallel()
			url, _ := runServe(t, tc.flag, rule)
			waitFor(t, "GetTime to answer", func() bool { // the demo clock may not be ready yet
				return run(t.Context(), []string{"call", url, "GetTime"}, newLineWriter(), newLineWriter()) == exitOK
			})
			stderr := newLineWriter()
			// The client's own -timeout ends the call should the flag not
			// reach the bridge, failing the test rather than hanging it.
			code := run(t.Context(), []string{"call", "-timeout", readyTimeout.String(), url, "GetProgressiveTime", `{"count":2,"interval":"3600s"}`},
				newLineWriter(), stderr)
			if code != exitFailure || !strings.HasPrefix(stderr.String(), "error: wamp.error.timeout: ") || !strings.Contains(stderr.String(), tc.says) {
				t.Errorf("call under %s %s: exit status %d, stderr %q; want %d and wamp.error.timeout saying %q",
					tc.flag, rule, code, stderr, exitFailure, tc.says)
			}
		})
	}
}
