package bridge_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/wampbridge/grpcwamp/bridge"
	"github.com/wampbridge/grpcwamp/bridge/internal/bridgetest"
)

// TestE2EMetrics: GET /metrics counts what sessions did, with values the
// test computes from its own side of the sockets. Every value read is
// settled before the scrape: the session reports a call's start before
// running it and its end before queuing its terminal frame, counts a frame
// it read before acting on it and one it writes before writing it, a
// dropped PUBLISH before reading the next frame, and a bad frame and the
// session's end before its close frame.
func TestE2EMetrics(t *testing.T) {
	t.Parallel()
	const maxFrame = 4096
	e := start(t, bridgetest.Reflection, bridge.WithMaxEventSize(16), bridge.WithMaxMessageSize(maxFrame))

	// callFrames counts the frames of calls the clients read: each went
	// through its session's send queue, and grpcwamp_send_queue_depth is
	// observed once for each frame queued there (WELCOME aside).
	callFrames := 0
	expect := func(c *bridgetest.Client, typ int, id string) bridgetest.Frame {
		t.Helper()
		f := c.ReadFrame(t)
		if f.Type() != typ || f.CallID() != id {
			t.Fatalf("got %s, want a frame of type %d of call %s", f.Raw(), typ, id)
		}
		switch typ {
		case 3, 4, 1000:
			callFrames++
		}
		return f
	}

	a := e.connect(t, "")
	a.Send(t, fmt.Sprintf(`[2,"u1",%q,{"text":"hi"}]`, echoProc))
	expect(a, 3, "u1")
	a.Send(t, fmt.Sprintf(`[2,"s1",%q,{"count":3,"tag":"t"}]`, streamProc))
	for range 3 {
		expect(a, 1000, "s1")
	}
	expect(a, 3, "s1")
	a.Send(t, fmt.Sprintf(`[7,"topic",%q]`, strings.Repeat("x", 64))) // over the event size: dropped
	a.Send(t, `[2,"x1","no.such.Procedure"]`)
	expect(a, 4, "x1")

	// A call blocked in the upstream is in flight until it is cancelled.
	a.Send(t, fmt.Sprintf(`[2,"held",%q,{"block":true,"tag":"metrics-held"}]`, streamProc))
	if err := e.svc.WaitBlocked(t.Context(), "metrics-held"); err != nil {
		t.Fatal(err)
	}
	held := scrape(t, e.b)
	for _, name := range []string{"grpcwamp_calls_in_flight", "grpcwamp_upstream_calls"} {
		if got := metricValue(t, held, name, nil); got != 1 {
			t.Errorf("%s = %v while one call is blocked in the upstream, want 1", name, got)
		}
	}
	a.Send(t, `[1001,"held"]`)
	expect(a, 4, "held")

	b := e.connect(t, "")
	b.Send(t, `{"not":"an array"}`)
	b.ExpectClose(t, 1007)

	mf := scrape(t, e.b)
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"grpcwamp_sessions_open", nil, 1},
		{"grpcwamp_sessions_total", nil, 2},
		{"grpcwamp_calls_in_flight", nil, 0},
		{"grpcwamp_upstream_calls", nil, 0},
		{"grpcwamp_calls_total", map[string]string{"procedure": echoProc, "code": "OK"}, 1},
		{"grpcwamp_calls_total", map[string]string{"procedure": streamProc, "code": "OK"}, 1},
		{"grpcwamp_calls_total", map[string]string{"procedure": streamProc, "code": "CANCELLED"}, 1},
		{"grpcwamp_calls_total", map[string]string{"procedure": "unknown", "code": "UNIMPLEMENTED"}, 1},
		{"grpcwamp_progress_frames_total", nil, 3},
		{"grpcwamp_bad_frames_total", map[string]string{"kind": "not_json_array"}, 1},
		{"grpcwamp_bad_frames_total", map[string]string{"kind": "binary"}, 0},
		{"grpcwamp_bad_frames_total", map[string]string{"kind": "too_big"}, 0},
		{"grpcwamp_pubsub_dropped_total", nil, 1},
		{"grpcwamp_events_published_total", nil, 0},
		{"grpcwamp_slow_consumer_disconnects_total", nil, 0},
		// What the clients sent and read, as they counted it.
		{"grpcwamp_bytes_in_total", nil, float64(a.TextBytesSent() + b.TextBytesSent())},
		{"grpcwamp_bytes_out_total", nil, float64(a.TextBytesRead() + b.TextBytesRead())},
	} {
		if got := metricValue(t, mf, c.name, c.labels); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if got := histogramCount(t, mf, "grpcwamp_send_queue_depth"); got != uint64(callFrames) {
		t.Errorf("grpcwamp_send_queue_depth has %d observations, want %d: one per frame of a call queued", got, callFrames)
	}
	if _, ok := mf["go_goroutines"]; !ok {
		t.Errorf("the default registry lacks the Go collector's go_goroutines")
	}
	for _, m := range mf["grpcwamp_calls_total"].GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == "procedure" && l.GetValue() == "no.such.Procedure" {
				t.Errorf("calls_total has the raw procedure name as a label: %v", m)
			}
		}
	}

	// One frame over the size limit and one binary frame, each closing
	// its session.
	c := e.connect(t, "")
	c.Send(t, `["`+strings.Repeat("x", maxFrame)+`"]`)
	c.ExpectClose(t, 1009)
	d := e.connect(t, "")
	d.SendMessage(t, websocket.BinaryMessage, []byte(`[2,"bin","x"]`))
	d.ExpectClose(t, 1003)
	mf = scrape(t, e.b)
	for kind, want := range map[string]float64{"too_big": 1, "binary": 1, "not_json_array": 1, "malformed": 0, "unknown_type": 0} {
		if got := metricValue(t, mf, "grpcwamp_bad_frames_total", map[string]string{"kind": kind}); got != want {
			t.Errorf("grpcwamp_bad_frames_total{kind=%q} = %v, want %v", kind, got, want)
		}
	}
	if got := metricValue(t, mf, "grpcwamp_sessions_total", nil); got != 4 {
		t.Errorf("grpcwamp_sessions_total = %v, want 4", got)
	}
}

// TestE2EMetricsRegistry: WithMetricsRegistry puts the handler's metrics
// into the caller's registry, which /metrics serves along with the
// caller's own.
func TestE2EMetricsRegistry(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	own := prometheus.NewCounter(prometheus.CounterOpts{Name: "app_things_total", Help: "Things."})
	reg.MustRegister(own)
	own.Add(2)
	e := start(t, bridgetest.Reflection, bridge.WithMetricsRegistry(reg))
	e.connect(t, "")
	mf := scrape(t, e.b)
	if got := metricValue(t, mf, "app_things_total", nil); got != 2 {
		t.Errorf("app_things_total = %v, want 2", got)
	}
	if got := metricValue(t, mf, "grpcwamp_sessions_total", nil); got != 1 {
		t.Errorf("grpcwamp_sessions_total = %v, want 1", got)
	}
	if _, ok := mf["go_goroutines"]; ok {
		t.Errorf("the handler added the Go collector to the caller's registry")
	}
}

// scrape gets /metrics from b and parses it.
func scrape(t *testing.T, b *bridgetest.Bridge) map[string]*dto.MetricFamily {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, b.HTTP+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := b.Client.Do(req)
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %s", resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mf, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("GET /metrics: parse: %v", err)
	}
	return mf
}

// histogramCount returns the sample count of the histogram name (with no
// labels); a missing family fails the test.
func histogramCount(t *testing.T, mf map[string]*dto.MetricFamily, name string) uint64 {
	t.Helper()
	f, ok := mf[name]
	if !ok || len(f.GetMetric()) != 1 || f.GetMetric()[0].GetHistogram() == nil {
		t.Fatalf("no histogram %s: %v", name, f)
	}
	return f.GetMetric()[0].GetHistogram().GetSampleCount()
}

// metricValue returns the value of the counter or gauge name whose labels
// include labels; a missing family or series fails the test.
func metricValue(t *testing.T, mf map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
	t.Helper()
	f, ok := mf[name]
	if !ok {
		t.Fatalf("no metric %s", name)
	}
next:
	for _, m := range f.GetMetric() {
		have := make(map[string]string)
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		for k, v := range labels {
			if have[k] != v {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.GetCounter().GetValue()
		case m.Gauge != nil:
			return m.GetGauge().GetValue()
		case m.Untyped != nil:
			return m.GetUntyped().GetValue()
		}
	}
	t.Fatalf("no series of %s with labels %v", name, labels)
	return 0
}
