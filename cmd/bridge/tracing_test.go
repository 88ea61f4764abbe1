package main

import (
	"context"
	"encoding/hex"
	"net"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	collectorpb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"
)

// collector is an OTLP/gRPC trace collector on loopback that keeps the
// spans it receives and signals each export on got.
type collector struct {
	collectorpb.UnimplementedTraceServiceServer
	got chan struct{}

	mu       sync.Mutex
	spans    []*tracepb.Span
	services []string // service.name of each span's resource
}

func (c *collector) Export(_ context.Context, req *collectorpb.ExportTraceServiceRequest) (*collectorpb.ExportTraceServiceResponse, error) {
	c.mu.Lock()
	for _, rs := range req.GetResourceSpans() {
		service := ""
		for _, a := range rs.GetResource().GetAttributes() {
			if a.GetKey() == "service.name" {
				service = a.GetValue().GetStringValue()
			}
		}
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				c.spans = append(c.spans, s)
				c.services = append(c.services, service)
			}
		}
	}
	c.mu.Unlock()
	select {
	case c.got <- struct{}{}:
	default:
	}
	return &collectorpb.ExportTraceServiceResponse{}, nil
}

// span returns the span named name and its service.name, if received.
func (c *collector) span(name string) (*tracepb.Span, string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, s := range c.spans {
		if s.GetName() == name {
			return s, c.services[i], true
		}
	}
	return nil, "", false
}

func startCollector(t *testing.T) (string, *collector) {
	t.Helper()
	var lc net.ListenConfig
	lis, err := lc.Listen(t.Context(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer()
	c := &collector{got: make(chan struct{}, 1)}
	collectorpb.RegisterTraceServiceServer(s, c)
	served := make(chan error, 1)
	go func() { served <- s.Serve(lis) }()
	t.Cleanup(func() {
		s.Stop()
		<-served
	})
	return lis.Addr().String(), c
}

// TestServeTracing: with -trace-endpoint, a call through the bridge makes a
// client span that reaches the collector, and the upstream receives its
// trace context as traceparent metadata.
func TestServeTracing(t *testing.T) {
	// Export each span at once instead of after the batch delay (5 s).
	t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "1")
	t.Setenv("OTEL_SERVICE_NAME", "")
	collectorAddr, col := startCollector(t)
	addr, svc := startEchoService(t)
	url, _ := runServe(t, "-upstream", addr, "-trace-endpoint", "http://"+collectorAddr)
	waitFor(t, "an Echo to pass", func() bool { // the upstream may not be ready yet
		return run(t.Context(), []string{"call", url, "bridgetest.v1.TestService.Echo", `{"text":"traced"}`}, newLineWriter(), newLineWriter()) == exitOK
	})
	md, _ := svc.seen("traced")
	// traceparent is the one key tracing adds to what the bridge forwards
	// (bridge call sends no Authorization): the trace starts at the
	// bridge, so it has no tracestate or baggage to pass on.
	if got, want := applicationKeys(md), []string{"traceparent", "wamp-session-id", "x-forwarded-for"}; !slices.Equal(got, want) {
		t.Errorf("metadata keys reaching the upstream: %q, want exactly %q (all of it: %v)", got, want, md)
	}
	tp := md.Get("traceparent")
	if len(tp) != 1 {
		t.Fatalf("upstream metadata traceparent = %q, want one value", tp)
	}
	parts := strings.Split(tp[0], "-") // version-traceid-parentid-flags
	if len(parts) != 4 {
		t.Fatalf("traceparent %q is not version-traceid-parentid-flags", tp[0])
	}

	const name = "bridgetest.v1.TestService/Echo"
	deadline := time.NewTimer(readyTimeout)
	defer deadline.Stop()
	for {
		if s, service, ok := col.span(name); ok {
			if s.GetKind() != tracepb.Span_SPAN_KIND_CLIENT {
				t.Errorf("span kind %v, want CLIENT", s.GetKind())
			}
			if got := hex.EncodeToString(s.GetTraceId()); got != parts[1] {
				t.Errorf("span trace id %s, upstream traceparent trace id %s: want one trace", got, parts[1])
			}
			if got := hex.EncodeToString(s.GetSpanId()); got != parts[2] {
				t.Errorf("span id %s, upstream traceparent parent id %s: want the client span as the parent", got, parts[2])
			}
			if service != traceServiceName {
				t.Errorf("service.name %q, want %q", service, traceServiceName)
			}
			return
		}
		select {
		case <-col.got:
		case <-deadline.C:
			t.Fatalf("collector received no span named %s within %v", name, readyTimeout)
		}
	}
}

// TestServeTracingNoCollector: when no collector answers, shutdown waits
// for it no longer than traceFlushTimeout, and the warning names the
// endpoint (its password redacted), so that an operator knows which. A
// real process: the exporter's goroutines outlive a flush that timed out.
func TestServeTracingNoCollector(t *testing.T) {
	t.Parallel()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	endpoint := "http://u:pw-s3cret@" + lis.Addr().String()
	lis.Close() // nothing listens there now
	cmd, host, stderr := startBridgeProcess(t, []string{"-trace-endpoint", endpoint}, nil)
	// A call, so that there is a span to flush.
	waitFor(t, "a successful call", func() bool {
		return run(t.Context(), []string{"call", "ws://" + host + "/", "GetTime"}, newLineWriter(), newLineWriter()) == exitOK
	})
	start := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	log := <-stderr
	if err := cmd.Wait(); err != nil {
		t.Errorf("bridge process: %v, want exit status 0; stderr:\n%s", err, log)
	}
	if took := time.Since(start); took > traceFlushTimeout+3*time.Second {
		t.Errorf("shutdown took %v, want at most the flush timeout %v and a little", took, traceFlushTimeout)
	}
	want := `msg="flushing trace spans failed" endpoint=http://u:<redacted>@` + lis.Addr().String() + " timeout=5s error="
	if !strings.Contains(log, want) {
		t.Errorf("stderr does not contain %q:\n%s", want, log)
	}
	if strings.Contains(log, "pw-s3cret") {
		t.Errorf("stderr shows the endpoint's password:\n%s", log)
	}
}

func TestTracingRefusesBadSettings(t *testing.T) {
	for _, args := range [][]string{
		{"-trace-endpoint", "collector:4317"},
		{"-trace-endpoint", "grpc://collector:4317"},
		{"-trace-sample-ratio", "1.5"},
		{"-trace-sample-ratio", "NaN"},
	} {
		stderr := newLineWriter()
		if code := run(t.Context(), args, nil, stderr); code != exitUsage || !strings.Contains(stderr.String(), args[0]) {
			t.Errorf("bridge %q: exit status %d, stderr %q; want %d naming %s", args, code, stderr, exitUsage, args[0])
		}
	}
}

// TestServeRetry: -retry-method retries a call of a safe method that
// failed with UNAVAILABLE; without it the failure reaches the client.
func TestServeRetry(t *testing.T) {
	t.Parallel()
	addr, svc := startEchoService(t)
	plain, _ := runServe(t, "-upstream", addr)
	retrying, _ := runServe(t, "-upstream", addr, "-retry-method", "bridgetest.v1.TestService.Echo", "-retry-backoff", "1ms")
	echo := func(url, text string) (int, string) {
		errw := newLineWriter()
		code := run(t.Context(), []string{"call", url, "bridgetest.v1.TestService.Echo", `{"text":"` + text + `"}`}, newLineWriter(), errw)
		return code, errw.String()
	}
	waitFor(t, "both bridges to be ready", func() bool {
		a, _ := echo(plain, "ready")
		b, _ := echo(retrying, "ready")
		return a == exitOK && b == exitOK
	})
	if code, stderr := echo(plain, "flaky-plain"); code != exitFailure || !strings.Contains(stderr, "wamp.error.unavailable") {
		t.Errorf("without -retry-method: exit status %d, stderr %q; want %d and wamp.error.unavailable", code, stderr, exitFailure)
	}
	if code, stderr := echo(retrying, "flaky-retried"); code != exitOK {
		t.Errorf("with -retry-method: exit status %d, stderr %q; want %d", code, stderr, exitOK)
	}
	md, n := svc.seen("flaky-retried")
	if n != 2 {
		t.Errorf("upstream saw %d calls of the retried Echo, want 2", n)
	}
	// The second attempt carries what the first did, no retry metadata.
	if got, want := applicationKeys(md), []string{"wamp-session-id", "x-forwarded-for"}; !slices.Equal(got, want) {
		t.Errorf("metadata keys of the retried call reaching the upstream: %q, want exactly %q (all of it: %v)", got, want, md)
	}
}
