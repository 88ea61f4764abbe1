// Command bridgebench measures the bridge against direct gRPC to the same
// upstream, with client, bridge and upstream in separate processes, and
// prints the figures of issue 6 with their targets:
//
//	go run ./cmd/bridgebench [-rounds N] [-duration D] [-concurrency N] [-sessions LIST] [-quick] [-markdown]
//	go run ./cmd/bridgebench -compare-env "NAME=VALUE ..." | -compare-bin PATH [flags]
//
// It builds the real bridge (cmd/bridge) into a temporary directory, runs
// its own executable again as the upstream (bench.v1.BenchService with
// server reflection, and a TCP echo server), as a TCP relay in front of
// that echo server, and as a minimal gRPC proxy and a minimal WebSocket
// relay in front of the upstream, and measures from its own process:
// server-streaming throughput, unary round trips at concurrency 1, unary
// throughput at concurrency 64 over one connection, each round measuring
// direct gRPC, the bridge, the gRPC proxy and the WebSocket relay one after
// the other; TCP round trips direct to the echo server and through the TCP
// relay, which show what one process hop costs a plain round trip; then
// the bridge's memory per idle session. The gRPC proxy's figures show what
// the lightest gRPC hop in the bridge's place reaches, the WebSocket
// relay's what the lightest WebSocket-to-gRPC hop built from the bridge's
// parts reaches. It prints medians over the rounds. Run it from inside the
// repository (it runs `go build`).
//
// With -compare-env or -compare-bin it also measures a second bridge,
// bridge B (the same build with other settings, or another executable),
// in every round beside the first, and prints how B fares against it:
// the side-by-side comparison by which changes are judged.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Exit statuses.
const (
	exitOK          = 0
	exitFailure     = 1
	exitUsage       = 2
	exitInterrupted = 130
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// config is the parsed command line.
type config struct {
	rounds      int
	duration    time.Duration
	concurrency int
	sessions    []int // ascending; empty: no memory figure
	markdown    bool
	quick       bool
	bridgeEnv   []string // NAME=VALUE settings added to the bridge's environment

	// A second bridge, measured beside the first (see compares): from
	// compareBin when set, else from the same build, with compareEnv
	// added to its environment after bridgeEnv.
	compareEnv []string
	compareBin string
}

// compares tells whether the run measures a second bridge, bridge B.
func (c config) compares() bool { return len(c.compareEnv) > 0 || c.compareBin != "" }

// Sizes of -quick, for a smoke run of the whole pipeline.
const (
	quickRounds   = 1
	quickDuration = 200 * time.Millisecond
	quickSessions = "50,100"
)

// parseFlags parses the command line; it reports errors on stderr.
func parseFlags(args []string, stderr io.Writer) (config, error) {
	cfg := config{}
	fs := flag.NewFlagSet("bridgebench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `usage: go run ./cmd/bridgebench [flags]

bridgebench builds the bridge, starts it and a gRPC upstream as separate
processes, and compares the bridge with direct gRPC to the same upstream:
streaming throughput, unary round trip, unary throughput at concurrency 64,
and the bridge's memory per idle session. TCP round trips direct to an echo
server and through a relay process show what one process hop costs here;
the same figures through a minimal gRPC proxy process and through a minimal
WebSocket relay process, each in the bridge's place, show what the lightest
gRPC hop and the lightest WebSocket-to-gRPC hop reach.

With -compare-env or -compare-bin a second bridge, bridge B, is measured
beside the first in every round, and a table shows how it fares against it:
how a change is judged, e.g. against a bridge built from the last commit
(git stash; go build -o /tmp/bridge-before ./cmd/bridge; git stash pop).

flags:
`)
		fs.PrintDefaults()
	}
	fs.IntVar(&cfg.rounds, "rounds", 5, "`rounds` of measurements; the figures are medians over them")
	fs.DurationVar(&cfg.duration, "duration", 2*time.Second, "`duration` of each measurement (each side of each figure, each round)")
	fs.IntVar(&cfg.concurrency, "concurrency", 64, "calls outstanding in the unary throughput figure")
	sessions := fs.String("sessions", "1000,10000", "comma-separated `counts` of idle sessions for the memory figure; empty: skip it")
	fs.BoolVar(&cfg.markdown, "markdown", false, "print the tables as Markdown (for the README)")
	bridgeEnv := fs.String("bridge-env", "", "space-separated NAME=VALUE `settings` added to the environment of the bridge, of the gRPC proxy and of the WebSocket relay, e.g. \"GOMAXPROCS=1 GOGC=200\"")
	compareEnv := fs.String("compare-env", "", "space-separated NAME=VALUE `settings` of a second bridge, bridge B, measured beside the first in every round\n(same build, -bridge-env and these), e.g. \"BRIDGE_UPSTREAM_METRICS=false\"")
	fs.StringVar(&cfg.compareBin, "compare-bin", "", "`path` of a bridge executable to measure as bridge B beside the one built here,\ne.g. one built from another revision")
	fs.BoolVar(&cfg.quick, "quick", false, "a short smoke run: -rounds "+strconv.Itoa(quickRounds)+" -duration "+quickDuration.String()+
		" -sessions "+quickSessions+" unless given;\nits figures are not judged against the targets")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		err := fmt.Errorf("unexpected argument %q", fs.Arg(0))
		fmt.Fprintln(stderr, err)
		fs.Usage()
		return cfg, err
	}
	if cfg.quick {
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		if !set["rounds"] {
			cfg.rounds = quickRounds
		}
		if !set["duration"] {
			cfg.duration = quickDuration
		}
		if !set["sessions"] {
			*sessions = quickSessions
		}
	}
	var errs []error
	if cfg.rounds < 1 {
		errs = append(errs, fmt.Errorf("flag -rounds: %d: want at least 1", cfg.rounds))
	}
	if cfg.duration <= 0 {
		errs = append(errs, fmt.Errorf("flag -duration: %v: want a positive duration", cfg.duration))
	}
	if cfg.concurrency < 1 {
		errs = append(errs, fmt.Errorf("flag -concurrency: %d: want at least 1", cfg.concurrency))
	}
	for s := range strings.SplitSeq(*sessions, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			errs = append(errs, fmt.Errorf("flag -sessions: %q: want positive whole numbers separated by commas", s))
			continue
		}
		cfg.sessions = append(cfg.sessions, n)
	}
	cfg.bridgeEnv = parseEnv("bridge-env", *bridgeEnv, &errs)
	cfg.compareEnv = parseEnv("compare-env", *compareEnv, &errs)
	if cfg.compareBin != "" {
		if fi, err := os.Stat(cfg.compareBin); err != nil {
			errs = append(errs, fmt.Errorf("flag -compare-bin: %v", err))
		} else if fi.IsDir() || fi.Mode()&0o111 == 0 {
			errs = append(errs, fmt.Errorf("flag -compare-bin: %s is not an executable file: build one with go build -o PATH ./cmd/bridge", cfg.compareBin))
		}
	}
	slices.Sort(cfg.sessions)
	cfg.sessions = slices.Compact(cfg.sessions)
	if err := errors.Join(errs...); err != nil {
		fmt.Fprintln(stderr, err)
		fs.Usage()
		return cfg, err
	}
	return cfg, nil
}

// parseEnv returns the NAME=VALUE settings of the flag name, whose value
// is v, adding an error to errs for each that is not one.
func parseEnv(name, v string, errs *[]error) []string {
	var env []string
	for _, kv := range strings.Fields(v) {
		if n, _, ok := strings.Cut(kv, "="); !ok || n == "" {
			*errs = append(*errs, fmt.Errorf("flag -%s: %q: want NAME=VALUE", name, kv))
			continue
		}
		env = append(env, kv)
	}
	return env
}

// runRole runs the role that args ask for, when they ask for one (the
// harness runs its own executable as the upstream, the TCP relay, the gRPC
// proxy and the WebSocket relay), and returns its exit status and true;
// else false.
func runRole(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) (int, bool) {
	switch {
	case len(args) == 1 && args[0] == upstreamRoleArg:
		return upstreamMain(ctx, stdin, stdout, stderr), true
	case len(args) == 2 && args[0] == relayRoleArg:
		return relayMain(ctx, args[1], stdin, stdout, stderr), true
	case len(args) == 2 && args[0] == proxyRoleArg:
		return proxyMain(ctx, args[1], stdin, stdout, stderr), true
	case len(args) == 2 && args[0] == wsRelayRoleArg:
		return wsRelayMain(ctx, args[1], stdin, stdout, stderr), true
	}
	return 0, false
}

// run runs the command line args and returns the exit status. Cancelling
// ctx is the user's interrupt. stdin matters to the roles only.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if code, ok := runRole(ctx, args, stdin, stdout, stderr); ok {
		return code
	}
	cfg, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		return exitUsage
	}
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintf(stderr, "error: find this executable to run it as the upstream: %v\n", err)
		return exitFailure
	}
	rep, err := bench(ctx, cfg, self, stderr)
	if err != nil {
		if ctx.Err() != nil {
			fmt.Fprintln(stderr, "bridgebench: interrupted; stopped the bridge and the upstream")
			return exitInterrupted
		}
		fmt.Fprintf(stderr, "error: %v\n", err)
		return exitFailure
	}
	if err := rep.print(stdout, cfg.markdown); err != nil {
		fmt.Fprintf(stderr, "error: %v\n", err)
		return exitFailure
	}
	return exitOK
}
