package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"

	benchv1 "github.com/wampbridge/grpcwamp/gen/bench/v1"
)

// Targets of issue 6, as bounds on bridge/direct.
var (
	targetStream     = target{bound: 0.75, atLeast: true}
	targetLatencyP50 = target{bound: 1.3}
	targetThroughput = target{bound: 0.8, atLeast: true}
)

// targetSessionBytes is the target of the memory figure: heap and stacks
// in use per idle session.
const targetSessionBytes = 16 << 10

// fdMargin is how many file descriptors a process needs besides one per
// session: listeners, the upstream connection, log files, the runtime.
const fdMargin = 256

// warmUpDuration bounds each measurement of the warm-up round.
const warmUpDuration = 300 * time.Millisecond

// stopGrace is how long a child may take to exit after SIGTERM.
const stopGrace = 5 * time.Second

// Figures and sides, to index the figures of a roundResult.
const (
	figStream = iota
	figUnary
	figThroughput
	numFigures
)

const (
	sideDirect = iota
	sideBridge
	sideProxy   // the gRPC proxy of the reference figures (proxy.go)
	sideWSRelay // the WebSocket relay of the reference figures (wsrelay.go)
	sideBridgeB // the second bridge of -compare-env and -compare-bin
	numSides
)

// activeSides returns the sides a run of cfg measures, in the order of
// a round that does not start from the end: bridge B only when cfg
// compares.
func activeSides(cfg config) []int {
	sides := []int{sideDirect, sideBridge, sideProxy, sideWSRelay}
	if cfg.compares() {
		sides = append(sides, sideBridgeB)
	}
	return sides
}

// roundResult holds the figures of one round, each by side.
type roundResult struct {
	stream [numSides]float64          // messages/s
	lat    [numSides][3]time.Duration // p50, p90, p99
	thr    [numSides]float64          // calls/s
	cpu    [numFigures][numSides]cpuPerOp

	// p50 of the TCP round trips of the hop figures: direct to the
	// echo server in the upstream process, and through the relay process.
	tcpEcho, tcpRelay time.Duration
}

// pids are the processes whose CPU time the report shows. bridge is the
// process in the middle: the bridge, or the gRPC proxy or the WebSocket
// relay for their figures.
type pids struct{ client, bridge, upstream int }

// A cpuPerOp is the CPU time per message or call of each process during a
// measurement; ok is false when it could not be read.
type cpuPerOp struct {
	client, bridge, upstream time.Duration
	ok                       bool
}

// readCPU returns the CPU time used so far by each of p (0 for a pid of
// 0: none, as the bridge of the direct side); false when one cannot be
// read.
func readCPU(p pids) ([3]time.Duration, bool) {
	var t [3]time.Duration
	for i, pid := range []int{p.client, p.bridge, p.upstream} {
		if pid == 0 {
			continue
		}
		d, err := processCPU(pid)
		if err != nil {
			return t, false
		}
		t[i] = d
	}
	return t, true
}

// A report is what one run measured.
type report struct {
	cfg       config
	rounds    []roundResult
	frameLen  int // bytes of a progress frame
	protoLen  int // bytes of a StreamResponse
	mem       []memRow
	memNotice string // why the session counts differ from -sessions, if they do
}

// fitSessions raises the file limit and scales counts down to what it
// allows: each session costs a descriptor in this process and one in the
// bridge, which inherits the limit. It returns the counts to measure and
// a notice when they differ from the ones asked for.
func fitSessions(counts []int) ([]int, string) {
	if len(counts) == 0 {
		return nil, ""
	}
	limit, err := raiseFileLimit()
	if err != nil {
		return counts, fmt.Sprintf("cannot raise RLIMIT_NOFILE (%v): sessions may fail to open beyond the current limit", err)
	}
	most := int(min(limit, 1<<30)) - fdMargin
	var out []int
	var scaled []string
	for _, n := range counts {
		if n > most {
			scaled = append(scaled, fmt.Sprint(n))
			n = most
		}
		if n >= 1 && (len(out) == 0 || out[len(out)-1] != n) {
			out = append(out, n)
		}
	}
	if len(scaled) == 0 {
		return out, ""
	}
	return out, fmt.Sprintf("sessions: %s need more file descriptors than RLIMIT_NOFILE allows (%d, the hard limit, in this process and in the bridge; %d kept for the rest): measuring %v instead; raise the hard limit (ulimit -Hn) to measure more",
		strings.Join(scaled, ", "), limit, fdMargin, out)
}

// bench runs the benchmark and returns its report. It stops every process
// it started before it returns; on failure the error carries the end of
// their logs.
func bench(ctx context.Context, cfg config, self string, stderr io.Writer) (_ *report, err error) {
	rep := &report{cfg: cfg}
	var counts []int
	counts, rep.memNotice = fitSessions(cfg.sessions)
	if rep.memNotice != "" {
		fmt.Fprintf(stderr, "bridgebench: %s\n", rep.memNotice)
	}

	dir, err := os.MkdirTemp("", "bridgebench-")
	if err != nil {
		return nil, err
	}
	defer func() {
		// Keep the logs of a failed run; the error shows their end.
		if err != nil && ctx.Err() == nil {
			err = fmt.Errorf("%w\n(the logs are kept in %s)", err, dir)
			return
		}
		os.RemoveAll(dir)
	}()
	var children []*child
	defer func() {
		if err != nil && ctx.Err() == nil {
			// A child that died is the likely cause: say so first.
			for _, c := range children {
				if ferr := c.diedWithin(time.Second); ferr != nil {
					err = fmt.Errorf("%w\n%v", err, ferr)
				}
			}
		}
		for _, c := range children {
			c.stop(stopGrace)
		}
		if err != nil && ctx.Err() == nil {
			for _, c := range children {
				err = fmt.Errorf("%w\n--- end of the %s's stderr ---\n%s", err, c.name, c.logTail(30))
			}
		}
	}()

	fmt.Fprintln(stderr, "bridgebench: building the bridge")
	bin, err := buildBridge(ctx, dir)
	if err != nil {
		return nil, err
	}
	up, addr, echoAddr, err := startUpstreamProcess(ctx, self, dir)
	if up != nil {
		children = append(children, up)
	}
	if err != nil {
		return nil, err
	}
	rl, relayAddr, err := startRelayProcess(ctx, self, dir, echoAddr)
	if rl != nil {
		children = append(children, rl)
	}
	if err != nil {
		return nil, err
	}
	tcp := tcpAddrs{echo: echoAddr, relay: relayAddr}
	px, proxyAddr, err := startProxyProcess(ctx, self, dir, addr, cfg.bridgeEnv)
	if px != nil {
		children = append(children, px)
	}
	if err != nil {
		return nil, err
	}
	wr, relayURL, err := startWSRelayProcess(ctx, self, dir, addr, cfg.bridgeEnv)
	if wr != nil {
		children = append(children, wr)
	}
	if err != nil {
		return nil, err
	}
	br, wsURL, _, _, err := startBridgeProcess(ctx, "bridge", bin, addr, dir, cfg.bridgeEnv)
	if br != nil {
		children = append(children, br)
	}
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(stderr, "bridgebench: upstream on %s (TCP echo on %s), bridge on %s, gRPC proxy on %s, WebSocket relay on %s, TCP relay on %s\n",
		addr, echoAddr, wsURL, proxyAddr, relayURL, relayAddr)
	var brB *child
	var wsURLB string
	if cfg.compares() {
		binB := bin
		if cfg.compareBin != "" {
			binB = cfg.compareBin
		}
		brB, wsURLB, _, _, err = startBridgeProcess(ctx, "bridge-b", binB, addr, dir, slices.Concat(cfg.bridgeEnv, cfg.compareEnv))
		if brB != nil {
			children = append(children, brB)
		}
		if err != nil {
			return nil, fmt.Errorf("bridge B: %w", err)
		}
		fmt.Fprintf(stderr, "bridgebench: bridge B (%s) on %s\n", cfg.describeB(), wsURLB)
	}

	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, fmt.Errorf("direct client: %w", err)
	}
	defer cc.Close()
	client := benchv1.NewBenchServiceClient(cc)
	pcc, err := grpc.NewClient(proxyAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, fmt.Errorf("client of the gRPC proxy: %w", err)
	}
	defer pcc.Close()
	clients := clients{direct: client, proxy: benchv1.NewBenchServiceClient(pcc), bridge: wsURL, relay: relayURL, bridgeB: wsURLB}
	procs := [numSides]pids{
		sideDirect:  {client: os.Getpid(), upstream: up.cmd.Process.Pid},
		sideBridge:  {client: os.Getpid(), bridge: br.cmd.Process.Pid, upstream: up.cmd.Process.Pid},
		sideProxy:   {client: os.Getpid(), bridge: px.cmd.Process.Pid, upstream: up.cmd.Process.Pid},
		sideWSRelay: {client: os.Getpid(), bridge: wr.cmd.Process.Pid, upstream: up.cmd.Process.Pid},
	}
	if brB != nil {
		procs[sideBridgeB] = pids{client: os.Getpid(), bridge: brB.cmd.Process.Pid, upstream: up.cmd.Process.Pid}
	}
	sides := activeSides(cfg)
	rep.protoLen = proto.Size(&benchv1.StreamResponse{Payload: newPayload(100_000)})

	// A round that is not counted first: the first measurement of a side
	// also paid for what its processes do once (heaps and windows that
	// grow, the bridge's first look at the upstream's schema), and gave
	// one side of a run up to a third less than its later rounds.
	warm := cfg
	warm.duration = min(cfg.duration, warmUpDuration)
	fmt.Fprintf(stderr, "bridgebench: a warm-up round of %v per measurement, not counted\n", warm.duration)
	if _, _, err := runRound(ctx, warm, clients, tcp, procs, false); err != nil {
		return nil, fmt.Errorf("warm-up round: %w", err)
	}
	for r := range cfg.rounds {
		res, frameLen, err := runRound(ctx, cfg, clients, tcp, procs, r%2 == 1)
		if err != nil {
			return nil, fmt.Errorf("round %d: %w", r+1, err)
		}
		for _, c := range children {
			if err := c.failure(); err != nil {
				return nil, err
			}
		}
		rep.rounds = append(rep.rounds, res)
		rep.frameLen = frameLen
		fmt.Fprintf(stderr, "round %d/%d (%s): stream %s msg/s; unary p50 %s; concurrency %d: %s calls/s; TCP p50 echo / relay %s / %s\n",
			r+1, cfg.rounds, eachSide(sides, func(side int) string { return sideLabels[side] }),
			eachSide(sides, func(side int) string { return formatCount(res.stream[side]) }),
			eachSide(sides, func(side int) string { return formatMicros(res.lat[side][0]) }),
			cfg.concurrency, eachSide(sides, func(side int) string { return formatCount(res.thr[side]) }),
			formatMicros(res.tcpEcho), formatMicros(res.tcpRelay))
	}

	if len(counts) > 0 {
		// A fresh bridge: the rounds' garbage and buffers would blur the
		// baseline of the memory figure. Bridge B has no memory figure.
		br.stop(stopGrace)
		if brB != nil {
			brB.stop(stopGrace)
		}
		br2, wsURL2, httpURL2, pprofURL2, err := startBridgeProcess(ctx, "bridge", bin, addr, dir, cfg.bridgeEnv)
		if br2 != nil {
			children = append(children, br2)
		}
		if err != nil {
			return nil, err
		}
		rep.mem, err = measureMemory(ctx, wsURL2, httpURL2+"/metrics", pprofURL2, counts, stderr)
		if err != nil {
			return nil, fmt.Errorf("memory figure: %w", err)
		}
	}
	return rep, nil
}

// eachSide returns f of each of sides in order, joined by " / ", as the
// progress line of a round shows them.
func eachSide(sides []int, f func(side int) string) string {
	s := make([]string, len(sides))
	for i, side := range sides {
		s[i] = f(side)
	}
	return strings.Join(s, " / ")
}

// describeB says what bridge B is, for the progress lines and the report.
func (c config) describeB() string {
	what := "the same build"
	if c.compareBin != "" {
		what = c.compareBin
	}
	if len(c.compareEnv) > 0 {
		what += " with " + strings.Join(c.compareEnv, " ")
	}
	return what
}

// tcpAddrs are the servers of the TCP hop figures.
type tcpAddrs struct {
	echo  string // the echo server, in the upstream process
	relay string // the relay process in front of it
}

// clients are what a round calls: gRPC clients of the upstream and of the
// gRPC proxy in front of it, and the WebSocket URLs of the bridge and of
// the WebSocket relay.
type clients struct {
	direct, proxy          benchv1.BenchServiceClient
	bridge, relay, bridgeB string
}

// of returns what side calls: its gRPC client for direct and the gRPC
// proxy; a nil client and its WebSocket URL for the bridge and the
// WebSocket relay, which the same WebSocket client code measures.
func (cl clients) of(side int) (benchv1.BenchServiceClient, string) {
	switch side {
	case sideDirect:
		return cl.direct, ""
	case sideBridge:
		return nil, cl.bridge
	case sideProxy:
		return cl.proxy, ""
	case sideBridgeB:
		return nil, cl.bridgeB
	default:
		return nil, cl.relay
	}
}

// sideLabels name the sides in the errors of the measuring functions.
var sideLabels = [numSides]string{sideDirect: "direct", sideBridge: "bridge", sideProxy: "gRPC proxy", sideWSRelay: "WebSocket relay", sideBridgeB: "bridge B"}

// runRound measures each figure on each side, in the order direct, bridge,
// gRPC proxy, WebSocket relay (then bridge B when cfg compares), or the
// other way round when bridgeFirst, and returns the figures and the size
// of the bridge's progress frame. The TCP hop figures come last, the TCP
// relay first when bridgeFirst.
func runRound(ctx context.Context, cfg config, cl clients, tcp tcpAddrs, procs [numSides]pids, bridgeFirst bool) (res roundResult, frameLen int, err error) {
	// measure runs one side of a figure and notes the CPU time per
	// operation that each process spent on it.
	measure := func(fig, side int, f func(side int) (int64, error)) error {
		before, ok := readCPU(procs[side])
		ops, err := f(side)
		if err != nil {
			return err
		}
		after, ok2 := readCPU(procs[side])
		if ok && ok2 && ops > 0 {
			per := func(i int) time.Duration { return (after[i] - before[i]) / time.Duration(ops) }
			res.cpu[fig][side] = cpuPerOp{client: per(0), bridge: per(1), upstream: per(2), ok: true}
		}
		return nil
	}
	// sides measures a figure on each side in turn; f measures one side,
	// stores its figure in res and returns the operations it counted.
	order := activeSides(cfg)
	if bridgeFirst {
		slices.Reverse(order)
	}
	sides := func(fig int, f func(side int) (int64, error)) error {
		for _, side := range order {
			if err := measure(fig, side, f); err != nil {
				return err
			}
		}
		return nil
	}
	d := cfg.duration
	err = sides(figStream, func(side int) (int64, error) {
		var s sample
		var err error
		if c, url := cl.of(side); c != nil {
			s, err = grpcStream(ctx, sideLabels[side], c, d)
		} else {
			var n int
			s, n, err = bridgeStream(ctx, sideLabels[side], url, d)
			// The report shows the size of the bridge's frame; the
			// relay renders its own.
			if side == sideBridge {
				frameLen = n
			}
		}
		res.stream[side] = s.rate()
		return s.ops, err
	})
	if err != nil {
		return res, 0, err
	}
	err = sides(figUnary, func(side int) (int64, error) {
		var rtts []time.Duration
		var err error
		if c, url := cl.of(side); c != nil {
			rtts, err = grpcLatency(ctx, sideLabels[side], c, d)
		} else {
			rtts, err = bridgeLatency(ctx, sideLabels[side], url, d)
		}
		res.lat[side] = [3]time.Duration{percentile(rtts, 50), percentile(rtts, 90), percentile(rtts, 99)}
		return int64(len(rtts) + latencyWarmup), err
	})
	if err != nil {
		return res, 0, err
	}
	err = sides(figThroughput, func(side int) (int64, error) {
		var s sample
		var err error
		if c, url := cl.of(side); c != nil {
			s, err = grpcThroughput(ctx, sideLabels[side], c, d, cfg.concurrency)
		} else {
			s, err = bridgeThroughput(ctx, sideLabels[side], url, d, cfg.concurrency)
		}
		res.thr[side] = s.rate()
		return s.ops, err
	})
	if err != nil {
		return res, 0, err
	}
	// Not through sides: the relay is none of the processes whose CPU
	// time the report shows.
	echo := func() error {
		rtts, err := tcpLatency(ctx, "TCP echo", tcp.echo, d)
		res.tcpEcho = percentile(rtts, 50)
		return err
	}
	relay := func() error {
		rtts, err := tcpLatency(ctx, "TCP relay", tcp.relay, d)
		res.tcpRelay = percentile(rtts, 50)
		return err
	}
	tcpSides := []func() error{echo, relay}
	if bridgeFirst {
		tcpSides = []func() error{relay, echo}
	}
	for _, f := range tcpSides {
		if err := f(); err != nil {
			return res, 0, err
		}
	}
	return res, frameLen, nil
}

// collect returns f of each round.
func collect(rs []roundResult, f func(roundResult) float64) []float64 {
	xs := make([]float64, len(rs))
	for i, r := range rs {
		xs[i] = f(r)
	}
	return xs
}

// medianRatio returns the median over the rounds of each round's
// num/den, as every ratio of the report is computed.
func medianRatio(rs []roundResult, num, den func(roundResult) float64) float64 {
	ratios := make([]float64, len(rs))
	for i, r := range rs {
		ratios[i] = ratio(num(r), den(r))
	}
	return median(ratios)
}

// streamOf returns the server-streaming rate of side in a round, as
// collect and medianRatio take a figure; latOf and thrOf do the same for
// the others.
func streamOf(side int) func(roundResult) float64 {
	return func(r roundResult) float64 { return r.stream[side] }
}

// latOf returns the round trip of side at percentile p (0 for p50, 1 for
// p90, 2 for p99), in nanoseconds.
func latOf(side, p int) func(roundResult) float64 {
	return func(r roundResult) float64 { return float64(r.lat[side][p]) }
}

// thrOf returns the unary throughput of side.
func thrOf(side int) func(roundResult) float64 {
	return func(r roundResult) float64 { return r.thr[side] }
}

// print writes the report: a header, the table of the ratios, the table
// of memory per session, and what they mean.
func (rep *report) print(w io.Writer, markdown bool) error {
	cfg := rep.cfg
	var b strings.Builder
	fmt.Fprintf(&b, "bridgebench: %d round(s) of %v per measurement and side; %s %s/%s, %d CPUs, GOMAXPROCS %d; client, bridge, upstream, gRPC proxy, WebSocket relay and TCP relay in separate processes on 127.0.0.1.\n",
		cfg.rounds, cfg.duration, runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.GOMAXPROCS(0))
	if len(cfg.bridgeEnv) > 0 {
		fmt.Fprintf(&b, "The bridge, the gRPC proxy and the WebSocket relay ran with %s added to their environment.\n", strings.Join(cfg.bridgeEnv, " "))
	}
	if cfg.compares() {
		fmt.Fprintf(&b, "Bridge B, measured beside the bridge in every round: %s.\n", cfg.describeB())
	}
	if cfg.quick {
		fmt.Fprintf(&b, "A smoke run (-quick): its figures show that every part runs, but are too short and too few to judge the targets by, so the result column says %q. Run without -quick to judge them.\n", notJudged)
	}
	if markdown {
		b.WriteString("\n") // two paragraphs, not one
	}
	fmt.Fprintf(&b, "Message: %d B of protobuf (bench.v1.StreamResponse), %d B as a CALL_PROGRESS_RESULT frame.\n\n", rep.protoLen, rep.frameLen)
	if _, err := io.WriteString(w, b.String()); err != nil {
		return err
	}

	t := table{header: []string{"figure", "direct gRPC", "bridge", "bridge/direct", "target", "result"}}
	rs := rep.rounds
	add := func(name string, format func(float64) string, direct, bridge func(roundResult) float64, tg *target) {
		rt := medianRatio(rs, bridge, direct)
		tgs, verdict := "(info)", ""
		if tg != nil {
			tgs, verdict = tg.String(), rep.judge(tg.verdict(rt))
		}
		t.add(name, format(median(collect(rs, direct))), format(median(collect(rs, bridge))), formatRatio(rt), tgs, verdict)
	}
	add("server-streaming throughput", rateFormat("msg/s"), streamOf(sideDirect), streamOf(sideBridge), &targetStream)
	for i, p := range []int{50, 90, 99} {
		var tg *target
		if p == 50 {
			tg = &targetLatencyP50
		}
		add(fmt.Sprintf("unary round trip p%d, concurrency 1", p), formatMicrosFloat, latOf(sideDirect, i), latOf(sideBridge, i), tg)
	}
	add(fmt.Sprintf("unary throughput, concurrency %d, one connection", cfg.concurrency), rateFormat("calls/s"),
		thrOf(sideDirect), thrOf(sideBridge), &targetThroughput)
	add(fmt.Sprintf("TCP round trip p50, %d B: one process hop (echo) / through a relay process", tcpMessageSize), formatMicrosFloat,
		func(r roundResult) float64 { return float64(r.tcpEcho) }, func(r roundResult) float64 { return float64(r.tcpRelay) }, nil)
	if err := t.print(w, markdown); err != nil {
		return err
	}
	hops := make([]float64, len(rs))
	for i, r := range rs {
		hops[i] = hopRatio(r.lat[sideDirect][0], r.tcpEcho, r.tcpRelay)
	}
	if _, err := fmt.Fprintf(w, `
Direct and bridge: medians over the rounds; bridge/direct: median of each round's ratio.
The TCP row sends %d bytes over one connection and waits for them to come back, one message at a
time for as long as each unary figure, after %d warm-up round trips: in the direct gRPC column to
an echo server in the upstream process, in the bridge column through a minimal relay, a process of
its own that passes each message on to the echo server and the reply back.

Direct gRPC plus what the relay adds to the TCP round trip would be about %s of direct gRPC
(median over the rounds of (direct gRPC p50 + relay p50 - echo p50) / direct gRPC p50). It is no
floor under the bridge's ratio: a process in the middle that is awake when the reply comes back adds
less than the TCP relay, which sleeps in every read. The WebSocket relay below is a better reference.
`, tcpMessageSize, latencyWarmup, formatRatio(median(hops))); err != nil {
		return err
	}
	if err := rep.printCompare(w, markdown); err != nil {
		return err
	}
	if err := rep.printReferences(w, markdown); err != nil {
		return err
	}
	if err := rep.printCPU(w, markdown); err != nil {
		return err
	}
	if len(rep.mem) == 0 {
		return nil
	}

	fmt.Fprintln(w)
	m := table{header: []string{"idle sessions", "RSS / session", "heap+stack / session", "of which stacks", "goroutines / session", "target (heap+stack)", "result"}}
	tg := fmt.Sprintf("<= %s", formatKiB(targetSessionBytes))
	verdict := func(b float64) string {
		if b <= targetSessionBytes {
			return rep.judge("met")
		}
		return rep.judge("MISSED")
	}
	for _, r := range rep.mem {
		m.add(formatCount(float64(r.sessions)), formatKiB(r.rssPerSession), formatKiB(r.heapStackPerSes), formatKiB(r.stackPerSession),
			fmt.Sprintf("%.2f", r.goroutinesPerS), tg, verdict(r.heapStackPerSes))
	}
	if n := len(rep.mem); n >= 2 {
		a, z := rep.mem[0], rep.mem[n-1]
		slope := func(f func(memRow) float64) float64 {
			return (f(z)*float64(z.sessions) - f(a)*float64(a.sessions)) / float64(z.sessions-a.sessions)
		}
		hs := slope(func(r memRow) float64 { return r.heapStackPerSes })
		m.add(fmt.Sprintf("each of the %s from %s to %s", formatCount(float64(z.sessions-a.sessions)), formatCount(float64(a.sessions)), formatCount(float64(z.sessions))),
			formatKiB(slope(func(r memRow) float64 { return r.rssPerSession })), formatKiB(hs),
			formatKiB(slope(func(r memRow) float64 { return r.stackPerSession })),
			fmt.Sprintf("%.2f", slope(func(r memRow) float64 { return r.goroutinesPerS })), tg, verdict(hs))
	}
	if err := m.print(w, markdown); err != nil {
		return err
	}
	note := `
Memory: the bridge's runtime.MemStats right after a garbage collection forced through its heap
profile (-debug-listen, gc=1), read before opening the sessions and with them open (each session
after its WELCOME and one unary call); growth divided by the number of sessions. The target is
judged on heap+stack (HeapInuse + StackInuse): RSS (process_resident_memory_bytes) also holds
memory the Go runtime has freed but not yet returned to the system, and the kernel's socket
buffers are in neither. Equal figures at each count show that memory grows linearly with sessions.
`
	if rep.memNotice != "" {
		note += "Note: " + rep.memNotice + "\n"
	}
	_, err := io.WriteString(w, note)
	return err
}

// notJudged stands for the verdict of a smoke run (-quick).
const notJudged = "not judged"

// judge returns verdict, or notJudged in a smoke run: a round of 200 ms
// and 100 sessions, whose fixed costs weigh on memory per session, say
// nothing about the targets.
func (rep *report) judge(verdict string) string {
	if rep.cfg.quick && (verdict == "met" || verdict == "MISSED") {
		return notJudged
	}
	return verdict
}

// rateFormat returns the format of a rate in unit, e.g. "12 345 msg/s".
func rateFormat(unit string) func(float64) string {
	return func(x float64) string { return formatCount(x) + " " + unit }
}

// formatMicrosFloat formats a duration held as a float64 of nanoseconds.
func formatMicrosFloat(x float64) string { return formatMicros(time.Duration(x)) }

// A reference is a hop in the bridge's place whose figures the report
// shows beside the bridge's: the gRPC proxy, the WebSocket relay.
type reference struct {
	name  string // as in the table's header: "gRPC proxy"
	short string // as in its ratio's header: "proxy"
	side  int    // where its figures are in a roundResult: sideProxy
	note  string // what it is, after the table
}

// references are the reference hops, in the order of their tables.
var references = []reference{
	{
		name: "gRPC proxy", short: "proxy", side: sideProxy,
		note: `
The gRPC proxy is the lightest gRPC hop that can stand where the bridge does: a process of its own
(on one processor, as the bridge by default) whose grpc-go server passes each call's bytes to the
upstream over one grpc-go client connection and the responses' bytes back, with no WebSocket, no
JSON and no schema. A bridge built on grpc-go's client pays at least that client's half of it.
`,
	},
	{
		name: "WebSocket relay", short: "relay", side: sideWSRelay,
		note: `
The WebSocket relay is the lightest WebSocket-to-gRPC hop: a process of its own (on one processor,
as the bridge by default) built from the bridge's parts, gorilla/websocket towards the client and
one grpc-go client connection with the bridge's windows towards the upstream, with the bridge's
batched writes and reused call goroutines. It knows only the benchmark's two methods: it takes the
call ID and the one number of each CALL by position, sends that number to the upstream as protobuf
bytes, and answers every response with the same JSON, rendered once at start. No schema, no
transcoding, no metadata, no metrics, no limits: a reference for what the hop alone costs a bridge
of these parts, not a bound (the bridge frames and reads its frames its own way).
`,
	},
}

// printReferences writes the figures of each reference hop beside the
// bridge's.
func (rep *report) printReferences(w io.Writer, markdown bool) error {
	rs := rep.rounds
	for _, ref := range references {
		t := table{header: []string{"figure, through a " + ref.name + " in the bridge's place", "direct gRPC", ref.name, ref.short + "/direct", "bridge/direct"}}
		// add adds the row of a figure, which of returns for a side.
		add := func(name string, format func(float64) string, of func(side int) func(roundResult) float64) {
			direct, hop, bridge := of(sideDirect), of(ref.side), of(sideBridge)
			t.add(name, format(median(collect(rs, direct))), format(median(collect(rs, hop))),
				formatRatio(medianRatio(rs, hop, direct)), formatRatio(medianRatio(rs, bridge, direct)))
		}
		add("server-streaming throughput", rateFormat("msg/s"), streamOf)
		add("unary round trip p50, concurrency 1", formatMicrosFloat, func(side int) func(roundResult) float64 { return latOf(side, 0) })
		add(fmt.Sprintf("unary throughput, concurrency %d, one connection", rep.cfg.concurrency), rateFormat("calls/s"), thrOf)
		if _, err := io.WriteString(w, "\n"); err != nil {
			return err
		}
		if err := t.print(w, markdown); err != nil {
			return err
		}
		if _, err := io.WriteString(w, ref.note); err != nil {
			return err
		}
	}
	return nil
}

// printCompare writes how bridge B fared against the bridge, when the run
// compares them: for each figure, both medians, both ratios to direct
// gRPC, the median of each round's B/bridge, and in how many rounds B was
// the better (more messages or calls per second, a shorter round trip).
func (rep *report) printCompare(w io.Writer, markdown bool) error {
	if !rep.cfg.compares() {
		return nil
	}
	rs := rep.rounds
	t := table{header: []string{"figure", "bridge", "bridge B", "bridge/direct", "B/direct", "B/bridge", "B better in"}}
	add := func(name string, format func(float64) string, of func(side int) func(roundResult) float64, higherBetter bool) {
		direct, a, b := of(sideDirect), of(sideBridge), of(sideBridgeB)
		better := 0
		for _, r := range rs {
			if x, y := b(r), a(r); (higherBetter && x > y) || (!higherBetter && x < y) {
				better++
			}
		}
		t.add(name, format(median(collect(rs, a))), format(median(collect(rs, b))),
			formatRatio(medianRatio(rs, a, direct)), formatRatio(medianRatio(rs, b, direct)),
			formatRatio(medianRatio(rs, b, a)), fmt.Sprintf("%d of %d rounds", better, len(rs)))
	}
	add("server-streaming throughput", rateFormat("msg/s"), streamOf, true)
	for i, p := range []int{50, 90, 99} {
		add(fmt.Sprintf("unary round trip p%d, concurrency 1", p), formatMicrosFloat, func(side int) func(roundResult) float64 { return latOf(side, i) }, false)
	}
	add(fmt.Sprintf("unary throughput, concurrency %d, one connection", rep.cfg.concurrency), rateFormat("calls/s"), thrOf, true)
	if _, err := io.WriteString(w, "\n"); err != nil {
		return err
	}
	if err := t.print(w, markdown); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, `
Bridge B: %s.
It is measured like the bridge in every round, and the order of the sides alternates between
rounds. B/bridge: median of each round's ratio. B better in: the rounds in which B had more
messages or calls per second, or the shorter round trip. A difference that B shows in nearly
every round is B's; one it shows in about half of them is noise.
`, rep.cfg.describeB())
	return err
}

// printCPU writes the CPU time per message or call of each process, when
// it was read.
func (rep *report) printCPU(w io.Writer, markdown bool) error {
	t := table{header: []string{"CPU time per message or call", "client", "bridge, proxy or relay", "upstream", "all three"}}
	names := [numFigures]string{"server stream", "unary, concurrency 1", fmt.Sprintf("unary, concurrency %d", rep.cfg.concurrency)}
	for fig := range numFigures {
		for _, side := range activeSides(rep.cfg) {
			sideName := sideLabels[side]
			if side == sideDirect {
				sideName = "direct gRPC"
			}
			var client, bridge, upstream, total []float64
			for _, r := range rep.rounds {
				c := r.cpu[fig][side]
				if !c.ok {
					return nil
				}
				client = append(client, float64(c.client))
				bridge = append(bridge, float64(c.bridge))
				upstream = append(upstream, float64(c.upstream))
				total = append(total, float64(c.client+c.bridge+c.upstream))
			}
			us := func(xs []float64) string { return formatMicros(time.Duration(median(xs))) }
			b := us(bridge)
			if side == sideDirect {
				b = "-"
			}
			t.add(names[fig]+", "+sideName, us(client), b, us(upstream), us(total))
		}
	}
	if _, err := io.WriteString(w, "\n"); err != nil {
		return err
	}
	if err := t.print(w, markdown); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "\nCPU time: user+system from /proc/PID/stat (10 ms ticks) over each measurement, divided by the\nmessages or calls; medians over the rounds. The machine has %d CPUs: a side whose \"all three\" is\nT per operation cannot exceed %d/T operations per second.\n",
		runtime.NumCPU(), runtime.NumCPU())
	return err
}
