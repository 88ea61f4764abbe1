package bridge_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/wampbridge/grpcwamp/bridge"
	"github.com/wampbridge/grpcwamp/bridge/internal/bridgetest"
)

// A blocked stream stands for a call that runs too long: it sends count
// messages and then waits until the bridge cancels it, which the upstream
// reports (WaitCanceled). Deadlines that must not fire are an hour long.
// testDeadline is the deadline or idle timeout that the tests here let
// fire. The call, and for a stream its first messages, must reach the
// upstream and come back before it: at 20ms, a loaded machine (CI with
// other tests beside it) let it pass before the held call reached the
// upstream, or before the answer of the Sync call that follows came back.
const testDeadline = 250 * time.Millisecond

func TestE2ECallTimeout(t *testing.T) {
	t.Parallel()
	addr, svc := bridgetest.StartUpstream(t, bridgetest.UpstreamOptions{})
	br := bridgetest.StartBridge(t, addr, bridgetest.Reflection,
		bridge.WithCallTimeout(
			bridge.MethodDuration{Pattern: "bridgetest.v1.TestService.Stream", Duration: testDeadline},
			bridge.MethodDuration{Pattern: "*", Duration: time.Hour},
		))
	c := bridgetest.Dial(t, br.URL, "wamp")
	c.ReadWelcome(t)

	c.Send(t, `[2,"slow","bridgetest.v1.TestService.Stream",{"count":1,"block":true,"tag":"deadline"}]`)
	c.ExpectFrame(t, `[1000,"slow",{"index":1,"tag":"deadline"}]`)
	e := c.ExpectCallError(t, "slow", int(codes.DeadlineExceeded))
	for _, want := range []string{`"bridgetest.v1.TestService.Stream"`, testDeadline.String(), "default deadline"} {
		if !strings.Contains(e.Desc, want) {
			t.Errorf("CALLERROR desc %q does not name %s", e.Desc, want)
		}
	}
	if err := svc.WaitCanceled(t.Context(), "deadline"); err != nil {
		t.Fatal(err)
	}

	// Other methods get the hour: Echo answers.
	c.Send(t, `[2,"echo","bridgetest.v1.TestService.Echo",{"text":"in time"}]`)
	if f := c.ReadFrame(t); f.Type() != 3 || f.CallID() != "echo" {
		t.Fatalf("Echo under a 1h deadline: got %s, want CALLRESULT", f.Raw())
	}
}

func TestE2EMaxCallTimeout(t *testing.T) {
	t.Parallel()
	addr, svc := bridgetest.StartUpstream(t, bridgetest.UpstreamOptions{})
	br := bridgetest.StartBridge(t, addr, bridgetest.Reflection,
		bridge.WithMaxCallTimeout(bridge.MethodDuration{Pattern: "bridgetest.v1.TestService", Duration: testDeadline}))
	c := bridgetest.Dial(t, br.URL, "wamp")
	c.ReadWelcome(t)
	c.Send(t, `[2,"slow","bridgetest.v1.TestService.Stream",{"block":true,"tag":"max"}]`)
	e := c.ExpectCallError(t, "slow", int(codes.DeadlineExceeded))
	if !strings.Contains(e.Desc, "longest deadline allowed") {
		t.Errorf("CALLERROR desc %q does not say the maximum deadline passed", e.Desc)
	}
	if err := svc.WaitCanceled(t.Context(), "max"); err != nil {
		t.Fatal(err)
	}
	// A method of another service has no deadline: the demo clock answers.
	c.Send(t, `[2,"time","demo.v1.ClockService.GetTime"]`)
	if f := c.ReadFrame(t); f.Type() != 3 {
		t.Fatalf("GetTime: got %s, want CALLRESULT", f.Raw())
	}
}

func TestE2EStreamIdleTimeout(t *testing.T) {
	t.Parallel()
	addr, svc := bridgetest.StartUpstream(t, bridgetest.UpstreamOptions{})
	br := bridgetest.StartBridge(t, addr, bridgetest.Reflection,
		bridge.WithStreamIdleTimeout(bridge.MethodDuration{Pattern: "bridgetest.v1.TestService.Stream", Duration: testDeadline}))
	c := bridgetest.Dial(t, br.URL, "wamp")
	c.ReadWelcome(t)

	// Two messages, then silence: the messages arrive, then the idle
	// timeout ends the stream.
	c.Send(t, `[2,"idle","bridgetest.v1.TestService.Stream",{"count":2,"block":true,"tag":"idle"}]`)
	c.ExpectFrame(t, `[1000,"idle",{"index":1,"tag":"idle"}]`)
	c.ExpectFrame(t, `[1000,"idle",{"index":2,"tag":"idle"}]`)
	e := c.ExpectCallError(t, "idle", int(codes.DeadlineExceeded))
	if !strings.Contains(e.Desc, "sent no message for "+testDeadline.String()) {
		t.Errorf("CALLERROR desc %q does not name the idle timeout", e.Desc)
	}
	if err := svc.WaitCanceled(t.Context(), "idle"); err != nil {
		t.Fatal(err)
	}

	// A unary call has no idle timeout, and a stream that ends is not cut.
	c.Send(t, `[2,"done","bridgetest.v1.TestService.Stream",{"count":3,"tag":"done"}]`)
	for i := 1; i <= 3; i++ {
		c.ExpectFrame(t, fmt.Sprintf(`[1000,"done",{"index":%d,"tag":"done"}]`, i))
	}
	c.ExpectFrame(t, `[3,"done",null]`)
}

// TestE2EUnaryDeadline: a unary call still running at its default or
// maximum deadline is cancelled upstream and answered with CALLERROR
// wamp.error.timeout naming the procedure and which limit it was; the
// upstream received the deadline with the call.

func TestE2EUnaryDeadline(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		opt  bridge.Option
		says string
	}{
		{"default", bridge.WithCallTimeout(bridge.MethodDuration{Pattern: echoProc, Duration: testDeadline}), "default deadline"},
		{"maximum", bridge.WithMaxCallTimeout(bridge.MethodDuration{Pattern: "bridgetest.v1.*", Duration: testDeadline}), "longest deadline allowed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := start(t, bridgetest.Reflection, tc.opt)
			e.svc.HoldEcho("slow")
			c := e.connect(t, "")
			c.Send(t, fmt.Sprintf(`[2,"slow",%q,{"text":"slow"}]`, echoProc))
			ce := c.ExpectCallError(t, "slow", int(codes.DeadlineExceeded))
			if ce.URI != "wamp.error.timeout" {
				t.Errorf("errorURI %q, want wamp.error.timeout", ce.URI)
			}
			for _, want := range []string{`procedure "` + echoProc + `"`, testDeadline.String(), tc.says} {
				if !strings.Contains(ce.Desc, want) {
					t.Errorf("CALLERROR desc %q does not say %s", ce.Desc, want)
				}
			}
			if err := e.svc.WaitCanceled(t.Context(), "slow"); err != nil {
				t.Fatal(err)
			}
			if left, ok := e.svc.EchoDeadline(t, "slow"); !ok || left > testDeadline {
				t.Errorf("the upstream's context: deadline %v away (set: %v), want one within %v", left, ok, testDeadline)
			}
			c.Sync(t) // the session goes on
		})
	}
}

// TestE2ENoDeadlineByDefault guards "no total timeout by default": with
// no deadline configured, or deadlines configured for other methods only,
// neither a unary call nor a stream reaches the upstream with a deadline.
func TestE2ENoDeadlineByDefault(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		opts []bridge.Option
	}{
		{"nothing configured", nil},
		{"other methods configured", []bridge.Option{
			bridge.WithCallTimeout(bridge.MethodDuration{Pattern: "demo.v1.*", Duration: time.Hour}),
			bridge.WithMaxCallTimeout(bridge.MethodDuration{Pattern: "demo.v1.ClockService", Duration: time.Hour}),
			bridge.WithStreamIdleTimeout(bridge.MethodDuration{Pattern: "demo.v1.ClockService.GetProgressiveTime", Duration: time.Hour}),
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := start(t, bridgetest.Reflection, tc.opts...)
			c := e.connect(t, "")
			echoMetadata(t, e, c, "no deadline")
			if left, ok := e.svc.EchoDeadline(t, "no deadline"); ok {
				t.Errorf("Echo reached the upstream with a deadline %v away, want none", left)
			}
			c.Send(t, fmt.Sprintf(`[2,"s",%q,{"count":1,"tag":"no deadline"}]`, streamProc))
			c.ExpectFrame(t, `[1000,"s",{"index":1,"tag":"no deadline"}]`)
			c.ExpectFrame(t, `[3,"s",null]`)
			if left, ok := e.svc.StreamDeadline(t, "no deadline"); ok {
				t.Errorf("Stream reached the upstream with a deadline %v away, want none", left)
			}
		})
	}
}

// TestE2EDeadlineReachesUpstream: a deadline the bridge sets travels
// upstream as grpc-timeout, so the upstream's context has it too.
func TestE2EDeadlineReachesUpstream(t *testing.T) {
	t.Parallel()
	e := start(t, bridgetest.Reflection,
		bridge.WithCallTimeout(bridge.MethodDuration{Pattern: echoProc, Duration: time.Hour}),
		bridge.WithMaxCallTimeout(bridge.MethodDuration{Pattern: streamProc, Duration: 2 * time.Hour}))
	c := e.connect(t, "")
	echoMetadata(t, e, c, "an hour")
	// The call took far less than a minute to arrive.
	if left, ok := e.svc.EchoDeadline(t, "an hour"); !ok || left > time.Hour || left < 59*time.Minute {
		t.Errorf("Echo reached the upstream with a deadline %v away (set: %v), want about 1h", left, ok)
	}
	c.Send(t, fmt.Sprintf(`[2,"s",%q,{"count":1,"tag":"two hours"}]`, streamProc))
	c.ExpectFrame(t, `[1000,"s",{"index":1,"tag":"two hours"}]`)
	c.ExpectFrame(t, `[3,"s",null]`)
	if left, ok := e.svc.StreamDeadline(t, "two hours"); !ok || left > 2*time.Hour || left < 119*time.Minute {
		t.Errorf("Stream reached the upstream with a deadline %v away (set: %v), want about 2h", left, ok)
	}
}

func TestE2ETimeoutsRefused(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"", "x", "a=", "=1s", "[=1s", "a=-1s"} {
		if _, err := bridge.ParseMethodDuration(s); err == nil {
			t.Errorf("ParseMethodDuration(%q) = nil error, want one", s)
		}
	}
	for s, want := range map[string]string{"30s": "*=30s", "demo.v1.*=1m": "demo.v1.*=1m0s", " a.B = 2s ": "a.B=2s"} {
		got, err := bridge.ParseMethodDuration(s)
		if err != nil || got.String() != want {
			t.Errorf("ParseMethodDuration(%q) = %v, %v; want %s", s, got, err, want)
		}
	}
}

func retryBridge(t *testing.T, methods ...string) (*bridgetest.Client, *bridgetest.Service) {
	t.Helper()
	addr, svc := bridgetest.StartUpstream(t, bridgetest.UpstreamOptions{})
	dopts, err := bridge.RetryDialOptions(bridge.RetryPolicy{Methods: methods, Attempts: 3, Backoff: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	br := bridgetest.StartBridgeDial(t, addr, bridgetest.Reflection, dopts)
	br.WaitReady(t)
	c := bridgetest.Dial(t, br.URL, "wamp")
	c.ReadWelcome(t)
	return c, svc
}

func TestE2ERetrySafeUnary(t *testing.T) {
	t.Parallel()
	c, svc := retryBridge(t, "bridgetest.v1.TestService.Echo")
	svc.FailFirst("flaky", 2, codes.Unavailable)
	c.Send(t, `[2,"c1","bridgetest.v1.TestService.Echo",{"text":"flaky"}]`)
	if f := c.ReadFrame(t); f.Type() != 3 {
		t.Fatalf("Echo failing twice with 3 attempts: got %s, want CALLRESULT", f.Raw())
	}
	if n := svc.EchoCalls(); n != 3 {
		t.Errorf("upstream served %d Echo calls, want 3 (two failures, one success)", n)
	}

	// More failures than attempts: the last failure reaches the client.
	svc.FailFirst("down", 5, codes.Unavailable)
	c.Send(t, `[2,"c2","bridgetest.v1.TestService.Echo",{"text":"down"}]`)
	c.ExpectCallError(t, "c2", int(codes.Unavailable))
	if n := svc.EchoCalls(); n != 6 {
		t.Errorf("upstream served %d Echo calls, want 6 (3 more attempts)", n)
	}

	// A code not configured as retriable is not retried.
	svc.FailFirst("denied", 1, codes.PermissionDenied)
	c.Send(t, `[2,"c3","bridgetest.v1.TestService.Echo",{"text":"denied"}]`)
	c.ExpectCallError(t, "c3", int(codes.PermissionDenied))
	if n := svc.EchoCalls(); n != 7 {
		t.Errorf("upstream served %d Echo calls, want 7 (one attempt)", n)
	}
}

func TestE2ERetryOnlySafeMethods(t *testing.T) {
	t.Parallel()
	c, svc := retryBridge(t, "bridgetest.v1.TestService.Echo")
	svc.FailFirst("unsafe", 1, codes.Unavailable)
	c.Send(t, `[2,"s","bridgetest.v1.TestService.Stream",{"count":1,"tag":"unsafe"}]`)
	c.ExpectCallError(t, "s", int(codes.Unavailable))
	if n := svc.Calls("unsafe"); n != 1 {
		t.Errorf("upstream saw %d Stream calls, want 1: Stream is not configured safe to retry", n)
	}
}

// TestE2ERetryNeverClientStreams: client-streaming and bidi methods are
// never retried, even when a retry pattern matches them: the bridge has
// sent their request already, and go-grpc-middleware's retry interceptor
// cannot replay it (it fails such calls with UNIMPLEMENTED instead). The
// upstream's failure reaches the client after one attempt, and the next
// call succeeds.
func TestE2ERetryNeverClientStreams(t *testing.T) {
	t.Parallel()
	c, svc := retryBridge(t, "bridgetest.v1.TestService.*")

	svc.FailFirst(bridgetest.SumKey, 1, codes.Unavailable)
	c.Send(t, `[2,"sum1","bridgetest.v1.TestService.Sum",{"numbers":[1,2]}]`)
	c.ExpectCallError(t, "sum1", int(codes.Unavailable))
	if n := svc.Calls(bridgetest.SumKey); n != 1 {
		t.Errorf("upstream saw %d Sum calls, want 1: a client-streaming call must not be retried", n)
	}
	c.Send(t, `[2,"sum2","bridgetest.v1.TestService.Sum",{"numbers":[1,2]}]`)
	c.ExpectFrame(t, `[3,"sum2",{"total":"3","requests":1}]`)

	svc.FailFirst("bidi", 1, codes.Unavailable)
	c.Send(t, `[2,"chat1","bridgetest.v1.TestService.Chat",{"text":"bidi","repeat":1}]`)
	c.ExpectCallError(t, "chat1", int(codes.Unavailable))
	if n := svc.Calls("bidi"); n != 1 {
		t.Errorf("upstream saw %d Chat calls, want 1: a bidi call must not be retried", n)
	}
	c.Send(t, `[2,"chat2","bridgetest.v1.TestService.Chat",{"text":"bidi","repeat":1}]`)
	c.ExpectFrame(t, `[1000,"chat2",{"text":"bidi","index":1}]`)
	c.ExpectFrame(t, `[3,"chat2",null]`)
}

func TestE2ERetryStreamBeforeFirstMessage(t *testing.T) {
	t.Parallel()
	c, svc := retryBridge(t, "bridgetest.v1.TestService.*")
	svc.FailFirst("late", 2, codes.Unavailable)
	c.Send(t, `[2,"s","bridgetest.v1.TestService.Stream",{"count":2,"tag":"late"}]`)
	c.ExpectFrame(t, `[1000,"s",{"index":1,"tag":"late"}]`)
	c.ExpectFrame(t, `[1000,"s",{"index":2,"tag":"late"}]`)
	c.ExpectFrame(t, `[3,"s",null]`)
	if n := svc.Calls("late"); n != 3 {
		t.Errorf("upstream saw %d Stream calls, want 3 (two failed before any message)", n)
	}

	// A stream that failed after delivering a message is never retried:
	// the client would see that message twice.
	c.Send(t, `[2,"m","bridgetest.v1.TestService.Stream",{"count":2,"fail_code":14,"tag":"midway"}]`)
	c.ExpectFrame(t, `[1000,"m",{"index":1,"tag":"midway"}]`)
	c.ExpectFrame(t, `[1000,"m",{"index":2,"tag":"midway"}]`)
	c.ExpectCallError(t, "m", int(codes.Unavailable))
	if n := svc.Calls("midway"); n != 1 {
		t.Errorf("upstream saw %d Stream calls, want 1: a stream that delivered messages must not be retried", n)
	}
}

func TestE2ERetryPolicyRefused(t *testing.T) {
	t.Parallel()
	if _, err := bridge.RetryDialOptions(bridge.RetryPolicy{Methods: []string{"["}}); err == nil {
		t.Error("RetryDialOptions with pattern \"[\": nil error, want one")
	}
	if opts, err := bridge.RetryDialOptions(bridge.RetryPolicy{}); opts != nil || err != nil {
		t.Errorf("RetryDialOptions with no methods = %v, %v; want nil, nil", opts, err)
	}
	for _, s := range []string{"unavailable", "RESOURCE_EXHAUSTED"} {
		if _, err := bridge.ParseRetryCode(s); err != nil {
			t.Errorf("ParseRetryCode(%q): %v", s, err)
		}
	}
	if _, err := bridge.ParseRetryCode("SOMETIMES"); err == nil {
		t.Error("ParseRetryCode(\"SOMETIMES\"): nil error, want one")
	}
}
