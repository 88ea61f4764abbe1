package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/encoding/protowire"

	benchv1 "github.com/wampbridge/grpcwamp/gen/bench/v1"
)

// wsRelayRoleArg, followed by the address of the benchmark's upstream,
// makes the command run the WebSocket relay of the reference figures
// instead of the benchmark. Like upstreamRoleArg it is not in the usage.
const wsRelayRoleArg = "-bench-role=wsrelay"

// The WebSocket relay is the lightest WebSocket-to-gRPC hop this benchmark
// puts where the bridge sits, built from the same parts: gorilla/websocket
// towards the client and a grpc-go client connection towards the upstream,
// with the bridge's static HTTP/2 windows, one reader and one writer
// goroutine per session, writes batched until the queue is empty or 64 KiB
// wait (with the bridge's yield on one CPU when another call runs), and
// calls on reused goroutines. It knows the benchmark's two methods and
// nothing else: it finds the call ID and the one number of each CALL by
// position, sends the upstream that number as protobuf bytes, and answers
// every response with the same JSON, rendered once at start. No schema, no
// JSON transcoding, no metadata, no metrics, no limits. Its figures are a
// reference point for what the hop itself costs here, not a bound: the
// bridge frames and reads its frames its own way, and may beat it on a
// figure.

// wsRelayProcs are the upstream's full method names.
const (
	wsRelayUnary  = "/bench.v1.BenchService/Unary"
	wsRelayStream = "/bench.v1.BenchService/Stream"
)

// wsRelayQueue bounds the frames waiting for a session's writer, as the
// bridge's -send-queue does (and with its default).
const wsRelayQueue = 64

// wsRelayWindow is the bridge's default -upstream-window.
const wsRelayWindow = 1 << 20

// wsRelayStreamDesc describes the server stream of the benchmark.
var wsRelayStreamDesc = &grpc.StreamDesc{ServerStreams: true}

// A wsRelay serves WebSocket sessions that relay calls to cc.
type wsRelay struct {
	cc     *grpc.ClientConn
	result []byte // the JSON of every result: a bench.v1.UnaryResponse
	up     websocket.Upgrader

	mu       sync.Mutex
	closed   bool
	sessions map[*websocket.Conn]struct{}
	wg       sync.WaitGroup // sessions' handlers
}

// startWSRelay serves the WebSocket relay in front of upstream on a port of
// 127.0.0.1 that the system chooses, and returns its URL. stop closes
// every session, stops it and waits.
func startWSRelay(upstream string) (url string, stop func(), err error) {
	cc, err := grpc.NewClient(upstream, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithInitialWindowSize(wsRelayWindow), grpc.WithInitialConnWindowSize(4*wsRelayWindow),
		grpc.WithDefaultCallOptions(grpc.ForceCodecV2(frameCodec{})))
	if err != nil {
		return "", nil, fmt.Errorf("WebSocket relay: client for %s: %w", upstream, err)
	}
	result, err := protojson.Marshal(&benchv1.UnaryResponse{Payload: newPayload(100_000)})
	if err != nil {
		cc.Close()
		return "", nil, fmt.Errorf("WebSocket relay: render the result: %w", err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		cc.Close()
		return "", nil, fmt.Errorf("WebSocket relay: listen: %w", err)
	}
	r := &wsRelay{
		cc:       cc,
		result:   result,
		up:       websocket.Upgrader{Subprotocols: []string{"wamp"}},
		sessions: map[*websocket.Conn]struct{}{},
	}
	srv := &http.Server{Handler: r, ReadHeaderTimeout: handshakeTimeout}
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = srv.Serve(lis) // returns when Close closes the listener
	}()
	stop = func() {
		_ = srv.Close() // the listener; hijacked sessions are closed below
		<-served
		r.mu.Lock()
		r.closed = true
		for c := range r.sessions {
			c.Close()
		}
		r.mu.Unlock()
		r.wg.Wait()
		cc.Close()
	}
	return "ws://" + lis.Addr().String() + "/", stop, nil
}

// ServeHTTP upgrades the request and runs a session until the client goes.
func (r *wsRelay) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		http.Error(w, "cannot hijack the connection", http.StatusInternalServerError)
		return
	}
	bw := &batchWriter{hj: hj, ResponseWriter: w}
	c, err := r.up.Upgrade(bw, req, nil)
	if err != nil {
		return // Upgrade has answered
	}
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		c.Close()
		return
	}
	r.sessions[c] = struct{}{}
	r.wg.Add(1)
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		delete(r.sessions, c)
		r.mu.Unlock()
		c.Close()
		r.wg.Done()
	}()
	r.session(c, bw.conn)
}

// batchWriter hands gorilla/websocket a connection whose writes wait in a
// buffer until the session's writer flushes it, as the bridge's does.
type batchWriter struct {
	http.ResponseWriter
	hj   http.Hijacker
	conn *batchedConn
}

func (b *batchWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, rw, err := b.hj.Hijack()
	if err != nil {
		return nil, nil, err
	}
	b.conn = &batchedConn{Conn: c, w: bufio.NewWriterSize(c, wsRelayBatch)}
	return b.conn, rw, nil
}

// wsRelayBatch is the most a batch holds before it is written, as the
// bridge's (session.maxBatchBuffer).
const wsRelayBatch = 64 << 10

// batchedConn buffers writes until flush, or until wsRelayBatch bytes
// wait. The session's writer writes the frames; gorilla's reader may
// write too, a close frame when the client breaks the protocol, hence the
// lock (gorilla's own covers its writers, not flush).
type batchedConn struct {
	net.Conn
	mu sync.Mutex
	w  *bufio.Writer
}

func (c *batchedConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.w.Write(p)
}

func (c *batchedConn) flush() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.w.Flush()
}

// session relays the calls of one session; it returns when the client
// has gone, after its calls have ended.
func (r *wsRelay) session(c *websocket.Conn, bc *batchedConn) {
	c.SetPingHandler(func(string) error { return nil })
	c.SetCloseHandler(func(int, string) error { return nil })
	out := make(chan []byte, wsRelayQueue)
	ctx, cancel := context.WithCancel(context.Background())
	var running atomic.Int64 // calls started and not yet queued their last frame
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		r.write(c, bc, out, &running)
	}()
	if err := r.queue(ctx, out, []byte(`[0,"relay",1,"bridgebench-wsrelay"]`)); err != nil {
		cancel()
	}

	// Calls run on reused goroutines, as the bridge's do: a new one per
	// call would grow its stack again in every call into grpc-go.
	var workers sync.WaitGroup
	jobs := make(chan func())
	goCall := func(f func()) {
		select {
		case jobs <- f:
		default:
			workers.Go(func() {
				f()
				for f := range jobs {
					f()
				}
			})
		}
	}
	var mu sync.Mutex
	streams := map[string]context.CancelFunc{}
	for ctx.Err() == nil {
		_, f, err := c.ReadMessage()
		if err != nil {
			break
		}
		if id, ok := bytes.CutPrefix(f, []byte(`[1001,"`)); ok {
			if i := bytes.IndexByte(id, '"'); i >= 0 {
				mu.Lock()
				if stop, ok := streams[string(id[:i])]; ok {
					stop()
				}
				mu.Unlock()
			}
			continue
		}
		id, method, num, ok := parseRelayCall(f)
		if !ok {
			// Not a CALL of the benchmark's: refused, so that a client
			// waiting for its answer fails instead of hanging.
			if id, ok := relayCallID(f); ok {
				_ = r.queue(ctx, out, relayError(id, errors.New("the WebSocket relay serves only the benchmark's CALLs")))
			}
			continue
		}
		req := protowire.AppendVarint(protowire.AppendTag(nil, 1, protowire.VarintType), num)
		running.Add(1)
		if method == wsRelayUnary {
			goCall(func() {
				defer running.Add(-1)
				_ = r.queue(ctx, out, r.unary(ctx, id, req))
			})
			continue
		}
		sctx, stop := context.WithCancel(ctx)
		mu.Lock()
		streams[id] = stop
		mu.Unlock()
		goCall(func() {
			defer running.Add(-1)
			last := r.stream(sctx, id, req, out)
			mu.Lock()
			delete(streams, id)
			mu.Unlock()
			stop()
			_ = r.queue(ctx, out, last)
		})
	}
	cancel()
	close(jobs)
	workers.Wait()
	close(out)
	<-writerDone
}

// relayCallID returns the call ID of a frame that starts as a CALL.
func relayCallID(f []byte) (string, bool) {
	rest, ok := bytes.CutPrefix(f, []byte(`[2,"`))
	if !ok {
		return "", false
	}
	i := bytes.IndexByte(rest, '"')
	if i < 0 {
		return "", false
	}
	return string(rest[:i]), true
}

// parseRelayCall reads `[2,"<id>","<procedure>",{"<name>":<number>}]`,
// the CALLs of the benchmark (the number may be quoted), and returns the
// call ID, the upstream's method and the number.
func parseRelayCall(f []byte) (id, method string, num uint64, ok bool) {
	id, ok = relayCallID(f)
	if !ok {
		return "", "", 0, false
	}
	rest := f[len(`[2,"`)+len(id)+1:]
	switch {
	case bytes.HasPrefix(rest, []byte(`,"`+procUnary+`",`)):
		method = wsRelayUnary
	case bytes.HasPrefix(rest, []byte(`,"`+procStream+`",`)):
		method = wsRelayStream
	default:
		return "", "", 0, false
	}
	colon := bytes.LastIndexByte(rest, ':')
	if colon < 0 {
		return "", "", 0, false
	}
	digits := bytes.Trim(bytes.TrimSuffix(rest[colon+1:], []byte("}]")), `"`)
	n, err := strconv.ParseUint(string(digits), 10, 64)
	if err != nil {
		return "", "", 0, false
	}
	return id, method, n, true
}

// unary calls the upstream's Unary and returns the CALLRESULT or CALLERROR.
func (r *wsRelay) unary(ctx context.Context, id string, req []byte) []byte {
	var resp rawFrame
	if err := r.cc.Invoke(ctx, wsRelayUnary, &rawFrame{b: req}, &resp); err != nil {
		return relayError(id, err)
	}
	return r.frame(3, id)
}

// stream runs the upstream's Stream, queues a CALL_PROGRESS_RESULT for
// each message, and returns the last frame: a CALLRESULT at the end of
// the stream, a CALLERROR when it failed or was cancelled.
func (r *wsRelay) stream(ctx context.Context, id string, req []byte, out chan<- []byte) []byte {
	cs, err := r.cc.NewStream(ctx, wsRelayStreamDesc, wsRelayStream)
	if err != nil {
		return relayError(id, err)
	}
	if err := cs.SendMsg(&rawFrame{b: req}); err != nil && !errors.Is(err, io.EOF) {
		return relayError(id, err)
	}
	if err := cs.CloseSend(); err != nil {
		return relayError(id, err)
	}
	for {
		var m rawFrame
		if err := cs.RecvMsg(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return r.frame(3, id)
			}
			return relayError(id, err)
		}
		if err := r.queue(ctx, out, r.frame(1000, id)); err != nil {
			return relayError(id, err)
		}
	}
}

// frame returns `[<typ>,"<id>",<the result>]`.
func (r *wsRelay) frame(typ int, id string) []byte {
	f := make([]byte, 0, 16+len(id)+len(r.result))
	f = strconv.AppendInt(append(f, '['), int64(typ), 10)
	f = append(append(append(f, `,"`...), id...), `",`...)
	return append(append(f, r.result...), ']')
}

// relayError returns a CALLERROR for err.
func relayError(id string, err error) []byte {
	return fmt.Appendf(nil, `[4,%q,"wamp.error.relay",%q]`, id, err.Error())
}

// queue hands f to the writer, waiting for room; it fails when the
// session ends first.
func (r *wsRelay) queue(ctx context.Context, out chan<- []byte, f []byte) error {
	select {
	case out <- f:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// write writes the queued frames, a batch at a time: it writes every frame
// that is waiting and then flushes. On one CPU, with other calls still
// running, it first lets them run once, so that results ready at the same
// time leave in one write, as the bridge's writer does. A write that
// fails closes the connection, which ends the session's reader.
func (r *wsRelay) write(c *websocket.Conn, bc *batchedConn, out <-chan []byte, running *atomic.Int64) {
	failed := false
	fail := func() {
		failed = true
		c.Close()
	}
	put := func(f []byte) {
		if !failed && c.WriteMessage(websocket.TextMessage, f) != nil {
			fail()
		}
	}
	drain := func() {
		for {
			select {
			case f, ok := <-out:
				if !ok {
					return
				}
				put(f)
			default:
				return
			}
		}
	}
	for f := range out {
		// gorilla sets this deadline before each frame it writes, and a
		// full buffer writes to the network.
		_ = c.SetWriteDeadline(time.Now().Add(handshakeTimeout))
		put(f)
		drain()
		// Only another call can queue a frame during the yield.
		if runtime.GOMAXPROCS(0) == 1 && running.Load() >= 2 {
			runtime.Gosched()
			drain()
		}
		if !failed {
			_ = bc.SetWriteDeadline(time.Now().Add(handshakeTimeout))
			if bc.flush() != nil {
				fail()
			}
		}
	}
}

// wsRelayMain is the WebSocket relay's role: see hopMain.
func wsRelayMain(ctx context.Context, upstream string, stdin io.Reader, stdout, stderr io.Writer) int {
	return hopMain(ctx, "WebSocket relay", startWSRelay, upstream, stdin, stdout, stderr)
}
