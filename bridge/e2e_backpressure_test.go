package bridge_test

import (
	"fmt"
	"log/slog"
	"runtime"
	"runtime/metrics"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wampbridge/grpcwamp/bridge"
	"github.com/wampbridge/grpcwamp/bridge/internal/bridgetest"
)

// TestE2EBackPressureNoReader: a client that never reads while the upstream
// streams 100 000 messages of about 1 KB (100 MB, far more than every
// buffer between the upstream and the client holds) holds the upstream in
// Send through gRPC flow control, keeps the bridge's memory bounded, and is
// disconnected after the no-read timeout, which cancels the upstream call.
//
// It does not run in parallel: it measures the process's heap, sampling
// it while the stream runs, so that a peak that garbage collection would
// hide afterwards counts too.
func TestE2EBackPressureNoReader(t *testing.T) {
	const (
		n       = 100_000
		msgSize = 1000
		// sentBound is far below the 100 MB the stream would push through
		// an unbounded bridge, and above what the socket buffers and
		// gRPC's flow-control windows (up to 16 MiB with BDP estimation)
		// hold between the upstream and the bridge's send queue.
		sentBound = 64 << 20
		// heapBound bounds the growth of the heap in use (HeapInuse) at
		// its peak. About 3 MiB is measured, with -race too: the send
		// queue (64 frames of 1 KB), the batch buffer (64 KiB), gRPC's
		// buffers, and the garbage of the messages decoded before a
		// collection. 16 MiB leaves room for an early or late collection;
		// an unbounded bridge would grow by the tens of MB the upstream
		// sends.
		heapBound = 16 << 20
	)
	tag := strings.Repeat("x", msgSize)
	addr, svc := bridgetest.StartUpstream(t, bridgetest.UpstreamOptions{})
	br := bridgetest.StartBridge(t, addr, bridgetest.Reflection, bridge.WithWriteTimeout(300*time.Millisecond))
	c := bridgetest.Dial(t, br.URL, "wamp")
	c.ReadWelcome(t)

	runtime.GC()
	before := heapInuse()
	stop, peak := sampleHeap()
	c.Send(t, fmt.Sprintf(`[2,"flood","bridgetest.v1.TestService.Stream",{"count":%d,"tag":%q}]`, n, tag))
	// The client reads nothing. The bridge's write blocks once the socket
	// buffers are full, its send queue fills, it stops reading the gRPC
	// stream, and flow control stops the upstream in Send; after the
	// no-read timeout the bridge gives up on the client and cancels the
	// call.
	err := svc.WaitCanceled(t.Context(), tag)
	stop()
	if err != nil {
		t.Fatal(err)
	}
	sent := svc.Sent(tag)
	grew := int64(*peak) - int64(before)
	t.Logf("upstream sent %d of %d messages (%d MiB) before the bridge gave up; heap in use grew by %d KiB at its peak",
		sent, n, sent*msgSize>>20, grew>>10)
	if sent >= n {
		t.Fatalf("upstream sent all %d messages to a client that read none: nothing held it back", n)
	}
	if !svc.CanceledInSend(tag) {
		t.Errorf("the upstream was not blocked in Send when the call was cancelled: flow control did not hold it")
	}
	if sent*msgSize > sentBound {
		t.Errorf("upstream sent %d bytes to a client that read none; want at most %d: the bridge buffers without bound", sent*msgSize, sentBound)
	}
	if grew > heapBound {
		t.Errorf("heap in use grew by %d bytes at its peak; want at most %d", grew, heapBound)
	}

	if _, body := br.Get(t, "/metrics"); !strings.Contains(body, "\ngrpcwamp_slow_consumer_disconnects_total 1\n") {
		t.Errorf("/metrics does not count the client as one slow-consumer disconnect:\n%s", body)
	}

	// The client was disconnected: reading now gets what the socket
	// buffers held, then the end of the connection, without a close frame
	// (the bridge could not write one to a client that does not read).
	frames, code, _ := c.Drain(t)
	if code != websocket.CloseAbnormalClosure {
		t.Errorf("connection ended with close code %d, want %d (closed without a close frame)", code, websocket.CloseAbnormalClosure)
	}
	if frames > sent+1 {
		t.Errorf("client read %d frames, more than the %d messages sent", frames, sent)
	}
}

// heapSamples are the runtime metrics whose sum is the heap in use, as
// runtime.MemStats.HeapInuse counts it; reading them does not stop the
// world.
var heapSamples = []metrics.Sample{
	{Name: "/memory/classes/heap/objects:bytes"},
	{Name: "/memory/classes/heap/unused:bytes"},
}

// heapInuse returns the heap in use now.
func heapInuse() uint64 {
	s := slices.Clone(heapSamples)
	metrics.Read(s)
	var n uint64
	for _, x := range s {
		n += x.Value.Uint64()
	}
	return n
}

// sampleHeap reads the heap in use every millisecond until stop is
// called, and keeps the largest reading in *peak, which is final once
// stop has returned.
func sampleHeap() (stop func(), peak *uint64) {
	peak = new(uint64)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			*peak = max(*peak, heapInuse())
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	})
	return func() { close(done); wg.Wait() }, peak
}

// TestE2ESendQueueSize: WithSendQueue sets how many frames a session holds
// for a client that does not read. The client below reads nothing while
// the upstream floods it, so the writer blocks on the socket and the
// stream's frames pile up in the queue until the no-read timeout closes
// the session: the queue-depth histogram then shows it full at the
// configured size, and never beyond it.
func TestE2ESendQueueSize(t *testing.T) {
	t.Parallel()
	for _, size := range []int{4, 64} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			t.Parallel()
			tag := fmt.Sprintf("queue-%d-%s", size, strings.Repeat("x", 1000))
			logs := &recordHandler{records: make(chan map[string]string, 1000)}
			e := start(t, bridgetest.Reflection, bridge.WithSendQueue(size), bridge.WithWriteTimeout(300*time.Millisecond),
				bridge.WithLogger(slog.New(logs)))
			c := e.connect(t, "")
			c.Send(t, fmt.Sprintf(`[2,"flood",%q,{"count":100000,"tag":%q}]`, streamProc, tag))
			if err := e.svc.WaitCanceled(t.Context(), tag); err != nil {
				t.Fatal(err)
			}
			// The log says why the session ended.
			if got, want := logs.next(t, "session ended")["cause"], "the client read nothing for 300ms (the no-read timeout)"; got != want {
				t.Errorf("session ended with cause %q, want %q", got, want)
			}
			h := scrape(t, e.b)["grpcwamp_send_queue_depth"].GetMetric()[0].GetHistogram()
			upTo := func(le float64) uint64 {
				for _, b := range h.GetBucket() {
					if b.GetUpperBound() == le {
						return b.GetCumulativeCount()
					}
				}
				t.Fatalf("grpcwamp_send_queue_depth has no bucket le=%v", le)
				return 0
			}
			// Each observation is the number of frames waiting right after
			// a call queued one.
			n := h.GetSampleCount()
			if upTo(float64(size)/2) == n {
				t.Errorf("none of %d frames queued left more than %d waiting: the queue of %d never filled", n, size/2, size)
			}
			if over := n - upTo(float64(size)); over > 0 {
				t.Errorf("%d of %d frames queued left more than %d waiting: the queue is larger than WithSendQueue(%d)", over, n, size, size)
			}
		})
	}
}

// TestE2EMaxWaitingResults: a client that sends many calls and reads none
// of their results is closed with 1008 once the results waiting for it
// pass WithMaxWaitingResults, rather than having each call hold its result
// until the no-read timeout; a client that reads each result before its
// next call gets every one, however many bytes pass in all.
func TestE2EMaxWaitingResults(t *testing.T) {
	t.Parallel()
	const (
		calls = 48
		size  = 512 << 10 // 24 MiB of results in all: more than the socket buffers hold
	)
	text := strings.Repeat("x", size)
	addr, _ := bridgetest.StartUpstream(t, bridgetest.UpstreamOptions{})
	logs := &recordHandler{records: make(chan map[string]string, 1000)}
	br := bridgetest.StartBridge(t, addr, bridgetest.Reflection, bridge.WithMaxWaitingResults(1<<20),
		bridge.WithLogger(slog.New(logs)))
	callFrame := func(i int) string {
		return fmt.Sprintf(`[2,"c%d","bridgetest.v1.TestService.Echo",{"text":%q}]`, i, text)
	}

	t.Run("reads as they come", func(t *testing.T) {
		// One call at a time: 4 MiB of results pass through the session,
		// four times the bound, never more than one waiting.
		c := bridgetest.Dial(t, br.URL, "wamp")
		c.ReadWelcome(t)
		for i := range 8 {
			c.Send(t, callFrame(i))
			if f := c.ReadFrame(t); f.Type() != 3 {
				t.Fatalf("call %d: frame %v, want its CALLRESULT", i, f)
			}
		}
	})
	t.Run("reads none", func(t *testing.T) {
		c := bridgetest.Dial(t, br.URL, "wamp")
		id := c.ReadWelcome(t).SessionID
		if err := c.Conn.SetWriteDeadline(time.Now().Add(bridgetest.Timeout)); err != nil {
			t.Fatal(err)
		}
		for i := range calls {
			// The bridge may close the session before the last CALLs are
			// sent: the results of those before went past the bound.
			if err := c.Conn.WriteMessage(websocket.TextMessage, []byte(callFrame(i))); err != nil {
				break
			}
		}
		frames, code, reason := c.Drain(t)
		// The close frame reaches a client that reads nothing only if the
		// bridge's writer was not already waiting for it in a write (then
		// the connection ends without one, 1006, and buffered frames may
		// be lost): the log says why.
		if code != websocket.CloseAbnormalClosure && (code != websocket.ClosePolicyViolation || !strings.Contains(reason, "max waiting results")) {
			t.Errorf("closed with %d %q after %d frames; want 1008 naming the max waiting results, or 1006", code, reason, frames)
		}
		if frames >= calls {
			t.Errorf("read %d results before the close, want fewer than the %d calls", frames, calls)
		}
		rec := logs.next(t, "session ended")
		for rec["session"] != id {
			rec = logs.next(t, "session ended")
		}
		if !strings.Contains(rec["cause"], "max waiting results") {
			t.Errorf("session ended with cause %q, want the max waiting results", rec["cause"])
		}
	})
}
