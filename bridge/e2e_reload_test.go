package bridge_test

// Live schema: the bridge loads the upstream's schema again without a
// restart, swaps it only when it changed, leaves calls in flight alone and
// tells subscribers of wamp.bridge.on_schema_change.

import (
	"fmt"
	"log/slog"
	"maps"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/reflection"
	reflectionv1 "google.golang.org/grpc/reflection/grpc_reflection_v1"

	"github.com/wampbridge/grpcwamp/bridge"
	"github.com/wampbridge/grpcwamp/bridge/internal/bridgetest"
	"github.com/wampbridge/grpcwamp/bridge/internal/demo"
	bridgetestv1 "github.com/wampbridge/grpcwamp/gen/bridgetest/v1"
	demov1 "github.com/wampbridge/grpcwamp/gen/demo/v1"
)

const (
	testService  = "bridgetest.v1.TestService"
	clockService = "demo.v1.ClockService"
	// clockAdded and clockRemoved are the events of the clock's methods
	// appearing and disappearing.
	clockAdded   = `[8,"wamp.bridge.on_schema_change",{"added":["demo.v1.ClockService.GetProgressiveTime","demo.v1.ClockService.GetTime"],"removed":[]}]`
	clockRemoved = `[8,"wamp.bridge.on_schema_change",{"added":[],"removed":["demo.v1.ClockService.GetProgressiveTime","demo.v1.ClockService.GetTime"]}]`
)

// listing is what server reflection lists of a server's services: a
// deployment changing under the bridge, without a new process.
type listing struct {
	s     *grpc.Server
	mu    sync.Mutex
	names map[string]bool
}

func (l *listing) set(names ...string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.names = make(map[string]bool)
	for _, n := range names {
		l.names[n] = true
	}
}

// GetServiceInfo implements reflection.ServiceInfoProvider.
func (l *listing) GetServiceInfo() map[string]grpc.ServiceInfo {
	l.mu.Lock()
	defer l.mu.Unlock()
	all := l.s.GetServiceInfo()
	maps.DeleteFunc(all, func(name string, _ grpc.ServiceInfo) bool { return !l.names[name] })
	return all
}

// startListed serves the test service and clock (an unimplemented one
// unless realClock) on 127.0.0.1, with a v1 reflection service that lists
// only what the returned listing holds: names at first.
func startListed(t *testing.T, realClock bool, names ...string) (string, *bridgetest.Service, *listing) {
	t.Helper()
	var lc net.ListenConfig
	lis, err := lc.Listen(t.Context(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer(grpc.WaitForHandlers(true))
	svc := bridgetest.NewService()
	bridgetestv1.RegisterTestServiceServer(s, svc)
	if realClock {
		demo.Register(s)
	} else {
		demov1.RegisterClockServiceServer(s, demov1.UnimplementedClockServiceServer{})
	}
	l := &listing{s: s}
	l.set(names...)
	reflectionv1.RegisterServerReflectionServer(s, reflection.NewServerV1(reflection.ServerOptions{Services: l}))
	served := make(chan error, 1)
	go func() { served <- s.Serve(lis) }()
	t.Cleanup(func() {
		s.Stop()
		if err := <-served; err != nil {
			t.Errorf("upstream: %v", err)
		}
	})
	return lis.Addr().String(), svc, l
}

// expectResult reads the next frame of c and checks that it is the
// CALLRESULT of callID.
func expectResult(t *testing.T, c peer, callID string) {
	t.Helper()
	if f := c.ReadFrame(t); f.Type() != 3 || f.CallID() != callID {
		t.Fatalf("got %s, want the CALLRESULT of %q", f.Raw(), callID)
	}
}

// TestE2ESchemaReload: the upstream gains a service; RefreshSchema makes
// its methods callable without restarting the bridge, subscribers of the
// meta topic hear of it, and a stream in flight across the swap ends
// normally.
func TestE2ESchemaReload(t *testing.T) {
	t.Parallel()
	addr, svc, l := startListed(t, true, testService)
	b := bridgetest.StartBridge(t, addr, bridgetest.Reflection, bridge.WithSchemaRefresh(0))
	watcher := join(t, b.URL)
	watcher.subscribe(t, bridge.SchemaChangeTopic)
	c := join(t, b.URL)

	c.Send(t, `[2,"before","demo.v1.ClockService.GetTime"]`)
	c.ExpectCallError(t, "before", 12)

	tag := t.Name()
	c.Send(t, fmt.Sprintf(`[2,"s","bridgetest.v1.TestService.Stream",{"count":1,"block":true,"tag":%q}]`, tag))
	c.ExpectFrame(t, fmt.Sprintf(`[1000,"s",{"index":1,"tag":%q}]`, tag))
	if err := svc.WaitBlocked(t.Context(), tag); err != nil {
		t.Fatal(err)
	}

	b.Handler.RefreshSchema() // nothing changed yet: no event
	l.set(testService, clockService)
	b.Handler.RefreshSchema()
	watcher.ExpectFrame(t, clockAdded)

	c.Send(t, `[2,"after","demo.v1.ClockService.GetTime"]`)
	expectResult(t, c, "after")

	svc.Release(tag)
	c.ExpectFrame(t, `[3,"s",null]`)
	// The first, unchanged reload told nobody anything.
	watcher.Sync(t)
}

// TestE2ESchemaReloadOnUnimplemented: a method the upstream no longer
// serves answers UNIMPLEMENTED; that makes the bridge reload at once, and
// the method is gone from its table.
func TestE2ESchemaReloadOnUnimplemented(t *testing.T) {
	t.Parallel()
	addr, _, l := startListed(t, false, testService, clockService)
	h := &recordHandler{records: make(chan map[string]string, 100)}
	b := bridgetest.StartBridge(t, addr, bridgetest.Reflection, bridge.WithSchemaRefresh(0), bridge.WithLogger(slog.New(h)))
	watcher := join(t, b.URL)
	watcher.subscribe(t, bridge.SchemaChangeTopic)
	c := join(t, b.URL)

	l.set(testService) // redeployed without the clock
	c.Send(t, `[2,"upstream","demo.v1.ClockService.GetTime"]`)
	if e := c.ExpectCallError(t, "upstream", 12); e.Desc == "" {
		t.Fatal("empty errorDesc")
	}
	// The operator hears of it (with a descriptor set, reloading would
	// not help).
	if r := h.next(t, "the upstream answered UNIMPLEMENTED for a method its schema lists: reloading the schema; if the upstream lacks the method and the schema is a -descriptor-set, update the file"); r["method"] != "demo.v1.ClockService.GetTime" || !strings.Contains(r["source"], "server reflection") {
		t.Errorf("warning %v, want the method and the schema's source", r)
	}
	watcher.ExpectFrame(t, clockRemoved)

	c.Send(t, `[2,"bridge","demo.v1.ClockService.GetTime"]`)
	e := c.ExpectCallError(t, "bridge", 12)
	if want := `no such procedure "demo.v1.ClockService.GetTime"`; len(e.Desc) < len(want) || e.Desc[:len(want)] != want {
		t.Errorf("errorDesc %q, want the bridge's %q...", e.Desc, want)
	}
}

// closeNotifier tells when its listener has been closed.
type closeNotifier struct {
	net.Listener
	once   sync.Once
	closed chan struct{}
}

func (l *closeNotifier) Close() error {
	err := l.Listener.Close()
	l.once.Do(func() { close(l.closed) })
	return err
}

// TestE2ESchemaReloadReplacedUpstream: the upstream process is replaced by
// one with an extra service on the same address. The old one drains
// (GracefulStop) while a stream is in flight on it: the bridge reconnects
// to the new one, picks the new schema up on its period, and the old
// stream still ends normally.
func TestE2ESchemaReloadReplacedUpstream(t *testing.T) {
	t.Parallel()
	var lc net.ListenConfig
	inner, err := lc.Listen(t.Context(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	lis1 := &closeNotifier{Listener: inner, closed: make(chan struct{})}
	addr := inner.Addr().String()
	s1 := grpc.NewServer(grpc.WaitForHandlers(true))
	svc1 := bridgetest.NewService()
	bridgetestv1.RegisterTestServiceServer(s1, svc1)
	reflection.Register(s1)
	served1 := make(chan error, 1)
	go func() { served1 <- s1.Serve(lis1) }()
	t.Cleanup(s1.Stop) // after the test, in case it failed before GracefulStop

	b := bridgetest.StartBridge(t, addr, bridgetest.Reflection, bridge.WithSchemaRefresh(10*time.Millisecond))
	watcher := join(t, b.URL)
	watcher.subscribe(t, bridge.SchemaChangeTopic)
	c := join(t, b.URL)
	tag := t.Name()
	c.Send(t, fmt.Sprintf(`[2,"s","bridgetest.v1.TestService.Stream",{"count":1,"block":true,"tag":%q}]`, tag))
	c.ExpectFrame(t, fmt.Sprintf(`[1000,"s",{"index":1,"tag":%q}]`, tag))
	if err := svc1.WaitBlocked(t.Context(), tag); err != nil {
		t.Fatal(err)
	}

	// GracefulStop closes the listener at once, then waits for the stream.
	stopped1 := make(chan struct{})
	go func() {
		defer close(stopped1)
		s1.GracefulStop()
	}()
	select {
	case <-lis1.closed:
	case <-t.Context().Done():
		t.Fatal("the first upstream never closed its listener")
	}
	lis2, err := lc.Listen(t.Context(), "tcp", addr)
	if err != nil {
		svc1.Release(tag)
		<-stopped1
		t.Fatalf("listen again on %s: %v", addr, err)
	}
	s2 := grpc.NewServer(grpc.WaitForHandlers(true))
	bridgetestv1.RegisterTestServiceServer(s2, bridgetest.NewService())
	demo.Register(s2)
	reflection.Register(s2)
	served2 := make(chan error, 1)
	go func() { served2 <- s2.Serve(lis2) }()
	t.Cleanup(func() {
		s2.Stop()
		if err := <-served2; err != nil {
			t.Errorf("second upstream: %v", err)
		}
	})

	watcher.ExpectFrame(t, clockAdded)
	c.Send(t, `[2,"after","demo.v1.ClockService.GetTime"]`)
	expectResult(t, c, "after")

	svc1.Release(tag)
	c.ExpectFrame(t, `[3,"s",null]`)
	<-stopped1
	if err := <-served1; err != nil {
		t.Errorf("first upstream: %v", err)
	}
}
