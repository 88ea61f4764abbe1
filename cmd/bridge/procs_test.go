package main

import (
	"bufio"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/wampbridge/grpcwamp/bridge/gcfloor"
)

func TestProcsToSet(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		procs     int
		set, env  bool
		want      int
		situation string
	}{
		{1, false, false, 1, "the default"},
		{1, false, true, 0, "the default, $GOMAXPROCS given: the runtime applied it"},
		{4, true, true, 4, "-procs given and $GOMAXPROCS: -procs wins"},
		{0, true, false, 0, "-procs 0: the runtime's choice"},
		{0, true, true, 0, "-procs 0 and $GOMAXPROCS: the runtime applied it"},
	} {
		if got := procsToSet(tc.procs, tc.set, tc.env); got != tc.want {
			t.Errorf("%s: procsToSet(%d, %v, %v) = %d, want %d", tc.situation, tc.procs, tc.set, tc.env, got, tc.want)
		}
	}
}

// TestServeProcs runs the bridge as a process (the test binary running
// main) and reads the GOMAXPROCS it runs with from its /metrics. With
// printed, it runs with the file that -print-config printed for the same
// arguments and environment instead of the arguments: the GOMAXPROCS is
// that of the run that printed it, a kept $GOMAXPROCS too.
func TestServeProcs(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		args    []string
		env     []string
		want    int
		printed bool
	}{
		{"default", nil, nil, 1, false},
		{"flag", []string{"-procs", "3"}, nil, 3, false},
		{"environment", nil, []string{"BRIDGE_PROCS=2"}, 2, false},
		{"GOMAXPROCS kept", nil, []string{"GOMAXPROCS=3"}, 3, false},
		{"flag over GOMAXPROCS", []string{"-procs", "2"}, []string{"GOMAXPROCS=3"}, 2, false},
		// What the runtime chose for this test process too (the CPUs or
		// the container's limit), unless $GOMAXPROCS chose it.
		{"runtime's choice", []string{"-procs", "0"}, nil, runtime.GOMAXPROCS(0), false},
		{"printed, GOMAXPROCS kept", nil, []string{"GOMAXPROCS=3"}, 3, true},
		{"printed, flag over GOMAXPROCS", []string{"-procs", "2"}, []string{"GOMAXPROCS=3"}, 2, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if tc.name == "runtime's choice" && os.Getenv("GOMAXPROCS") != "" {
				t.Skip("$GOMAXPROCS set the tests' own GOMAXPROCS")
			}
			args := tc.args
			if tc.printed {
				_, printed := printedConfig(t, tc.args, tc.env)
				args = []string{"-config", writeFile(t, printed)}
			}
			if got := bridgeProcessMetric(t, args, tc.env, "go_sched_gomaxprocs_threads"); got != tc.want {
				t.Errorf("bridge %q with %q: GOMAXPROCS %d, want %d", args, tc.env, got, tc.want)
			}
		})
	}
}

// TestServeGCHeapFloor runs the bridge as a process and reads the GOGC it
// runs with from its /metrics: the default floor (32MiB) and -gc-heap-floor
// 16MiB raise it from the start, since a fresh process's live heap is far
// below either; a floor of 0 leaves GOGC alone.
func TestServeGCHeapFloor(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		args, env  []string
		above      bool // GOGC above the configured one, else equal
		configured int
	}{
		{"default: 32MiB", nil, nil, true, 100},
		{"none", []string{"-gc-heap-floor", "0"}, nil, false, 100},
		{"flag", []string{"-gc-heap-floor", "16MiB"}, nil, true, 100},
		{"environment", nil, []string{"BRIDGE_GC_HEAP_FLOOR=16MiB"}, true, 100},
		{"environment: none", nil, []string{"BRIDGE_GC_HEAP_FLOOR=0"}, false, 100},
		{"GOGC without a floor", []string{"-gc-heap-floor", "0"}, []string{"GOGC=300"}, false, 300},
		{"GOGC below the floor's", []string{"-gc-heap-floor", "16MiB"}, []string{"GOGC=150"}, true, 150},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := bridgeProcessMetric(t, tc.args, tc.env, "go_gc_gogc_percent")
			if tc.above && got <= tc.configured || !tc.above && got != tc.configured {
				t.Errorf("bridge %q with %q: GOGC %d; want %s %d", tc.args, tc.env, got, map[bool]string{true: "above", false: "equal to"}[tc.above], tc.configured)
			}
		})
	}
}

// TestServeGCHeapFloorHold: sessions that open in a burst, gcfloor.HoldAfter
// of them between two collections, lower the floor to gcfloor.HeldFloor at
// once, so that their objects pack densely; fewer leave it alone. A fresh
// bridge's live heap is a few MiB, so the default floor gives GOGC above
// 200 and the held one (8 MiB, twice the 4 MiB of GOGC=100) at most 200;
// an idle bridge collects no more before the test ends.
func TestServeGCHeapFloorHold(t *testing.T) {
	t.Parallel()
	_, host, _ := startBridgeProcess(t, nil, nil)
	const held = 200
	open := func() {
		t.Helper()
		d := websocket.Dialer{Subprotocols: []string{"wamp"}}
		ws, _, err := d.DialContext(t.Context(), "ws://"+host+"/", nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ws.Close() })
		if _, welcome, err := ws.ReadMessage(); err != nil || !strings.HasPrefix(string(welcome), "[0,") {
			t.Fatalf("read WELCOME: %q, %v", welcome, err)
		}
	}
	for range gcfloor.HoldAfter - 1 {
		open()
	}
	if got := processMetric(t, host, "go_gc_gogc_percent"); got <= held {
		t.Fatalf("GOGC %d with %d sessions opened, want above %d: the default floor", got, gcfloor.HoldAfter-1, held)
	}
	open()
	if got := processMetric(t, host, "go_gc_gogc_percent"); got > held {
		t.Errorf("GOGC %d with %d sessions opened, want at most %d: the floor held at 8 MiB", got, gcfloor.HoldAfter, held)
	}
}

// bridgeProcessMetric starts the bridge with args and env and returns the
// integer value of metric from its /metrics.
func bridgeProcessMetric(t *testing.T, args, env []string, metric string) int {
	t.Helper()
	_, host, _ := startBridgeProcess(t, args, env)
	return processMetric(t, host, metric)
}

// processMetric returns the integer value of metric from the /metrics of
// the bridge serving host.
func processMetric(t *testing.T, host, metric string) int {
	t.Helper()
	_, body := httpGet(t, http.DefaultClient, "http://"+host+"/metrics")
	m := regexp.MustCompile(`(?m)^` + metric + ` (\d+)$`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("/metrics has no %s:\n%s", metric, body)
	}
	n, err := strconv.Atoi(m[1])
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// startBridgeProcess starts the bridge (the test binary running main) with
// args and env, listening on a free port of 127.0.0.1, and waits for its
// banner. It returns the process, the host:port it serves, and a channel
// that yields all of its stderr, from the first line, once the process has
// closed it. The test's end kills the process if it still runs.
func startBridgeProcess(t *testing.T, args, env []string) (*exec.Cmd, string, <-chan string) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), os.Args[0], append([]string{"-listen", "127.0.0.1:0"}, args...)...)
	// The parent's own GOMAXPROCS and GOGC, if any, must not leak into the
	// cases.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GOMAXPROCS=") && !strings.HasPrefix(kv, "GOGC=") && !strings.HasPrefix(kv, "BRIDGE_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, append(env, runMainEnv+"=1")...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	lines := bufio.NewScanner(stderr)
	var log strings.Builder
	bannerRE := regexp.MustCompile(`^bridge: serving WAMP v1 on ws://(127\.0\.0\.1:\d+)/ `)
	var host string
	for host == "" && lines.Scan() {
		log.WriteString(lines.Text() + "\n")
		if m := bannerRE.FindStringSubmatch(lines.Text()); m != nil {
			host = m[1]
		}
	}
	if host == "" {
		t.Fatalf("no banner from the bridge process; stderr:\n%s", &log)
	}
	rest := make(chan string, 1)
	go func() { // the process must never block on stderr
		// The scanner may hold lines read past the banner: go on with it.
		for lines.Scan() {
			log.WriteString(lines.Text() + "\n")
		}
		rest <- log.String()
	}()
	return cmd, host, rest
}
