package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	benchv1 "github.com/wampbridge/grpcwamp/gen/bench/v1"
)

// streamCount is the count asked of a stream: more than any measurement
// receives; the client cancels the call when its time is up.
const streamCount = 1 << 40

// checkEvery is how many stream messages the clients receive between two
// looks at the clock.
const checkEvery = 64

// latencyWarmup is how many calls precede the measured ones of the
// round-trip figure.
const latencyWarmup = 100

// drainTimeout bounds the wait for the end of a cancelled stream.
const drainTimeout = 30 * time.Second

// A sample is how many messages or calls a measurement counted in how
// long.
type sample struct {
	ops     int64
	elapsed time.Duration
}

// rate returns ops per second.
func (s sample) rate() float64 { return float64(s.ops) / s.elapsed.Seconds() }

// grpcStream receives one server stream for d. what names the side in
// errors: "direct", or "gRPC proxy" for a client of the proxy.
func grpcStream(ctx context.Context, what string, client benchv1.BenchServiceClient, d time.Duration) (sample, error) {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	start := time.Now()
	deadline := start.Add(d)
	stream, err := client.Stream(sctx, &benchv1.StreamRequest{Count: streamCount})
	if err != nil {
		return sample{}, fmt.Errorf("%s stream: %w", what, err)
	}
	var n int64
	for {
		if _, err := stream.Recv(); err != nil {
			return sample{}, fmt.Errorf("%s stream: after %d messages: %w", what, n, err)
		}
		n++
		if n%checkEvery == 0 && time.Now().After(deadline) {
			break
		}
	}
	return sample{n, time.Since(start)}, nil
}

// bridgeStream makes one streaming CALL in a new session with the bridge
// (or the WebSocket relay) at url, counts its progress frames for d,
// cancels it with CALL_CANCEL, and returns them and the size of a progress
// frame. what names the side in errors: "bridge" or "WebSocket relay".
func bridgeStream(ctx context.Context, what, url string, d time.Duration) (s sample, frameLen int, err error) {
	c, err := dialWAMP(ctx, url, 0)
	if err != nil {
		return sample{}, 0, fmt.Errorf("%s stream: %w", what, err)
	}
	defer c.close()
	stop := context.AfterFunc(ctx, func() { c.close() })
	defer stop()

	progress := append(slices.Clip(prefixProgress), `s",`...)
	start := time.Now()
	deadline := start.Add(d)
	if err := c.send(fmt.Appendf(nil, `[2,"s","%s",{"count":"%d"}]`, procStream, streamCount)); err != nil {
		return sample{}, 0, fmt.Errorf("%s stream: send CALL: %w", what, err)
	}
	var n int64
	for {
		f, err := c.read()
		if err != nil {
			return sample{}, 0, fmt.Errorf("%s stream: after %d messages: %w", what, n, err)
		}
		if !bytes.HasPrefix(f, progress) {
			return sample{}, 0, unexpected(what+" stream", f)
		}
		n++
		frameLen = len(f) // the last one's: seq has its usual width by then
		if n%checkEvery == 0 && time.Now().After(deadline) {
			break
		}
	}
	s = sample{n, time.Since(start)}

	// Cancel and wait for the CALLERROR (CANCELLED), so that the next
	// measurement starts with the bridge and the upstream idle.
	if err := c.send([]byte(`[1001,"s"]`)); err != nil {
		return sample{}, 0, fmt.Errorf("%s stream: send CALL_CANCEL: %w", what, err)
	}
	_ = c.conn.SetReadDeadline(time.Now().Add(drainTimeout))
	for {
		f, err := c.read()
		if err != nil {
			return sample{}, 0, fmt.Errorf("%s stream: wait for the end of the cancelled call: %w", what, err)
		}
		if bytes.HasPrefix(f, []byte(`[4,"s",`)) || bytes.HasPrefix(f, []byte(`[3,"s",`)) {
			return s, frameLen, nil
		}
	}
}

// measureLatency makes latencyWarmup calls, then calls one at a time for d,
// and returns the round trips sorted.
func measureLatency(d time.Duration, call func(seq int64) error) ([]time.Duration, error) {
	var seq int64
	for range latencyWarmup {
		seq++
		if err := call(seq); err != nil {
			return nil, err
		}
	}
	var rtts []time.Duration
	deadline := time.Now().Add(d)
	for {
		seq++
		t0 := time.Now()
		if err := call(seq); err != nil {
			return nil, err
		}
		t1 := time.Now()
		rtts = append(rtts, t1.Sub(t0))
		if t1.After(deadline) {
			break
		}
	}
	slices.Sort(rtts)
	return rtts, nil
}

// grpcLatency measures unary round trips at concurrency 1; what as for
// grpcStream.
func grpcLatency(ctx context.Context, what string, client benchv1.BenchServiceClient, d time.Duration) ([]time.Duration, error) {
	return measureLatency(d, func(seq int64) error {
		if _, err := client.Unary(ctx, &benchv1.UnaryRequest{Seq: seq}); err != nil {
			return fmt.Errorf("%s unary: %w", what, err)
		}
		return nil
	})
}

// bridgeLatency measures unary round trips at concurrency 1 over one
// session; what and url as for bridgeStream.
func bridgeLatency(ctx context.Context, what, url string, d time.Duration) ([]time.Duration, error) {
	c, err := dialWAMP(ctx, url, 0)
	if err != nil {
		return nil, fmt.Errorf("%s unary: %w", what, err)
	}
	defer c.close()
	stop := context.AfterFunc(ctx, func() { c.close() })
	defer stop()
	var frame, want []byte
	return measureLatency(d, func(seq int64) error {
		frame = appendUnaryCall(frame[:0], seq)
		if err := c.send(frame); err != nil {
			return fmt.Errorf("%s unary: send CALL: %w", what, err)
		}
		f, err := c.read()
		if err != nil {
			return fmt.Errorf("%s unary: %w", what, err)
		}
		want = appendCallID(append(want[:0], prefixCallResult[:3]...), seq)
		if !bytes.HasPrefix(f, want) {
			return unexpected(what+" unary", f)
		}
		return nil
	})
}

// tcpMessageSize is the size of the message of the TCP round-trip figures:
// about a unary CALL frame of the bridge figures.
const tcpMessageSize = 100

// tcpLatency measures round trips of a tcpMessageSize-byte message at
// concurrency 1 over one new connection to addr, the echo server or the
// relay in front of it, as measureLatency does, and checks each reply.
// what names the figure in errors.
func tcpLatency(ctx context.Context, what, addr string, d time.Duration) ([]time.Duration, error) {
	var dialer net.Dialer
	c, err := dialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	msg := make([]byte, tcpMessageSize)
	for i := range msg {
		msg[i] = 'a' + byte(i%26)
	}
	reply := make([]byte, len(msg))
	return measureLatency(d, func(seq int64) error {
		binary.BigEndian.PutUint64(msg, uint64(seq))
		if _, err := c.Write(msg); err != nil {
			return fmt.Errorf("%s: write message %d: %w", what, seq, err)
		}
		if _, err := io.ReadFull(c, reply); err != nil {
			return fmt.Errorf("%s: read reply %d: %w", what, seq, err)
		}
		if !bytes.Equal(reply, msg) {
			return fmt.Errorf("%s: reply %d is not the message: %q", what, seq, reply)
		}
		return nil
	})
}

// grpcThroughput runs conc goroutines that call Unary one after another
// over the one client connection for d; what as for grpcStream.
func grpcThroughput(ctx context.Context, what string, client benchv1.BenchServiceClient, d time.Duration, conc int) (sample, error) {
	var done atomic.Int64
	var wg sync.WaitGroup
	errs := make([]error, conc)
	start := time.Now()
	deadline := start.Add(d)
	for i := range conc {
		wg.Go(func() {
			req := &benchv1.UnaryRequest{Seq: int64(i)}
			for time.Now().Before(deadline) {
				if _, err := client.Unary(ctx, req); err != nil {
					errs[i] = fmt.Errorf("%s unary: %w", what, err)
					return
				}
				done.Add(1)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if err := errors.Join(errs...); err != nil {
		return sample{}, err
	}
	return sample{done.Load(), elapsed}, nil
}

// bridgeThroughput keeps conc unary calls outstanding in one session for d,
// sending a new CALL as each CALLRESULT arrives; what and url as for
// bridgeStream.
func bridgeThroughput(ctx context.Context, what, url string, d time.Duration, conc int) (sample, error) {
	c, err := dialWAMP(ctx, url, 0)
	if err != nil {
		return sample{}, fmt.Errorf("%s unary: %w", what, err)
	}
	defer c.close()
	stop := context.AfterFunc(ctx, func() { c.close() })
	defer stop()

	// The reader counts CALLRESULTs and passes each on as a token.
	results := make(chan struct{}, conc)
	readErr := make(chan error, 1)
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		for {
			f, err := c.read()
			if err != nil {
				readErr <- err
				return
			}
			if !bytes.HasPrefix(f, prefixCallResult) {
				readErr <- unexpected(what+" unary", f)
				return
			}
			results <- struct{}{}
		}
	}()
	defer func() { c.close(); <-readerDone }()

	var frame []byte
	var seq int64
	send := func() error {
		seq++
		frame = appendUnaryCall(frame[:0], seq)
		if err := c.send(frame); err != nil {
			return fmt.Errorf("%s unary: send CALL: %w", what, err)
		}
		return nil
	}
	start := time.Now()
	deadline := start.Add(d)
	var outstanding, done int64
	for range conc {
		if err := send(); err != nil {
			return sample{}, err
		}
		outstanding++
	}
	for outstanding > 0 {
		select {
		case <-results:
			outstanding--
			done++
			if time.Now().Before(deadline) {
				if err := send(); err != nil {
					return sample{}, err
				}
				outstanding++
			}
		case err := <-readErr:
			return sample{}, fmt.Errorf("%s unary: after %d calls: %w", what, done, err)
		}
	}
	return sample{done, time.Since(start)}, nil
}
