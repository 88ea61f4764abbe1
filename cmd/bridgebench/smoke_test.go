package main

import (
	"bytes"
	"runtime"
	"strings"
	"testing"
)

// TestSmoke runs the whole pipeline with -quick sizes: it builds the real
// bridge with go build and runs this test binary as the upstream, the TCP
// relay, the gRPC proxy and the WebSocket relay (see TestMain), as the
// command does, with a second bridge (bridge B) beside the first. It
// checks that every figure is printed, not what the figures are.
func TestSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the bridge and starts processes")
	}
	// Bridge B is a bridge built apart, as from another revision, with
	// settings of its own.
	binB, err := buildBridge(t.Context(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	code := run(t.Context(), []string{"-quick", "-sessions", "20,40", "-bridge-env", "GOGC=150",
		"-compare-bin", binB, "-compare-env", "BRIDGE_UPSTREAM_METRICS=false"}, nil, &stdout, &stderr)
	t.Logf("stderr:\n%s", stderr.String())
	if code != exitOK {
		t.Fatalf("exit status %d, want 0; stdout:\n%s", code, stdout.String())
	}
	if want := "a warm-up round of 200ms per measurement, not counted"; !strings.Contains(stderr.String(), want) {
		t.Errorf("stderr lacks %q", want)
	}
	out := stdout.String()
	for _, want := range []string{
		"server-streaming throughput", "unary round trip p50, concurrency 1", "unary round trip p99, concurrency 1",
		"unary throughput, concurrency 64, one connection", ">= 0.75x", "<= 1.30x", ">= 0.80x",
		"The bridge, the gRPC proxy and the WebSocket relay ran with GOGC=150 added to their environment.",
		"idle sessions", "\n20 ", "\n40 ", "each of the 20 from 20 to 40",
		"TCP round trip p50, 100 B: one process hop (echo) / through a relay process",
		"Direct gRPC plus what the relay adds to the TCP round trip would be about ",
		"figure, through a gRPC proxy in the bridge's place", "proxy/direct",
		"figure, through a WebSocket relay in the bridge's place", "relay/direct",
		"A smoke run (-quick)", "not judged",
		"Bridge B, measured beside the bridge in every round: " + binB + " with BRIDGE_UPSTREAM_METRICS=false.",
		"bridge/direct", "B/direct", "B/bridge", "B better in", " of 1 rounds",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if runtime.GOOS == "linux" { // CPU times are read on Linux only
		for _, want := range []string{"CPU time per message or call", "server stream, bridge", "unary, concurrency 64, direct gRPC", "unary, concurrency 64, gRPC proxy", "server stream, WebSocket relay", "unary, concurrency 1, WebSocket relay", "server stream, bridge B", "unary, concurrency 64, bridge B"} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		}
	}
	if strings.Contains(out, "MISSED") || strings.Contains(out, " met ") {
		t.Errorf("a smoke run judged a target:\n%s", out)
	}
	if strings.Contains(out, "n/a") {
		t.Errorf("output has a figure missing (n/a):\n%s", out)
	}
}
