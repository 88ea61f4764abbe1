package main

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// TestServeMetrics: the serve command's /metrics has the bridge's metrics
// and the upstream client's gRPC metrics in one registry; with
// -upstream-metrics=false only the bridge's.
func TestServeMetrics(t *testing.T) {
	t.Parallel()
	bridgeMetrics := []string{
		`grpcwamp_calls_total{code="OK",procedure="demo.v1.ClockService.GetProgressiveTime"} 1`,
		`grpcwamp_progress_frames_total 2`,
		`go_goroutines `,
	}
	clientMetrics := []string{
		`grpc_client_handled_total{grpc_code="OK",grpc_method="GetProgressiveTime",grpc_service="demo.v1.ClockService",grpc_type="server_stream"} 1`,
		`grpc_client_msg_received_total{grpc_method="GetProgressiveTime",grpc_service="demo.v1.ClockService",grpc_type="server_stream"} 2`,
		`grpc_client_handling_seconds_bucket{`,
		// The schema's load ended its reflection stream before /readyz
		// turned 200.
		`grpc_client_handled_total{grpc_code="OK",grpc_method="ServerReflectionInfo",grpc_service="grpc.reflection.v1.ServerReflection",grpc_type="bidi_stream"} 1`,
	}
	t.Run("default", func(t *testing.T) {
		t.Parallel()
		body := serveMetrics(t)
		for _, want := range append(bridgeMetrics, clientMetrics...) {
			if !strings.Contains(body, want) {
				t.Errorf("GET /metrics lacks %q:\n%s", want, body)
			}
		}
		// Every started call was handled: none was left open.
		for _, line := range strings.Split(body, "\n") {
			rest, ok := strings.CutPrefix(line, "grpc_client_started_total{")
			if !ok {
				continue
			}
			labels, n, _ := strings.Cut(rest, "} ")
			if handled := sumHandled(body, labels); handled != n {
				t.Errorf("%s: started %s, handled %s:\n%s", labels, n, handled, body)
			}
		}
	})
	t.Run("without upstream metrics", func(t *testing.T) {
		t.Parallel()
		body := serveMetrics(t, "-upstream-metrics=false")
		for _, want := range bridgeMetrics {
			if !strings.Contains(body, want) {
				t.Errorf("GET /metrics lacks %q:\n%s", want, body)
			}
		}
		if strings.Contains(body, "grpc_client_") {
			t.Errorf("GET /metrics with -upstream-metrics=false has grpc_client_ metrics:\n%s", body)
		}
	})
}

// sumHandled returns the sum over every grpc_code of the
// grpc_client_handled_total rows whose other labels are labels (as the
// exposition format writes them, sorted by name), formatted as it writes
// a value.
func sumHandled(body, labels string) string {
	total := 0.0
	for _, line := range strings.Split(body, "\n") {
		rest, ok := strings.CutPrefix(line, "grpc_client_handled_total{")
		if !ok {
			continue
		}
		_, rest, _ = strings.Cut(rest, ",") // grpc_code
		l, n, _ := strings.Cut(rest, "} ")
		if l != labels {
			continue
		}
		v, err := strconv.ParseFloat(n, 64)
		if err != nil {
			return "unparsable " + n
		}
		total += v
	}
	return strconv.FormatFloat(total, 'g', -1, 64)
}

// serveMetrics runs serve with args, makes one call of two messages
// through it and returns its /metrics.
func serveMetrics(t *testing.T, args ...string) string {
	t.Helper()
	url, _ := runServe(t, args...)
	addr := strings.TrimSuffix(strings.TrimPrefix(url, "ws://"), "/")
	hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	get := func(path string) (int, string) {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, fmt.Sprintf("http://%s%s", addr, path), nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := hc.Do(req)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	waitFor(t, "/readyz", func() bool {
		status, _ := get("/readyz")
		return status == http.StatusOK
	})

	stdout, callErr := newLineWriter(), newLineWriter()
	if got := run(t.Context(), []string{"call", url, "GetProgressiveTime", "2", "0.001s"}, stdout, callErr); got != exitOK {
		t.Fatalf("call exit status %d, want 0; stderr:\n%s", got, callErr)
	}
	status, body := get("/metrics")
	if status != http.StatusOK {
		t.Fatalf("GET /metrics: %d %s", status, body)
	}
	return body
}
