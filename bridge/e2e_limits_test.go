package bridge_test

// Limits of the whole bridge: -max-sessions and -max-upstream-calls; and
// the message sizes of the connection to the upstream.

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding/gzip"
	"google.golang.org/grpc/stats"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/wampbridge/grpcwamp/bridge"
	"github.com/wampbridge/grpcwamp/bridge/internal/bridgetest"
	bridgetestv1 "github.com/wampbridge/grpcwamp/gen/bridgetest/v1"
)

// TestE2EMaxSessions: with WithMaxSessions(2), two sessions are served and
// a third handshake is refused with 503 naming the limit, before any
// upgrade; the sessions already open go on; once one of them has closed,
// a new handshake is accepted again.
func TestE2EMaxSessions(t *testing.T) {
	t.Parallel()
	e := start(t, bridgetest.DescriptorSet, bridge.WithMaxSessions(2))
	c1 := e.connect(t, "")
	c2 := e.connect(t, "")

	code, body := bridgetest.DialRefused(t, e.b.URL, "wamp")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "at most 2 ") {
		t.Fatalf("third handshake: %d %q, want 503 naming the limit 2", code, body)
	}
	c1.Sync(t)
	c2.Sync(t)

	// The slot is released when the handler's session goroutine returns,
	// after the close handshake: nothing the client sees orders the two,
	// and the handler exposes no event for it. So redial, bounded by
	// bridgetest.Timeout, accepting only the same refusal until the
	// handshake succeeds, as bridgetest polls /readyz.
	c1.Close()
	c3 := dialUntilAdmitted(t, e.b.URL)
	defer c3.Close()
	if _, _, err := c3.ReadMessage(); err != nil {
		t.Fatalf("read WELCOME after a slot was freed: %v", err)
	}
	c2.Sync(t)
	code, body = bridgetest.DialRefused(t, e.b.URL, "wamp")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "at most 2 ") {
		t.Fatalf("handshake beyond the limit again: %d %q, want 503 naming the limit 2", code, body)
	}
}

// dialUntilAdmitted dials url until the handshake is accepted, failing the
// test on any refusal but the max-sessions 503 or after bridgetest.Timeout.
func dialUntilAdmitted(t *testing.T, url string) *websocket.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), bridgetest.Timeout)
	defer cancel()
	d := websocket.Dialer{Subprotocols: []string{"wamp"}, HandshakeTimeout: bridgetest.Timeout}
	backoff := time.Millisecond
	for {
		ws, resp, err := d.DialContext(ctx, url, nil)
		if err == nil {
			return ws
		}
		if !errors.Is(err, websocket.ErrBadHandshake) || resp == nil {
			t.Fatalf("dial %s: %v", url, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), "max sessions") {
			t.Fatalf("dial %s: %d %q, want 101 or the max-sessions 503", url, resp.StatusCode, body)
		}
		timer := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			timer.Stop()
			t.Fatalf("dial %s: still refused after %v though a session closed: %q", url, bridgetest.Timeout, body)
		case <-timer.C:
		}
		backoff = min(2*backoff, 20*time.Millisecond)
	}
}

// TestE2EMaxSessionsUnlimited: WithMaxSessions(0) sets no limit.
func TestE2EMaxSessionsUnlimited(t *testing.T) {
	t.Parallel()
	e := start(t, bridgetest.DescriptorSet, bridge.WithMaxSessions(0))
	for range 3 {
		e.connect(t, "").Sync(t)
	}
}

// TestE2EMaxUpstreamCalls: the limit of upstream calls holds across
// sessions. With a limit of 2 and two sessions each running a call, a
// third session's call is refused with RESOURCE_EXHAUSTED naming the limit,
// a call whose arguments do not fit still gets INVALID_ARGUMENT, the
// built-ins still answer, and once a call ends a new one runs; a
// failed or refused call gives its place back.
func TestE2EMaxUpstreamCalls(t *testing.T) {
	t.Parallel()
	e := start(t, bridgetest.Reflection, bridge.WithMaxUpstreamCalls(2))
	a, b, c := e.connect(t, "?stream=collect"), e.connect(t, "?stream=collect"), e.connect(t, "")
	tags := []string{t.Name() + "/a", t.Name() + "/b"}
	for i, s := range []*bridgetest.Client{a, b} {
		s.Send(t, fmt.Sprintf(`[2,"block",%q,{"block":true,"tag":%q}]`, streamProc, tags[i]))
		if err := e.svc.WaitBlocked(t.Context(), tags[i]); err != nil {
			t.Fatal(err)
		}
	}
	c.Send(t, fmt.Sprintf(`[2,"third",%q,"x"]`, echoProc))
	ce := c.ExpectCallError(t, "third", 8)
	for _, want := range []string{echoProc, "limit of 2 upstream calls", "all clients together", "retry later"} {
		if !strings.Contains(ce.Desc, want) {
			t.Errorf("errorDesc %q does not contain %q", ce.Desc, want)
		}
	}
	// Arguments that do not fit are refused as such at the limit too.
	c.Send(t, fmt.Sprintf(`[2,"bad",%q,{"nope":1}]`, echoProc))
	c.ExpectCallError(t, "bad", 3)
	c.Send(t, `[2,"list","wamp.reflection.procedure.list"]`)
	if f := c.Read(t); !strings.HasPrefix(string(f), `[3,"list",`) {
		t.Errorf("built-in list at the limit: got %s, want a CALLRESULT", f)
	}
	if got := bridge.UpstreamCalls(e.b.Handler); got != 2 {
		t.Errorf("upstream calls after a refusal: %d, want 2", got)
	}

	e.svc.Release(tags[0])
	a.ExpectFrame(t, `[3,"block",[]]`)
	c.Send(t, fmt.Sprintf(`[2,"fail",%q,3,"no"]`, failProc))
	c.ExpectCallError(t, "fail", 3)
	c.Send(t, fmt.Sprintf(`[2,"fourth",%q,"x"]`, echoProc))
	c.ExpectFrame(t, echoResult(t, "fourth", `{"text":"x"}`, ""))
	e.svc.Release(tags[1])
	b.ExpectFrame(t, `[3,"block",[]]`)
	for _, s := range []*bridgetest.Client{a, b, c} {
		s.Sync(t)
	}
	if got := bridge.UpstreamCalls(e.b.Handler); got != 0 {
		t.Errorf("upstream calls after every call ended: %d, want 0", got)
	}
}

// TestE2EMaxResultSize: a response whose JSON would be larger than
// WithMaxResultSize fails its call with RESOURCE_EXHAUSTED naming the
// procedure, the message type and the limit, whether the fast path
// renders it or gives up on it (an Any) and protojson does; smaller ones
// pass, and the session goes on.
func TestE2EMaxResultSize(t *testing.T) {
	t.Parallel()
	const limit = 1024
	e := start(t, bridgetest.Reflection, bridge.WithMaxResultSize(limit))
	c := e.connect(t, "")
	// base: the result's JSON for a text of no bytes.
	c.Send(t, fmt.Sprintf(`[2,"small",%q,"x"]`, echoProc))
	small := c.Read(t)
	base := len(small) - len(`[3,"small",]`) - 1
	text := strings.Repeat("x", limit-base-20)
	c.Send(t, fmt.Sprintf(`[2,"fits",%q,{"text":%q}]`, echoProc, text))
	c.ExpectFrame(t, echoResult(t, "fits", fmt.Sprintf(`{"text":%q}`, text), ""))
	for _, tc := range []struct{ name, text, kind string }{
		{"fast path", strings.Repeat("x", limit), ""},
		// The request fits, the Any it adds does not: the fast path
		// gives up on the Any, protojson renders it all.
		{"protojson", text, "known"},
	} {
		c.Send(t, fmt.Sprintf(`[2,"big",%q,{"text":%q,"anyKind":%q}]`, echoProc, tc.text, tc.kind))
		ce := c.ExpectCallError(t, "big", 8)
		for _, want := range []string{echoProc, "bridgetest.v1.EchoResponse", fmt.Sprintf("more than %d bytes of JSON", limit), "limit for one result"} {
			if !strings.Contains(ce.Desc, want) {
				t.Errorf("%s: errorDesc %q does not contain %q", tc.name, ce.Desc, want)
			}
		}
	}
	c.Send(t, fmt.Sprintf(`[2,"again",%q,"y"]`, echoProc))
	c.ExpectFrame(t, echoResult(t, "again", `{"text":"y"}`, ""))
}

// TestE2EUpstreamMessageSizes: a response larger than the receive limit of
// the bridge's connection to the upstream (-upstream-max-recv-size), and a
// request larger than its send limit (-upstream-max-send-size), fail the
// call with RESOURCE_EXHAUSTED whose message names the procedure as the
// client wrote it, the method, the size, the limit and the setting to
// raise, in place of grpc-go's "grpc: received message larger than max (N
// vs. M)" (the bridge refuses the request itself); smaller ones pass, and
// the session goes on.
func TestE2EUpstreamMessageSizes(t *testing.T) {
	t.Parallel()
	const recvLimit, sendLimit = 64 << 10, 256 << 10 // room for reflection's answers
	limits := []grpc.DialOption{grpc.WithDefaultCallOptions(
		grpc.MaxCallRecvMsgSize(recvLimit), grpc.MaxCallSendMsgSize(sendLimit))}
	forEachDiscovery(t, func(t *testing.T, d bridgetest.Discovery) {
		addr, _ := bridgetest.StartUpstream(t, bridgetest.UpstreamOptions{})
		b := bridgetest.StartBridgeDial(t, addr, d, limits, bridge.WithUpstreamMessageLimits(sendLimit, recvLimit))
		b.WaitReady(t)
		c := bridgetest.Dial(t, b.URL, "wamp")
		c.ReadWelcome(t)
		for _, tc := range []struct {
			name, procedure string
			text            int // bytes of the Echo's text
			want            func(req *bridgetestv1.EchoRequest) []string
		}{
			{"response over the receive limit", echoProc, 100 << 10, func(req *bridgetestv1.EchoRequest) []string {
				resp := proto.Size(&bridgetestv1.EchoResponse{Request: req})
				return []string{fmt.Sprintf("response to %s is %d bytes, more than the %d bytes", echoProc, resp, recvLimit),
					"-upstream-max-recv-size", "ask for less"}
			}},
			{"by its procedure URI", "http://example.com/test#echo", 100 << 10, func(req *bridgetestv1.EchoRequest) []string {
				return []string{"response to " + echoProc, "-upstream-max-recv-size"}
			}},
			{"request over the send limit", echoProc, 300 << 10, func(req *bridgetestv1.EchoRequest) []string {
				return []string{fmt.Sprintf("request to %s is %d bytes once encoded, more than the %d bytes", echoProc, proto.Size(req), sendLimit),
					"the call was not sent", "-upstream-max-send-size"}
			}},
		} {
			text := strings.Repeat("x", tc.text)
			c.Send(t, fmt.Sprintf(`[2,"big",%q,{"text":%q}]`, tc.procedure, text))
			ce := c.ExpectCallError(t, "big", 8)
			for _, w := range append(tc.want(&bridgetestv1.EchoRequest{Text: text}), fmt.Sprintf("procedure %q: ", tc.procedure)) {
				if !strings.Contains(ce.Desc, w) {
					t.Errorf("%s: errorDesc %q does not contain %q", tc.name, ce.Desc, w)
				}
			}
		}
		c.Send(t, fmt.Sprintf(`[2,"small",%q,"y"]`, echoProc))
		c.ExpectFrame(t, echoResult(t, "small", `{"text":"y"}`, ""))
	})
}

// TestE2EUpstreamOwnMessageSizes: when the upstream's own server refuses a
// request over its receive limit, or a response over its send limit, the
// client gets the upstream's RESOURCE_EXHAUSTED as the upstream wrote it,
// although grpc-go's server uses the words of its client: the bridge must
// not blame its own settings for them, even for a response exactly as
// large as the request, with a send limit of its own.
func TestE2EUpstreamOwnMessageSizes(t *testing.T) {
	t.Parallel()
	const recvLimit, sendLimit = 128 << 10, 64 << 10
	const bridgeSendLimit = 256 << 10
	forEachDiscovery(t, func(t *testing.T, d bridgetest.Discovery) {
		addr, _ := bridgetest.StartUpstream(t, bridgetest.UpstreamOptions{
			Server: []grpc.ServerOption{grpc.MaxRecvMsgSize(recvLimit), grpc.MaxSendMsgSize(sendLimit)}})
		b := bridgetest.StartBridgeDial(t, addr, d,
			[]grpc.DialOption{grpc.WithDefaultCallOptions(grpc.MaxCallSendMsgSize(bridgeSendLimit))},
			bridge.WithUpstreamMessageLimits(bridgeSendLimit, 0))
		b.WaitReady(t)
		c := bridgetest.Dial(t, b.URL, "wamp")
		c.ReadWelcome(t)

		// A request the upstream will not read.
		text := strings.Repeat("x", 200<<10)
		req := &bridgetestv1.EchoRequest{Text: text}
		c.Send(t, fmt.Sprintf(`[2,"in",%q,{"text":%q}]`, echoProc, text))
		c.ExpectFrame(t, callError("in", 8,
			fmt.Sprintf("grpc: received message larger than max (%d vs. %d)", proto.Size(req), recvLimit)))

		// A request within the upstream's limits whose response is not:
		// the response is the request and a few bytes more.
		text = strings.Repeat("x", sendLimit-6)
		req = &bridgetestv1.EchoRequest{Text: text}
		resp := proto.Size(&bridgetestv1.EchoResponse{Request: req})
		if proto.Size(req) > sendLimit || resp <= sendLimit {
			t.Fatalf("test bug: request %d, response %d bytes; want the limit %d between them", proto.Size(req), resp, sendLimit)
		}
		c.Send(t, fmt.Sprintf(`[2,"out",%q,{"text":%q}]`, echoProc, text))
		c.ExpectFrame(t, callError("out", 8,
			fmt.Sprintf("trying to send message larger than max (%d vs. %d)", resp, sendLimit)))

		// A response exactly as large as its request: Chat answers each
		// text with the text and an index, as a request carries a repeat.
		text = strings.Repeat("x", sendLimit)
		chatReq := proto.Size(&bridgetestv1.ChatRequest{Text: text, Repeat: 1})
		chatResp := proto.Size(&bridgetestv1.ChatResponse{Text: text, Index: 1})
		if chatReq != chatResp || chatReq <= sendLimit || chatReq > recvLimit {
			t.Fatalf("test bug: request %d, response %d bytes; want them equal, over %d and within %d", chatReq, chatResp, sendLimit, recvLimit)
		}
		c.Send(t, fmt.Sprintf(`[2,"same",%q,{"text":%q,"repeat":1}]`, chatProc, text))
		c.ExpectFrame(t, callError("same", 8,
			fmt.Sprintf("trying to send message larger than max (%d vs. %d)", chatResp, sendLimit)))
		c.Sync(t)
	})
}

// TestE2EUpstreamOwnReceiveLimitCompressed: a connection that compresses
// requests (an embedding program's grpc.UseCompressor) has the upstream
// refuse a request over its receive limit naming the compressed size,
// which is not the request's; the limit it names is not the bridge's, so
// the client gets the upstream's words unchanged.
func TestE2EUpstreamOwnReceiveLimitCompressed(t *testing.T) {
	t.Parallel()
	const recvLimit = 128 << 10
	addr, _ := bridgetest.StartUpstream(t, bridgetest.UpstreamOptions{
		Server: []grpc.ServerOption{grpc.MaxRecvMsgSize(recvLimit)}})
	b := bridgetest.StartBridgeDial(t, addr, bridgetest.DescriptorSet,
		[]grpc.DialOption{grpc.WithDefaultCallOptions(grpc.UseCompressor(gzip.Name))})
	b.WaitReady(t)
	c := bridgetest.Dial(t, b.URL, "wamp")
	c.ReadWelcome(t)
	// Base64 of random bytes: gzip takes a quarter off, no more, so the
	// compressed request is still over the upstream's limit.
	raw := make([]byte, 200<<10)
	rng := rand.NewChaCha8([32]byte{})
	rng.Read(raw)
	text := base64.StdEncoding.EncodeToString(raw)
	c.Send(t, fmt.Sprintf(`[2,"in",%q,{"text":%q}]`, echoProc, text))
	ce := c.ExpectCallError(t, "in", 8)
	var n, limit int
	if _, err := fmt.Sscanf(ce.Desc, "grpc: received message larger than max (%d vs. %d)", &n, &limit); err != nil ||
		ce.Desc != fmt.Sprintf("grpc: received message larger than max (%d vs. %d)", n, limit) {
		t.Fatalf("errorDesc %q, want the upstream's words unchanged", ce.Desc)
	}
	if req := proto.Size(&bridgetestv1.EchoRequest{Text: text}); limit != recvLimit || n == req {
		t.Errorf("errorDesc %q: want the upstream's limit %d and a compressed size, not the request's %d", ce.Desc, recvLimit, req)
	}
	c.Sync(t)
}

// TestE2EUpstreamSendLimit: with WithUpstreamMessageLimits, the bridge
// refuses a request whose encoding is over the send limit itself, with
// RESOURCE_EXHAUSTED naming the procedure, the method, the size, the
// limit and the flag to raise, and no call reaches the upstream, whatever
// the method's kind and whether the request was encoded on the fast path
// or through protojson (a Struct); a request of the limit's size passes.
func TestE2EUpstreamSendLimit(t *testing.T) {
	t.Parallel()
	const limit = 64 << 10
	calls := new(callCounter)
	addr, svc := bridgetest.StartUpstream(t, bridgetest.UpstreamOptions{
		Server: []grpc.ServerOption{grpc.StatsHandler(calls)}})
	b := bridgetest.StartBridgeDial(t, addr, bridgetest.DescriptorSet,
		[]grpc.DialOption{grpc.WithDefaultCallOptions(grpc.MaxCallSendMsgSize(limit))},
		bridge.WithUpstreamMessageLimits(limit, 0))
	b.WaitReady(t)
	c := bridgetest.Dial(t, b.URL, "wamp")
	c.ReadWelcome(t)
	text := strings.Repeat("x", limit)
	extra, err := structpb.NewStruct(map[string]any{"k": "v"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, procedure, args string
		req                   proto.Message
	}{
		{"unary", echoProc, fmt.Sprintf(`{"text":%q}`, text), &bridgetestv1.EchoRequest{Text: text}},
		{"unary, through protojson", echoProc, fmt.Sprintf(`{"text":%q,"extra":{"k":"v"}}`, text),
			&bridgetestv1.EchoRequest{Text: text, Extra: extra}},
		{"server streaming", streamProc, fmt.Sprintf(`{"tag":%q,"count":1}`, text), &bridgetestv1.StreamRequest{Tag: text, Count: 1}},
		{"client streaming", sumProc, fmt.Sprintf(`{"numbers":[%s1]}`, strings.Repeat("1,", limit)),
			&bridgetestv1.SumRequest{Numbers: slices.Repeat([]int64{1}, limit+1)}},
		{"bidi streaming", chatProc, fmt.Sprintf(`{"text":%q,"repeat":1}`, text), &bridgetestv1.ChatRequest{Text: text, Repeat: 1}},
	} {
		c.Send(t, fmt.Sprintf(`[2,"big",%q,%s]`, tc.procedure, tc.args))
		ce := c.ExpectCallError(t, "big", 8)
		want := fmt.Sprintf("procedure %q: the request to %s is %d bytes once encoded, more than the %d bytes the bridge sends its upstream in one message: the call was not sent; send less, or have the operator raise -upstream-max-send-size",
			tc.procedure, tc.procedure, proto.Size(tc.req), limit)
		if !strings.HasPrefix(ce.Desc, want) {
			t.Errorf("%s: errorDesc %q, want it to start with %q", tc.name, ce.Desc, want)
		}
	}
	// A request of the limit's size is sent, and reaches the upstream.
	overhead := proto.Size(&bridgetestv1.EchoRequest{Text: text}) - len(text)
	fits := text[:limit-overhead]
	if n := proto.Size(&bridgetestv1.EchoRequest{Text: fits}); n != limit {
		t.Fatalf("test bug: request of %d bytes, want %d", n, limit)
	}
	c.Send(t, fmt.Sprintf(`[2,"fits",%q,{"text":%q}]`, echoProc, fits))
	c.ExpectFrame(t, echoResult(t, "fits", fmt.Sprintf(`{"text":%q}`, fits), ""))
	if got := calls.n.Load(); got != 1 || svc.EchoCalls() != 1 {
		t.Errorf("the upstream saw %d calls, its Echo %d; want only the one that fits", got, svc.EchoCalls())
	}
}

// callCounter counts the calls of TestService that reach the upstream's
// server, whether its handler runs or not, as a stats handler sees them.
type callCounter struct{ n atomic.Int64 }

func (c *callCounter) TagRPC(ctx context.Context, info *stats.RPCTagInfo) context.Context {
	if strings.HasPrefix(info.FullMethodName, "/bridgetest.v1.TestService/") {
		c.n.Add(1)
	}
	return ctx
}

func (*callCounter) HandleRPC(context.Context, stats.RPCStats) {}

func (*callCounter) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context { return ctx }

func (*callCounter) HandleConn(context.Context, stats.ConnStats) {}
