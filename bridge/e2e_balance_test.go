package bridge_test

// Several upstream replicas behind one target: grpc-go's round_robin
// balancer, as cmd/bridge configures it with bridge.RoundRobinServiceConfig.

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/resolver/manual"

	"github.com/wampbridge/grpcwamp/bridge"
	"github.com/wampbridge/grpcwamp/bridge/internal/bridgetest"
	bridgetestv1 "github.com/wampbridge/grpcwamp/gen/bridgetest/v1"
)

// replica is an upstream replica the test can stop on its own.
type replica struct {
	addr string
	svc  *bridgetest.Service
	stop func()
}

// startReplica serves a bridgetest.Service on 127.0.0.1:0 with no
// reflection (the bridge reads a descriptor set). Unlike
// bridgetest.StartUpstream it returns its stop function; it also stops when
// the test ends.
func startReplica(t *testing.T) replica {
	t.Helper()
	var lc net.ListenConfig
	lis, err := lc.Listen(t.Context(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	s := grpc.NewServer(grpc.WaitForHandlers(true))
	svc := bridgetest.NewService()
	bridgetestv1.RegisterTestServiceServer(s, svc)
	served := make(chan error, 1)
	go func() { served <- s.Serve(lis) }()
	t.Cleanup(func() {
		s.Stop()
		if err := <-served; err != nil {
			t.Errorf("replica %s: serve: %v", lis.Addr(), err)
		}
	})
	return replica{addr: lis.Addr().String(), svc: svc, stop: s.Stop}
}

// TestE2ERoundRobin: with the round_robin service config and a resolver
// returning two replicas, the unary calls of one WebSocket session are
// spread over both; once one replica stops, the calls go on, all on the
// other.
func TestE2ERoundRobin(t *testing.T) {
	t.Parallel()
	r1, r2 := startReplica(t), startReplica(t)

	res := manual.NewBuilderWithScheme("test")
	res.InitialState(resolver.State{Addresses: []resolver.Address{{Addr: r1.addr}, {Addr: r2.addr}}})
	cc, err := grpc.NewClient("test:///upstreams",
		grpc.WithResolvers(res),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultServiceConfig(bridge.RoundRobinServiceConfig))
	if err != nil {
		t.Fatalf("grpc.NewClient: %v", err)
	}
	h, err := bridge.NewHandler(cc, bridge.WithDescriptorSetFile(bridgetest.WriteDescriptorSet(t)))
	if err != nil {
		cc.Close()
		t.Fatalf("bridge.NewHandler: %v", err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), bridgetest.Timeout)
		defer cancel()
		if err := h.Shutdown(ctx); err != nil {
			t.Errorf("bridge shutdown: %v", err)
		}
		srv.Close()
		if err := cc.Close(); err != nil {
			t.Errorf("close gRPC connection: %v", err)
		}
	})
	waitReadyz(t, srv)

	c := bridgetest.Dial(t, "ws"+strings.TrimPrefix(srv.URL, "http")+"/", "wamp")
	c.ReadWelcome(t)
	n := 0
	// call makes one Echo call and reports whether it succeeded; the only
	// failure it accepts is UNAVAILABLE, from a replica that just stopped.
	call := func() bool {
		t.Helper()
		n++
		id := fmt.Sprintf("c%d", n)
		c.Send(t, fmt.Sprintf(`[2,%q,%q,{"text":%q}]`, id, echoProc, id))
		f := c.ReadFrame(t)
		switch {
		case f.Type() == 3 && f.CallID() == id:
			return true
		case f.Type() == 4:
			if _, err := bridgetest.ParseCallError(f.Raw(), id, 14); err != nil {
				t.Fatalf("call %s: %v", id, err)
			}
			return false
		}
		t.Fatalf("call %s: got %s, want CALLRESULT or CALLERROR UNAVAILABLE", id, f.Raw())
		return false
	}

	// round_robin picks among the ready replicas only, so the first calls
	// may all reach the replica that connected first: call until both have
	// served one, bounded by a call count.
	const maxCalls = 500
	for r1.svc.EchoCalls() == 0 || r2.svc.EchoCalls() == 0 {
		if n == maxCalls {
			t.Fatalf("after %d calls: replica 1 served %d, replica 2 %d; want both to serve some",
				n, r1.svc.EchoCalls(), r2.svc.EchoCalls())
		}
		if !call() {
			t.Fatalf("call c%d failed with both replicas up", n)
		}
	}
	// Both are ready now: round_robin alternates between them.
	const spread = 20
	b1, b2 := r1.svc.EchoCalls(), r2.svc.EchoCalls()
	for range spread {
		if !call() {
			t.Fatalf("call c%d failed with both replicas up", n)
		}
	}
	d1, d2 := r1.svc.EchoCalls()-b1, r2.svc.EchoCalls()-b2
	if d1+d2 != spread || d1 < spread/2-1 || d2 < spread/2-1 {
		t.Fatalf("%d calls: replica 1 served %d, replica 2 %d; want them spread evenly", spread, d1, d2)
	}

	// Stop replica 1. Calls picked for it before the balancer notices fail
	// with UNAVAILABLE; then every call succeeds, on replica 2.
	r1.stop()
	served1 := r1.svc.EchoCalls() // Stop has waited for its handlers
	const consecutive = 10
	start := n
	for ok := 0; ok < consecutive; {
		if n-start == maxCalls {
			t.Fatalf("%d calls after stopping replica 1, and never %d successes in a row", maxCalls, consecutive)
		}
		before := r2.svc.EchoCalls()
		if !call() {
			ok = 0
			continue
		}
		if got := r2.svc.EchoCalls(); got != before+1 {
			t.Fatalf("call c%d succeeded but replica 2 served %d calls, want %d", n, got-before, 1)
		}
		ok++
	}
	if got := r1.svc.EchoCalls(); got != served1 {
		t.Fatalf("stopped replica 1 served %d calls after Stop", got-served1)
	}
}

// waitReadyz polls GET /readyz of srv, with a backoff bounded by
// bridgetest.Timeout, until it answers 200: readiness has no event to wait
// for from outside the handler (bridgetest.StartBridge polls the same way).
func waitReadyz(t *testing.T, srv *httptest.Server) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), bridgetest.Timeout)
	defer cancel()
	backoff := time.Millisecond
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/readyz", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := srv.Client().Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		timer := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			timer.Stop()
			t.Fatalf("bridge not ready after %v", bridgetest.Timeout)
		case <-timer.C:
		}
		backoff = min(2*backoff, 50*time.Millisecond)
	}
}
