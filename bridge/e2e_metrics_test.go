package bridge_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/wampbridge/grpcwamp/bridge"
	"github.com/wampbridge/grpcwamp/bridge/internal/bridgetest"
)

// TestE2EMetrics: GET /metrics counts what sessions did. Every value read
// is settled before the scrape: the session reports a call's end before
// queuing its terminal frame, a dropped PUBLISH before reading the next
// frame, and a bad frame and the session's end before its close frame.
func TestE2EMetrics(t *testing.T) {
	t.Parallel()
	e := start(t, bridgetest.Reflection, bridge.WithMaxEventSize(16))

	a := e.connect(t, "")
	a.Send(t, fmt.Sprintf(`[2,"u1",%q,{"text":"hi"}]`, echoProc))
	if f := a.ReadFrame(t); f.Type() != 3 || f.CallID() != "u1" {
		t.Fatalf("got %s, want the CALLRESULT of u1", f.Raw())
	}
	a.Send(t, fmt.Sprintf(`[2,"s1",%q,{"count":3,"tag":"t"}]`, streamProc))
	for i, want := range []int{1000, 1000, 1000, 3} {
		if f := a.ReadFrame(t); f.Type() != want || f.CallID() != "s1" {
			t.Fatalf("frame %d: got %s, want type %d of s1", i, f.Raw(), want)
		}
	}
	a.Send(t, fmt.Sprintf(`[7,"topic",%q]`, strings.Repeat("x", 64))) // over the event size: dropped
	a.Send(t, `[2,"x1","no.such.Procedure"]`)
	a.ExpectCallError(t, "x1", 12)

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
		{"grpcwamp_calls_total", map[string]string{"procedure": echoProc, "code": "OK"}, 1},
		{"grpcwamp_calls_total", map[string]string{"procedure": streamProc, "code": "OK"}, 1},
		{"grpcwamp_calls_total", map[string]string{"procedure": "unknown", "code": "UNIMPLEMENTED"}, 1},
		{"grpcwamp_progress_frames_total", nil, 3},
		{"grpcwamp_bad_frames_total", map[string]string{"kind": "not_json_array"}, 1},
		{"grpcwamp_bad_frames_total", map[string]string{"kind": "binary"}, 0},
		{"grpcwamp_pubsub_dropped_total", nil, 1},
		{"grpcwamp_events_published_total", nil, 0},
		{"grpcwamp_slow_consumer_disconnects_total", nil, 0},
	} {
		if got := metricValue(t, mf, c.name, c.labels); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	for _, name := range []string{"grpcwamp_bytes_in_total", "grpcwamp_bytes_out_total"} {
		if got := metricValue(t, mf, name, nil); got <= 0 {
			t.Errorf("%s = %v, want > 0", name, got)
		}
	}
	if h := mf["grpcwamp_send_queue_depth"]; h == nil || h.GetMetric()[0].GetHistogram().GetSampleCount() == 0 {
		t.Errorf("grpcwamp_send_queue_depth has no observations: %v", h)
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
