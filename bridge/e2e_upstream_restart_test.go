package bridge_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/wampbridge/grpcwamp/bridge/internal/bridgetest"
)

// TestE2EUpstreamKilledMidStream: an upstream that dies while streams and
// a unary call are open ends every one of them with CALLERROR
// wamp.error.unavailable, whose message names the procedure, says that the
// connection broke and what to check, rather than grpc-go's bare "error
// reading from server: EOF"; once the upstream is back on the same
// address, calls succeed again through the same bridge and the same
// session.
func TestE2EUpstreamKilledMidStream(t *testing.T) {
	t.Parallel()
	const open = 5
	addr, svc, stop := bridgetest.StartUpstreamAt(t, "127.0.0.1:0", bridgetest.UpstreamOptions{})
	br := bridgetest.StartBridge(t, addr, bridgetest.Reflection)
	c := bridgetest.Dial(t, br.URL, "wamp")
	c.ReadWelcome(t)
	for i := range open {
		c.Send(t, fmt.Sprintf(`[2,"s%d","bridgetest.v1.TestService.Stream",{"count":1,"block":true,"tag":"kill%d"}]`, i, i))
		c.ExpectFrame(t, fmt.Sprintf(`[1000,"s%d",{"index":1,"tag":"kill%d"}]`, i, i))
	}
	for i := range open {
		if err := svc.WaitBlocked(t.Context(), fmt.Sprintf("kill%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	svc.HoldEcho("held")
	c.Send(t, `[2,"u","http://example.com/test#echo","held"]`)
	if err := svc.WaitBlocked(t.Context(), "held"); err != nil {
		t.Fatal(err)
	}

	stop() // the upstream dies: every open call fails
	ended := make(map[string]bool)
	for range open + 1 {
		f := c.ReadFrame(t)
		ce, err := bridgetest.ParseCallError(f.Raw(), f.CallID(), 14)
		if err != nil {
			t.Fatalf("after the upstream died: %v", err)
		}
		ended[ce.CallID] = true
		want := []string{`procedure "bridgetest.v1.TestService.Stream"`, "during the call of bridgetest.v1.TestService.Stream"}
		if ce.CallID == "u" {
			want = []string{`procedure "http://example.com/test#echo"`, "during the call of bridgetest.v1.TestService.Echo"}
		}
		want = append(want, "connection to its upstream broke", "(gRPC: error reading from server: ", "check the upstream's logs", "call again if that is safe")
		for _, w := range want {
			if !strings.Contains(ce.Desc, w) {
				t.Errorf("call %s: errorDesc %q does not contain %q", ce.CallID, ce.Desc, w)
			}
		}
	}
	if len(ended) != open+1 {
		t.Fatalf("CALLERRORs for %d distinct calls, want %d", len(ended), open+1)
	}

	br.WaitUnready(t)
	c.Send(t, `[2,"down","bridgetest.v1.TestService.Echo"]`)
	c.ExpectCallError(t, "down", 14) // at once, not hanging

	// Back on the same address: the bridge reconnects by itself.
	bridgetest.StartUpstreamAt(t, addr, bridgetest.UpstreamOptions{})
	br.WaitReady(t)
	c.Send(t, `[2,"after","bridgetest.v1.TestService.Stream",{"count":2,"tag":"after"}]`)
	c.ExpectFrame(t, `[1000,"after",{"index":1,"tag":"after"}]`)
	c.ExpectFrame(t, `[1000,"after",{"index":2,"tag":"after"}]`)
	c.ExpectFrame(t, `[3,"after",null]`)
}
