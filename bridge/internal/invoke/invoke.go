// Package invoke is the bridge's protocol-neutral core: it turns a procedure
// name and JSON arguments into a gRPC call, and the call's responses into a
// stream of JSON results followed by one final status.
//
// Front ends (the WAMP v1 session today, WAMP v2 later) resolve a procedure
// with [Core.Resolve], run it with [Procedure.Call], and turn a failure into
// the wire's error shape with [Core.Failure]. Nothing here knows about
// WebSockets or frames; nothing in front ends knows about descriptors or
// gRPC connections.
package invoke

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/wampbridge/grpcwamp/bridge/internal/transcode"
	"github.com/wampbridge/grpcwamp/bridge/internal/upstream"
)

// Failure is the final status of a failed call in the shape every WAMP
// version reports: code, error URI, message and the errorDetails object.
type Failure = transcode.Failure

// Core resolves procedures against the upstream's current catalog and runs
// calls. It is safe for concurrent use.
type Core struct {
	up     *upstream.Upstream
	opts   transcode.Options
	logger *slog.Logger

	// codec caches the transcoder of the catalog it was built for; a new
	// catalog (a schema reload) gets a new codec on first use.
	codec atomic.Pointer[catalogCodec]
	// rendered caches the built-ins' JSON for the current catalog.
	rendered atomic.Pointer[rendered]
	// fallback renders failures that happen before any catalog is loaded.
	fallback *transcode.Codec
	// timeouts are the deadlines of calls (see timeouts.go); nil: none.
	timeouts atomic.Pointer[Timeouts]
	// running counts the upstream calls under way, of every front end and
	// feed together; maxRunning bounds it (0: no bound). limitLog lets the
	// warning about the bound through once a minute.
	running    atomic.Int64
	maxRunning atomic.Int64
	limitLog   rate.Sometimes
	// staleLog lets the warning about methods the schema lists but the
	// upstream does not serve through once a minute.
	staleLog rate.Sometimes
	// unreachableLog lets the warning about calls that found no
	// connection to the upstream through once a minute (see unreachable).
	unreachableLog rate.Sometimes
	// maxResult bounds the JSON of one response (0: no bound).
	maxResult atomic.Int64
	// maxSend and maxRecv are the message size limits of the upstream
	// connection (0: not known); see SetUpstreamLimits.
	maxSend, maxRecv int
}

type catalogCodec struct {
	catalog *upstream.Catalog
	codec   *transcode.Codec
}

// New returns a Core calling through up. JSON follows opts.
func New(up *upstream.Upstream, opts transcode.Options, logger *slog.Logger) *Core {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Core{up: up, opts: opts, logger: logger, fallback: transcode.New(nil, opts),
		limitLog: rate.Sometimes{Interval: time.Minute}, staleLog: rate.Sometimes{Interval: time.Minute},
		unreachableLog: rate.Sometimes{Interval: time.Minute}}
}

// SetMaxCalls bounds the upstream calls that run at once, over every front
// end and feed; a call beyond it fails at once with RESOURCE_EXHAUSTED.
// Built-in procedures do not count. 0 means no bound, the default.
func (c *Core) SetMaxCalls(n int) { c.maxRunning.Store(int64(max(n, 0))) }

// SetMaxResult bounds the JSON of one response of the calls started from
// now on; a call whose response would render larger fails with
// RESOURCE_EXHAUSTED. 0 means no bound, the default.
func (c *Core) SetMaxResult(bytes int) { c.maxResult.Store(int64(max(bytes, 0))) }

// SetUpstreamLimits tells the core the message size limits of its
// upstream connection, its grpc.MaxCallSendMsgSize and
// grpc.MaxCallRecvMsgSize, in bytes; 0: not known, the default. A call
// whose request encodes to more than send is refused before it is sent,
// with RESOURCE_EXHAUSTED, so that gRPC's words for a message over a send
// limit are always the upstream's; gRPC's words for a response over the
// receive limit are explained only if they name recv (see
// [upstream.Explain]). Call it before the core runs calls; it is not safe
// for concurrent use with them.
func (c *Core) SetUpstreamLimits(send, recv int) { c.maxSend, c.maxRecv = max(send, 0), max(recv, 0) }

// Running is the number of upstream calls under way.
func (c *Core) Running() int { return int(c.running.Load()) }

// admit counts a call of p that is about to be sent upstream, or refuses
// it when the core runs its limit of calls already. A call admitted must
// run release.
func (c *Core) admit(p *Procedure) error {
	limit := c.maxRunning.Load()
	for {
		n := c.running.Load()
		if limit > 0 && n >= limit {
			c.limitLog.Do(func() {
				c.logger.Warn("upstream call limit reached",
					"limit", limit, "procedure", p.name)
			})
			return status.Errorf(codes.ResourceExhausted,
				"procedure %q: the bridge runs its limit of %d upstream calls at once, for all clients together: call refused; retry later",
				p.name, limit)
		}
		if c.running.CompareAndSwap(n, n+1) {
			return nil
		}
	}
}

func (c *Core) release() { c.running.Add(-1) }

// unreachable logs, for the operator, grpc-go's text of a call of p that
// found no connection to the upstream (upstream.Explain withholds it from
// the client: it names the upstream's address). It is a warning, since the
// upstream went away or cannot be reached, but one a minute at most: such
// failures come in bursts, every call made while a connection attempt
// fails (up to its timeout, for an upstream that does not answer) failing
// alike, and the watch of the connection and /readyz already tell the
// state. Debug level would hide the cause from a normal run.
func (c *Core) unreachable(p *Procedure, err error) {
	c.unreachableLog.Do(func() {
		c.logger.Warn("upstream not reachable: a call found no connection to it and was not sent; the client was told to retry shortly (one such line a minute at most)",
			"procedure", p.name, "method", p.method.FullName, "error", status.Convert(err).Message())
	})
}

// Procedure is a resolved procedure, ready to be called any number of times.
type Procedure struct {
	name   string
	method *upstream.Method
	codec  *transcode.Codec
	core   *Core
	// local, when set, runs a built-in procedure in place of a gRPC call.
	local func(args []json.RawMessage) (json.RawMessage, error)
}

// Resolve finds the method a procedure name stands for. The error is a gRPC
// status: UNAVAILABLE while the upstream is not ready, UNIMPLEMENTED for a
// name no method answers to. The built-in procedures ([ProcedureList],
// [ProcedureDescribe]) come first and shadow any method claiming their names.
func (c *Core) Resolve(procedure string) (*Procedure, error) {
	if !c.up.Ready() {
		// The reason (the upstream's address, its errors) is for the
		// operator, at /readyz and in the log, not for every client.
		return nil, status.Errorf(codes.Unavailable,
			"procedure %q: the bridge is not ready: its upstream is not connected or its schema is not loaded yet; retry shortly",
			clip(procedure))
	}
	cat := c.up.Catalog()
	if p, ok := c.builtin(procedure, cat); ok {
		return p, nil
	}
	m, ok := cat.Lookup(procedure)
	if !ok {
		return nil, status.Error(codes.Unimplemented, noSuchProcedure(procedure, true))
	}
	return &Procedure{name: procedure, method: m, codec: c.codecFor(cat), core: c}, nil
}

// noSuchProcedure says that no method answers to name, and how to find
// the names that do. curie: name came where CURIEs are expanded (a CALL's
// procURI), so a prefix:rest name may lack its PREFIX. It quotes at most
// 200 bytes of the client's name (clip), which it quotes twice.
func noSuchProcedure(name string, curie bool) string {
	name = clip(name)
	hint := ""
	if i := strings.IndexByte(name, ':'); curie && i > 0 && !strings.HasPrefix(name[i:], "://") {
		hint = fmt.Sprintf("; if %q is a CURIE, declare its prefix %q with PREFIX first", name, name[:i])
	}
	return fmt.Sprintf("no such procedure %q: no method of the upstream answers to that name%s; "+
		"call %s (or GET /procedures) for the names this bridge serves: a method's full name pkg.Service.Method, "+
		"its gRPC path /pkg.Service/Method, or a URI from its bridge.v1.procedure option",
		name, hint, ProcedureList)
}

func (c *Core) codecFor(cat *upstream.Catalog) *transcode.Codec {
	if cc := c.codec.Load(); cc != nil && cc.catalog == cat {
		return cc.codec
	}
	cc := &catalogCodec{catalog: cat, codec: transcode.New(cat.Types(), c.opts)}
	c.codec.Store(cc)
	return cc.codec
}

// Name returns the procedure name as the caller wrote it (after CURIE
// expansion).
func (p *Procedure) Name() string { return p.name }

// Method returns the gRPC method's full name, e.g. "demo.v1.ClockService.GetTime".
func (p *Procedure) Method() string { return p.method.FullName }

// Streaming reports whether the method streams its responses, so that a
// front end delivers them as progressive results rather than one result.
func (p *Procedure) Streaming() bool { return p.method.Kind.ServerStreams() }

// Call runs the procedure: args become the request (see [transcode.Codec.Request]),
// the request is sent and the request side closed, and emit receives each
// response as JSON, in order, as soon as it arrives. A unary or
// client-streaming method emits exactly once on success.
//
// emit may block: while it does, no further response is read, so a slow
// consumer slows the upstream through gRPC flow control. The slice passed to
// emit is valid only until emit returns (the next response reuses it): a
// receiver that keeps it must copy it, and must not modify it (a built-in's
// JSON is shared, see rendered). If emit returns an error the call is
// cancelled and Call returns that error.
//
// Call returns nil when the call ended with OK, else an error that
// [Core.Failure] renders. A panic inside the call becomes INTERNAL.
func (p *Procedure) Call(ctx context.Context, args []json.RawMessage, emit func(json.RawMessage) error) (err error) {
	if p.local != nil {
		return p.callLocal(args, emit)
	}
	ctx, emit, done := p.core.limit(ctx, p, emit)
	defer func() { err = done(err) }()
	defer func() {
		if r := recover(); r != nil {
			p.core.logger.Error("panic in call", "procedure", p.name, "method", p.method.FullName, "panic", r)
			err = status.Errorf(codes.Internal, "procedure %q: internal error", p.name)
		}
	}()
	var recvErr error // an error of ours, which Call returns as is
	// buf holds each response's JSON in turn: emit may not keep it.
	bufp := buffers.Get().(*[]byte)
	buf := (*bufp)[:0]
	defer func() { putBuffer(bufp, buf) }()
	limit := int(p.core.maxResult.Load())
	recv := func(r *upstream.Response) error {
		b, ok, err := p.codec.AppendWireLimit(buf[:0], r.Desc(), r.Bytes(), limit)
		if !ok && err == nil {
			// The fast path gave up: decode and render as protojson does,
			// which answers the same or fails as before.
			m, derr := r.Message()
			if derr != nil {
				recvErr = status.Errorf(codes.Internal, "procedure %q: %s", p.name, status.Convert(derr).Message())
				return recvErr
			}
			if b, derr = p.codec.AppendResponse(b, m); derr != nil {
				recvErr = status.Errorf(codes.Internal, "procedure %q: cannot render response %s as JSON: %v",
					p.name, r.Desc().FullName(), derr)
				return recvErr
			}
			err = transcode.CheckLimit(b, r.Desc(), r.Bytes(), limit)
		}
		if err != nil {
			recvErr = status.Errorf(codes.ResourceExhausted,
				"procedure %q: %v, the bridge's limit for one result: ask for less at a time, or ask the operator to raise the limit",
				p.name, err)
			return recvErr
		}
		buf = b
		recvErr = emit(b)
		return recvErr
	}
	// The request's wire bytes have a buffer of their own: gRPC may still
	// hold them, to write or to retry, while responses arrive.
	reqp := buffers.Get().(*[]byte)
	reqBuf := (*reqp)[:0]
	defer func() { putBuffer(reqp, reqBuf) }()
	var ok bool
	var req proto.Message
	if reqBuf, ok = p.codec.AppendRequestWire(reqBuf, p.method.Desc.Input(), args); !ok {
		if req, err = p.codec.Request(p.name, p.method.Desc.Input(), args); err != nil {
			return err
		}
		if p.core.maxSend > 0 {
			// The check below needs the request's size: encode it here,
			// as gRPC's proto codec would have, and send the bytes.
			if reqBuf, err = (proto.MarshalOptions{}).MarshalAppend(reqBuf, req); err != nil {
				return status.Errorf(codes.Internal, "procedure %q: cannot encode the request %s: %v",
					p.name, p.method.Desc.Input().FullName(), err)
			}
			ok = true
		}
	}
	if limit := p.core.maxSend; limit > 0 && len(reqBuf) > limit {
		// Refused here rather than by gRPC's client, whose words a gRPC
		// server uses for a response over its own limit.
		return status.Errorf(codes.ResourceExhausted,
			"procedure %q: the request to %s is %d bytes once encoded, more than the %d bytes the bridge sends its upstream in one message: the call was not sent; send less, or have the operator raise -upstream-max-send-size (bridge.WithUpstreamMessageLimits and grpc.MaxCallSendMsgSize of an embedded Handler's connection)",
			p.name, p.method.FullName, len(reqBuf), limit)
	}
	// A call counts against the core's limit from here, where it goes
	// upstream: arguments that do not fit are refused as such at any load.
	if err := p.core.admit(p); err != nil {
		return err
	}
	defer p.core.release()
	if ok {
		err = upstream.CallWire(ctx, p.core.up.Conn(), p.method, reqBuf, recv)
	} else {
		err = upstream.Call(ctx, p.core.up.Conn(), p.method, req, recv)
	}
	if err != nil && !errors.Is(err, recvErr) {
		// Explain asks for the request's size only when it needs it.
		size := func() int {
			if ok {
				return len(reqBuf)
			}
			return proto.Size(req)
		}
		if msg, withheld := upstream.Explain(err, p.method, p.core.maxRecv, size); msg != "" {
			// grpc-go's client made this failure: say what it means for
			// this procedure, keeping its code.
			if withheld {
				p.core.unreachable(p, err)
			}
			return status.Error(status.Code(err), fmt.Sprintf("procedure %q: %s", p.name, msg))
		}
	}
	if err != nil && !errors.Is(err, recvErr) && status.Code(err) == codes.Unimplemented {
		// The upstream no longer has a method its schema listed: it was
		// probably redeployed. Load the schema again (in the background,
		// coalesced with other triggers, at most once per cooldown). The
		// operator hears of it: a descriptor set stays stale however
		// often it is loaded.
		p.core.staleLog.Do(func() {
			p.core.logger.Warn("the upstream answered UNIMPLEMENTED for a method its schema lists: reloading the schema; if the upstream lacks the method and the schema is a -descriptor-set, update the file",
				"method", p.method.FullName, "source", p.core.up.Source(), "error", status.Convert(err).Message())
		})
		p.core.up.RefreshStale()
	}
	return err
}

// buffers hold the requests and the JSON of responses between calls.
var buffers = sync.Pool{New: func() any { return new([]byte) }}

// maxPooledBuffer bounds the buffers kept for reuse.
const maxPooledBuffer = 64 << 10

// putBuffer gives b, grown or not from the buffer bp held, back to the
// pool, once nothing refers to it any more.
func putBuffer(bp *[]byte, b []byte) {
	if cap(b) <= maxPooledBuffer {
		*bp = b[:0]
		buffers.Put(bp)
	}
}

// Failure renders err as the wire's failure. It returns nil for nil. Errors
// that are not gRPC statuses (nor context errors) are logged here and reach
// the client only as INTERNAL "internal error".
func (c *Core) Failure(err error) *Failure {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); !ok && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
		c.logger.Error("call failed", "error", err)
	}
	codec := c.fallback
	if cat := c.up.Catalog(); cat != nil {
		codec = c.codecFor(cat)
	}
	if f := codec.Failure(err); f != nil {
		return f
	}
	// A non-nil error that carries status OK is a bug somewhere upstream of
	// here; the call still has to end with a failure.
	c.logger.Error("call failed with status OK", "error", err)
	return codec.Failure(status.Error(codes.Internal, "internal error"))
}

// Errorf returns a status error with the given code, for front ends that
// refuse a call themselves (duplicate call id, too many calls in flight).
func Errorf(code codes.Code, format string, a ...any) error {
	return status.Error(code, fmt.Sprintf(format, a...))
}

// WithMetadata returns ctx carrying md as the outgoing gRPC metadata of the
// calls made with it, replacing any it carried. Keys must be lower case.
func WithMetadata(ctx context.Context, md map[string][]string) context.Context {
	return metadata.NewOutgoingContext(ctx, metadata.MD(md))
}
