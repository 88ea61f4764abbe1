package bridge_test

import (
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/balancer"
	"google.golang.org/grpc/balancer/pickfirst"
	"google.golang.org/grpc/connectivity"

	"github.com/wampbridge/grpcwamp/bridge"
	"github.com/wampbridge/grpcwamp/bridge/internal/bridgetest"
)

// readyUnreachablePolicy names a load-balancing policy for tests that
// makes the race between the bridge's readiness check and an upstream
// going away deterministic: it is grpc-go's pick_first, except that when
// pick_first reports the channel TRANSIENT_FAILURE it reports READY (so
// the bridge's readiness lets calls through), keeping pick_first's picker,
// which fails every call with the last connection attempt's error. The
// calls thus fail inside grpc-go's picker, with grpc-go's own text, after
// the readiness check passed: what a call meets when it passes the check
// just before the channel reports TRANSIENT_FAILURE.
const readyUnreachablePolicy = "bridge_test_ready_unreachable"

// Policies must be registered before any client connection uses them:
// at initialisation, as balancer.Register requires.
func init() { balancer.Register(readyUnreachableBuilder{}) }

type readyUnreachableBuilder struct{}

func (readyUnreachableBuilder) Name() string { return readyUnreachablePolicy }

func (readyUnreachableBuilder) Build(cc balancer.ClientConn, opts balancer.BuildOptions) balancer.Balancer {
	return balancer.Get(pickfirst.Name).Build(readyWhenFailing{cc}, opts)
}

// readyWhenFailing is the channel as pick_first sees it.
type readyWhenFailing struct{ balancer.ClientConn }

func (cc readyWhenFailing) UpdateState(s balancer.State) {
	if s.ConnectivityState == connectivity.TransientFailure {
		s.ConnectivityState = connectivity.Ready
	}
	cc.ClientConn.UpdateState(s)
}

// TestE2EUpstreamUnreachableAfterReadiness: a call that passes the
// readiness check but finds no connection to the upstream (an address
// that refuses connections) ends with CALLERROR wamp.error.unavailable
// that names the procedure and says, like the readiness refusal, that the
// upstream is not reachable and to retry shortly, without grpc-go's text
// and the upstream's address, neither in errorDesc nor in errorDetails;
// the log has that text, for the operator, once. A fed topic's stream
// fails the same way, and its restart line has the same words.
func TestE2EUpstreamUnreachableAfterReadiness(t *testing.T) {
	t.Parallel()
	h := &recordHandler{records: make(chan map[string]string, 1000)}
	addr := bridgetest.ClosedAddr(t)
	br := bridgetest.StartBridgeDial(t, addr, bridgetest.DescriptorSet,
		[]grpc.DialOption{grpc.WithDefaultServiceConfig(`{"loadBalancingConfig":[{"` + readyUnreachablePolicy + `":{}}]}`)},
		bridge.WithLogger(slog.New(h)),
		bridge.WithFeeds(bridge.Feed{Topic: "com.example.fed", Procedure: streamProc, Request: json.RawMessage(`{"count":1}`)}))
	br.WaitReady(t)
	c := bridgetest.Dial(t, br.URL, "wamp")
	c.ReadWelcome(t)

	noAddress := func(what, s string) {
		t.Helper()
		for _, leak := range []string{addr, "127.0.0.1", "dial", "connection refused"} {
			if strings.Contains(s, leak) {
				t.Errorf("%s %q contains %q", what, s, leak)
			}
		}
	}
	for _, tc := range []struct{ frame, id, procedure, method string }{
		{`[2,"u","http://example.com/test#echo","x"]`, "u", "http://example.com/test#echo", echoProc},
		{`[2,"s","bridgetest.v1.TestService.Stream",{"count":1}]`, "s", streamProc, streamProc},
	} {
		c.Send(t, tc.frame)
		ce := c.ExpectCallError(t, tc.id, 14)
		for _, want := range []string{`procedure "` + tc.procedure + `": `, "the call of " + tc.method, "upstream is not reachable", "not sent", "retry shortly"} {
			if !strings.Contains(ce.Desc, want) {
				t.Errorf("call %s: errorDesc %q does not contain %q", tc.id, ce.Desc, want)
			}
		}
		noAddress("call "+tc.id+": errorDesc", ce.Desc)
		noAddress("call "+tc.id+": CALLERROR", string(ce.Raw))
	}
	logged := h.next(t, "upstream not reachable: a call found no connection to it and was not sent; the client was told to retry shortly (one such line a minute at most)")
	if logged["level"] != "WARN" || logged["procedure"] != "http://example.com/test#echo" ||
		!strings.Contains(logged["error"], `connection error: desc = "transport: Error while dialing: dial tcp `+addr) {
		t.Errorf("log record %v: want a warning with the first call's procedure and grpc-go's text naming %s", logged, addr)
	}

	c.Send(t, `[5,"com.example.fed"]`)
	fed := h.next(t, "feed stream ended, restarting")
	if fed["topic"] != "com.example.fed" || !strings.Contains(fed["error"], "upstream is not reachable") {
		t.Errorf("feed restart record %v: want the topic and the upstream not reachable", fed)
	}
	noAddress("feed restart record's error", fed["error"])
}
