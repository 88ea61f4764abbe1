package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Metrics of the bridge's GET /metrics that the memory figure reads: the
// Prometheus Go and process collectors, and the bridge's session gauge.
const (
	metricRSS        = "process_resident_memory_bytes"
	metricHeapInuse  = "go_memstats_heap_inuse_bytes"
	metricStackInuse = "go_memstats_stack_inuse_bytes"
	metricGoroutines = "go_goroutines"
	metricSessions   = "grpcwamp_sessions_open"
	metricInFlight   = "grpcwamp_calls_in_flight"
)

// dialWorkers is how many sessions the memory figure opens at once.
const dialWorkers = 32

// idleBufSize is the read and write buffer size of the client side of the
// idle sessions: small, so that 10 000 of them fit the harness easily.
const idleBufSize = 512

// settleTimeout bounds the wait for the bridge's gauges to show the sessions.
const settleTimeout = 30 * time.Second

// A memRow is the memory figure at one number of sessions.
type memRow struct {
	sessions        int
	rssPerSession   float64 // bytes
	heapStackPerSes float64 // bytes: heap in use + stacks in use
	stackPerSession float64 // bytes: stacks in use, part of heapStackPerSes
	goroutinesPerS  float64
}

// scrape reads the un-labelled samples of /metrics (the gauges above).
func scrape(ctx context.Context, metricsURL string) (map[string]float64, error) {
	body, err := get(ctx, metricsURL)
	if err != nil {
		return nil, err
	}
	return parseMetrics(body), nil
}

// get returns the body of a GET of u that answered 200.
func get(ctx context.Context, u string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", u, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", u, err)
	}
	return body, nil
}

// parseMetrics returns the samples without labels of a Prometheus text
// exposition: name -> value.
func parseMetrics(body []byte) map[string]float64 {
	m := make(map[string]float64)
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) < 2 || strings.ContainsRune(fields[0], '{') {
			continue
		}
		if v, err := strconv.ParseFloat(fields[1], 64); err == nil {
			m[fields[0]] = v
		}
	}
	return m
}

// need returns the samples named, or an error naming a missing one.
func need(m map[string]float64, names ...string) error {
	for _, n := range names {
		if _, ok := m[n]; !ok {
			return fmt.Errorf("bridge /metrics has no %s", n)
		}
	}
	return nil
}

// measureMemory opens idle sessions up to each count of counts (ascending),
// each after its WELCOME and one unary call, and returns the growth of the
// bridge's memory per session from a baseline taken before the first.
// The sessions of a smaller count stay open for the next one.
func measureMemory(ctx context.Context, wsURL, metricsURL, pprofURL string, counts []int, progress io.Writer) ([]memRow, error) {
	m, err := scrape(ctx, metricsURL)
	if err != nil {
		return nil, err
	}
	if err := need(m, metricRSS, metricHeapInuse, metricStackInuse, metricGoroutines, metricSessions, metricInFlight); err != nil {
		return nil, err
	}
	if m[metricSessions] != 0 {
		return nil, fmt.Errorf("bridge has %v sessions open before the memory figure, want 0", m[metricSessions])
	}
	base, err := collected(ctx, metricsURL, pprofURL, 0)
	if err != nil {
		return nil, err
	}
	var open []*wsClient
	defer func() {
		for _, c := range open {
			c.close()
		}
	}()
	var rows []memRow
	for _, n := range counts {
		fmt.Fprintf(progress, "memory: opening sessions up to %d\n", n)
		more, err := openIdle(ctx, wsURL, n-len(open), int64(len(open)))
		open = append(open, more...)
		if err != nil {
			return nil, fmt.Errorf("open %d sessions: %w", n, err)
		}
		if _, err := settle(ctx, metricsURL, n); err != nil {
			return nil, err
		}
		now, err := collected(ctx, metricsURL, pprofURL, n)
		if err != nil {
			return nil, err
		}
		per := func(name string) float64 { return (now[name] - base[name]) / float64(n) }
		rows = append(rows, memRow{
			sessions:        n,
			rssPerSession:   per(metricRSS),
			heapStackPerSes: per(metricHeapInuse) + per(metricStackInuse),
			stackPerSession: per(metricStackInuse),
			goroutinesPerS:  per(metricGoroutines),
		})
	}
	return rows, nil
}

// settle waits until the bridge counts n sessions open and no call in
// flight, and returns that scrape.
func settle(ctx context.Context, metricsURL string, n int) (map[string]float64, error) {
	deadline := time.Now().Add(settleTimeout)
	for {
		m, err := scrape(ctx, metricsURL)
		if err != nil {
			return nil, err
		}
		if m[metricSessions] == float64(n) && m[metricInFlight] == 0 {
			return m, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("bridge shows %v sessions and %v calls in flight after %v, want %d and 0",
				m[metricSessions], m[metricInFlight], settleTimeout, n)
		}
		select {
		case <-time.After(100 * time.Millisecond):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// openIdle opens n sessions with dialWorkers workers, makes one unary call
// in each, and returns them. On error it returns the sessions it opened
// so that the caller closes them.
func openIdle(ctx context.Context, url string, n int, firstSeq int64) ([]*wsClient, error) {
	var (
		mu       sync.Mutex
		out      = make([]*wsClient, 0, n)
		firstErr error
		wg       sync.WaitGroup
	)
	jobs := make(chan int64)
	for range min(dialWorkers, n) {
		wg.Go(func() {
			for seq := range jobs {
				c, err := openOne(ctx, url, seq)
				mu.Lock()
				if c != nil {
					out = append(out, c)
				}
				if err != nil && firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
			}
		})
	}
	for i := range n {
		mu.Lock()
		failed := firstErr != nil
		mu.Unlock()
		if failed || ctx.Err() != nil {
			break
		}
		jobs <- firstSeq + int64(i) + 1
	}
	close(jobs)
	wg.Wait()
	if firstErr == nil {
		firstErr = ctx.Err()
	}
	return out, firstErr
}

// openOne opens one session and makes one unary call in it.
func openOne(ctx context.Context, url string, seq int64) (*wsClient, error) {
	c, err := dialWAMP(ctx, url, idleBufSize)
	if err != nil {
		return nil, err
	}
	_ = c.conn.SetReadDeadline(time.Now().Add(handshakeTimeout))
	if err := c.send(appendUnaryCall(nil, seq)); err != nil {
		return c, fmt.Errorf("send CALL: %w", err)
	}
	f, err := c.read()
	if err != nil {
		return c, fmt.Errorf("read CALLRESULT: %w", err)
	}
	if !bytes.HasPrefix(f, appendCallID(append([]byte(nil), prefixCallResult[:3]...), seq)) {
		return c, unexpected("idle session's call", f)
	}
	_ = c.conn.SetReadDeadline(time.Time{})
	// Drop the read buffer: the session stays idle from now on.
	c.buf = nil
	return c, nil
}

// collected forces a garbage collection in the bridge, once n sessions are
// open and no call runs, and returns a scrape of /metrics whose heap and
// stack figures are the runtime.MemStats of right after that collection:
// the live heap, without the garbage that a scrape at a random moment
// would hold on top of it (up to GOGC=100% more).
//
// The bridge's heap profile with gc=1 runs runtime.GC first, and with
// debug=1 it ends with the MemStats read after it, as "# HeapInuse = N"
// lines; the bridge serves it on -debug-listen.
func collected(ctx context.Context, metricsURL, pprofURL string, n int) (map[string]float64, error) {
	if _, err := settle(ctx, metricsURL, n); err != nil {
		return nil, err
	}
	u := pprofURL + "heap?gc=1&debug=1"
	body, err := get(ctx, u)
	if err != nil {
		return nil, err
	}
	stats := memStats(body)
	m, err := scrape(ctx, metricsURL)
	if err != nil {
		return nil, err
	}
	for metric, stat := range map[string]string{metricHeapInuse: "HeapInuse", metricStackInuse: "Stack"} {
		v, ok := stats[stat]
		if !ok {
			return nil, fmt.Errorf("GET %s: no %s among the runtime.MemStats lines", u, stat)
		}
		m[metric] = v
	}
	return m, nil
}

// memStats parses the "# Name = value" lines of a heap profile in its
// debug=1 text form; of "# Stack = inuse / sys" it keeps the first number.
func memStats(profile []byte) map[string]float64 {
	out := make(map[string]float64)
	for line := range bytes.Lines(profile) {
		name, value, ok := strings.Cut(strings.TrimSpace(strings.TrimPrefix(string(line), "# ")), " = ")
		if !ok {
			continue
		}
		value, _, _ = strings.Cut(value, " ")
		if v, err := strconv.ParseFloat(value, 64); err == nil {
			out[name] = v
		}
	}
	return out
}
