package bridge_test

// §4 of PROTOCOL.md: topics fed by a gRPC server-streaming method.

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wampbridge/grpcwamp/bridge"
	"github.com/wampbridge/grpcwamp/bridge/internal/bridgetest"
)

// readTick reads one frame from p, which must be an EVENT of topic carrying
// a message of a Stream call with tag, and returns the message's index.
func readTick(t *testing.T, p peer, topic, tag string) int {
	t.Helper()
	f := p.ReadFrame(t)
	var msg struct {
		Index int    `json:"index"`
		Tag   string `json:"tag"`
	}
	var gotTopic string
	if f.Type() != 8 || len(f) != 3 || json.Unmarshal(f[1], &gotTopic) != nil || gotTopic != topic ||
		json.Unmarshal(f[2], &msg) != nil || msg.Tag != tag {
		t.Fatalf("got %s, want an EVENT of %q with tag %q", f.Raw(), topic, tag)
	}
	return msg.Index
}

// expectTicks reads n EVENTs of topic from p and checks that they are
// consecutive messages of one Stream call with tag; it returns the last
// index.
func expectTicks(t *testing.T, p peer, topic, tag string, n int) int {
	t.Helper()
	last := 0
	for range n {
		i := readTick(t, p, topic, tag)
		if last != 0 && i != last+1 {
			t.Fatalf("got the EVENT of %q with index %d, want index %d", topic, i, last+1)
		}
		last = i
	}
	return last
}

// ticksBeyond reads the EVENTs of topic that follow the one with index
// last, checking that they are consecutive messages of the same Stream
// call with tag, until one has an index above beyond; it returns that
// index.
func ticksBeyond(t *testing.T, p peer, topic, tag string, last, beyond int) int {
	t.Helper()
	for last <= beyond {
		i := readTick(t, p, topic, tag)
		if i != last+1 {
			t.Fatalf("got the EVENT of %q with index %d, want index %d (the same stream, uninterrupted)", topic, i, last+1)
		}
		last = i
	}
	return last
}

// unsubscribeSynced sends UNSUBSCRIBE for topic and returns once the bridge
// has processed it: a session handles its frames in order, so the CALLRESULT
// of a CALL sent after it shows it done. EVENTs of topic that arrive
// meanwhile (queued before it) are skipped.
func unsubscribeSynced(t *testing.T, p peer, topic string) {
	t.Helper()
	p.Send(t, fmt.Sprintf(`[6,%q]`, topic))
	const id = "after-unsubscribe"
	p.Send(t, fmt.Sprintf(`[2,%q,"bridgetest.v1.TestService.Echo",{"text":%q}]`, id, id))
	for {
		f := p.ReadFrame(t)
		var gotTopic string
		switch {
		case f.Type() == 8 && len(f) == 3 && json.Unmarshal(f[1], &gotTopic) == nil && gotTopic == topic:
			continue
		case f.Type() == 3 && f.CallID() == id:
			return
		}
		t.Fatalf("got %s, want an EVENT of %q or the CALLRESULT of %q", f.Raw(), topic, id)
	}
}

// leave closes p's socket with a close handshake and returns once the
// bridge has closed the connection: the session ends its subscriptions
// before it closes the socket, so they are gone by then.
func leave(t *testing.T, p peer) {
	t.Helper()
	defer p.Close()
	if err := p.Conn.WriteControl(websocket.CloseMessage,
		websocket.FormatCloseMessage(websocket.CloseNormalClosure, "leaving"), time.Now().Add(bridgetest.Timeout)); err != nil {
		t.Fatalf("send close: %v", err)
	}
	// Whatever was still on its way (EVENTs, the close reply) is read
	// past, raw, up to the end of the connection.
	nc := p.Conn.UnderlyingConn()
	if err := nc.SetReadDeadline(time.Now().Add(bridgetest.Timeout)); err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(io.Discard, nc); err != nil {
		t.Fatalf("waiting for the bridge to close the connection: %v", err)
	}
}

// TestE2EFedTopic: a fed topic's stream starts with its first subscriber,
// not before; while at least one client is subscribed, the bridge holds
// exactly one upstream stream for the topic, whatever the number of
// subscribers and however many of them leave, and every stream message
// becomes an EVENT for all of them; the last UNSUBSCRIBE cancels the
// stream, and a new subscriber starts a fresh one.
func TestE2EFedTopic(t *testing.T) {
	t.Parallel()
	forEachDiscovery(t, func(t *testing.T, d bridgetest.Discovery) {
		const topic = "com.example.ticks"
		e := start(t, d, bridge.WithFeeds(bridge.Feed{
			Topic:     topic,
			Procedure: streamProc,
			Request:   json.RawMessage(`{"count":1000000,"interval":"0.002s","tag":"ticks"}`),
		}))
		subs := []peer{join(t, e.b.URL), join(t, e.b.URL), join(t, e.b.URL)}
		// The bridge is ready and serves a session, and nobody has
		// subscribed: no stream yet.
		subs[0].Sync(t)
		if calls := e.svc.Calls("ticks"); calls != 0 {
			t.Fatalf("upstream Stream calls before any SUBSCRIBE = %d, want 0", calls)
		}
		// The first subscriber starts the stream, and so gets its first
		// message.
		subs[0].Send(t, fmt.Sprintf(`[5,%q]`, topic))
		if first := readTick(t, subs[0], topic, "ticks"); first != 1 {
			t.Errorf("first event of the stream has index %d, want 1", first)
		}
		for _, p := range subs[1:] {
			p.Send(t, fmt.Sprintf(`[5,%q]`, topic))
		}
		last := make([]int, len(subs))
		for i, p := range subs {
			last[i] = expectTicks(t, p, topic, "ticks", 3)
		}
		if calls, running := e.svc.Calls("ticks"), e.svc.Running("ticks"); calls != 1 || running != 1 {
			t.Fatalf("upstream Stream calls = %d, running = %d; want one for %d subscribers", calls, running, len(subs))
		}

		leave(t, subs[0])                    // a session's end removes its subscription
		unsubscribeSynced(t, subs[1], topic) // so does UNSUBSCRIBE
		// subs[2] remains: it goes on receiving the same stream, including
		// messages sent after both departures had been processed.
		sent := e.svc.Sent("ticks")
		ticksBeyond(t, subs[2], topic, "ticks", last[2], sent)
		if calls, running, canceled := e.svc.Calls("ticks"), e.svc.Running("ticks"), e.svc.Canceled("ticks"); calls != 1 || running != 1 || canceled {
			t.Fatalf("with one subscriber left: upstream Stream calls = %d, running = %d, cancelled = %v; want the first stream, still running",
				calls, running, canceled)
		}

		subs[2].Send(t, fmt.Sprintf(`[6,%q]`, topic)) // the last one
		if err := e.svc.WaitCanceled(t.Context(), "ticks"); err != nil {
			t.Fatal(err)
		}
		again := join(t, e.b.URL)
		again.Send(t, fmt.Sprintf(`[5,%q]`, topic))
		if first := expectTicks(t, again, topic, "ticks", 1); first != 1 {
			t.Errorf("first event of the new stream has index %d, want 1", first)
		}
		if calls := e.svc.Calls("ticks"); calls != 2 {
			t.Errorf("upstream Stream calls = %d, want 2 (one per period with subscribers)", calls)
		}
	})
}

// TestE2EFedTopicRestart: a fed stream that fails is restarted, with
// backoff, while subscribers remain.
func TestE2EFedTopicRestart(t *testing.T) {
	t.Parallel()
	e := start(t, bridgetest.Reflection, bridge.WithFeeds(bridge.Feed{
		Topic:     "com.example.flaky",
		Procedure: streamProc,
		Request:   json.RawMessage(`{"count":1,"failCode":14,"tag":"flaky"}`),
	}))
	p := join(t, e.b.URL)
	p.Send(t, `[5,"com.example.flaky"]`)
	for range 3 { // each stream sends one message, then fails
		p.ExpectFrame(t, `[8,"com.example.flaky",{"index":1,"tag":"flaky"}]`)
	}
	if calls := e.svc.Calls("flaky"); calls < 3 {
		t.Errorf("upstream Stream calls = %d, want at least 3", calls)
	}
}

// TestE2EFedTopicPattern: one binding with a placeholder serves many
// topics, each with a stream of its own whose request carries the matched
// text.
func TestE2EFedTopicPattern(t *testing.T) {
	t.Parallel()
	e := start(t, bridgetest.Reflection, bridge.WithFeeds(bridge.Feed{
		Topic:     "ticker.{tag}",
		Procedure: streamProc,
		Request:   json.RawMessage(`{"count":1000000,"interval":"0.002s"}`),
	}))
	a, b := join(t, e.b.URL), join(t, e.b.URL)
	a.Send(t, `[5,"ticker.AAPL"]`)
	b.Send(t, `[1,"t","ticker."]`)
	b.Send(t, `[5,"t:MSFT"]`)
	expectTicks(t, a, "ticker.AAPL", "AAPL", 3)
	expectTicks(t, b, "ticker.MSFT", "MSFT", 3)
	for _, tag := range []string{"AAPL", "MSFT"} {
		if calls := e.svc.Calls(tag); calls != 1 {
			t.Errorf("upstream Stream calls for %s = %d, want 1", tag, calls)
		}
	}
}

// TestParseFeed: the -feed flag's form.
func TestParseFeed(t *testing.T) {
	t.Parallel()
	f, err := bridge.ParseFeed(`clock demo.v1.ClockService.GetProgressiveTime {"count":3}`)
	if err != nil || f.Topic != "clock" || f.Procedure != "demo.v1.ClockService.GetProgressiveTime" || string(f.Request) != `{"count":3}` {
		t.Errorf("ParseFeed = %+v, %v", f, err)
	}
	if _, err := bridge.ParseFeed(`lonely`); err == nil {
		t.Error("ParseFeed(lonely) succeeded, want an error")
	}
}

// TestE2EFedTopicStreamLimit: with WithMaxFeedStreams(1) (-max-feed-streams),
// a second placeholder topic makes no upstream call while the first one's
// stream runs, and is fed once that topic loses its subscriber.
func TestE2EFedTopicStreamLimit(t *testing.T) {
	t.Parallel()
	e := start(t, bridgetest.Reflection, bridge.WithMaxFeedStreams(1), bridge.WithFeeds(bridge.Feed{
		Topic:     "ticker.{tag}",
		Procedure: streamProc,
		Request:   json.RawMessage(`{"count":1000000,"interval":"0.002s"}`),
	}))
	a, b := join(t, e.b.URL), join(t, e.b.URL)
	a.Send(t, `[5,"ticker.AAPL"]`)
	expectTicks(t, a, "ticker.AAPL", "AAPL", 3)
	b.Send(t, `[5,"ticker.MSFT"]`)
	b.Sync(t) // the SUBSCRIBE has been handled
	if calls := e.svc.Calls("MSFT"); calls != 0 {
		t.Fatalf("upstream Stream calls for MSFT = %d while AAPL's stream runs, want 0 (limit 1)", calls)
	}
	a.Send(t, `[6,"ticker.AAPL"]`)
	expectTicks(t, b, "ticker.MSFT", "MSFT", 3)
	if err := e.svc.WaitCanceled(t.Context(), "AAPL"); err != nil {
		t.Fatal(err)
	}
}

// TestE2EFedTopicUpstreamCallLimit: a fed topic's stream counts against
// WithMaxUpstreamCalls like any call. While a session's call holds the only
// place, the stream is refused without reaching the upstream, and the
// warning names the limit; once the call ends the stream starts on its
// next attempt.
func TestE2EFedTopicUpstreamCallLimit(t *testing.T) {
	t.Parallel()
	h := &recordHandler{records: make(chan map[string]string, 100)}
	e := start(t, bridgetest.Reflection, bridge.WithLogger(slog.New(h)), bridge.WithMaxUpstreamCalls(1), bridge.WithFeeds(bridge.Feed{
		Topic:     "ticker.{tag}",
		Procedure: streamProc,
		Request:   json.RawMessage(`{"count":1000000,"interval":"0.002s"}`),
	}))
	a, b := join(t, e.b.URL), join(t, e.b.URL)
	hold := t.Name() + "/hold"
	a.Send(t, fmt.Sprintf(`[2,"hold",%q,{"block":true,"tag":%q}]`, streamProc, hold))
	if err := e.svc.WaitBlocked(t.Context(), hold); err != nil {
		t.Fatal(err)
	}
	b.Send(t, `[5,"ticker.IBM"]`)
	if r := h.next(t, "upstream call limit reached"); r["limit"] != "1" || r["procedure"] != streamProc {
		t.Errorf("warning %v, want limit 1 and procedure %s", r, streamProc)
	}
	if calls := e.svc.Calls("IBM"); calls != 0 {
		t.Fatalf("upstream Stream calls for IBM = %d while another call holds the only place, want 0", calls)
	}
	e.svc.Release(hold)
	expectTicks(t, b, "ticker.IBM", "IBM", 3)
}

// The lines of the feeds' check against each version of the schema, and
// of a feed's stream that failed in a way restarting will not cure.
const (
	msgFeedMisfit = "-feed does not fit the upstream's schema: its topics get no events until it does"
	msgFeedFits   = "-feed fits the upstream's schema now"
	msgFeedFailed = "feed stream failed, restarting, but the failure looks permanent: check the feed's procedure and request (-feed)"
)

// feedChecks reads h's records until stop returns true for one (which is
// not kept unless it is a check line), and returns the lines of the feeds'
// schema check among them, as "LEVEL FEED: PROBLEM".
func feedChecks(t *testing.T, h *recordHandler, stop func(r map[string]string, checks []string) bool) []string {
	t.Helper()
	var checks []string
	for {
		r := h.next(t, "")
		if r["msg"] == msgFeedMisfit || r["msg"] == msgFeedFits {
			checks = append(checks, r["level"]+" "+r["feed"]+": "+r["problem"])
		}
		if stop(r, checks) {
			return checks
		}
	}
}

// TestE2EFeedSchemaCheck: when the schema loads, each feed that does not
// fit it is logged once, before any client subscribes, naming the flag's
// value and what is wrong; the bridge serves all the same (with a
// descriptor set too), and a feed that fits is not logged.
func TestE2EFeedSchemaCheck(t *testing.T) {
	t.Parallel()
	forEachDiscovery(t, func(t *testing.T, d bridgetest.Discovery) {
		h := &recordHandler{records: make(chan map[string]string, 1000)}
		feeds := []string{
			`good.{tag} bridgetest.v1.TestService.Stream {"count":1}`,
			`typo bridgetest.v1.TestService.Streem {"count":1}`,
			`unary bridgetest.v1.TestService.Echo`,
			`ticker.{symbol} bridgetest.v1.TestService.Stream`,
		}
		var opts []bridge.Option
		for _, s := range feeds {
			f, err := bridge.ParseFeed(s)
			if err != nil {
				t.Fatal(err)
			}
			opts = append(opts, bridge.WithFeeds(f))
		}
		e := start(t, d, append(opts, bridge.WithLogger(slog.New(h)))...)
		checks := feedChecks(t, h, func(_ map[string]string, checks []string) bool { return len(checks) == 3 })
		source := "server reflection of "
		if d == bridgetest.DescriptorSet {
			source = "descriptor set "
		}
		streams := "methods with streams: bridgetest.v1.TestService.Chat, bridgetest.v1.TestService.Stream, demo.v1.ClockService.GetProgressiveTime"
		wants := []string{
			`WARN typo bridgetest.v1.TestService.Streem {"count":1}: no method bridgetest.v1.TestService.Streem in the upstream's schema (source ` + source,
			`WARN unary bridgetest.v1.TestService.Echo: method bridgetest.v1.TestService.Echo does not stream its responses (it is unary): a feed needs a server-streaming method; ` + streams,
			`WARN ticker.{symbol} bridgetest.v1.TestService.Stream: placeholder {symbol} is not a field of bridgetest.v1.TestService.Stream's request bridgetest.v1.StreamRequest (fields: count, fail_code, block, tag, interval)`,
		}
		for i, want := range wants {
			if !strings.HasPrefix(checks[i], want) {
				t.Errorf("check line %d:\n%s\nwant it to start with\n%s", i, checks[i], want)
			}
		}
		if !strings.HasSuffix(checks[0], streams) {
			t.Errorf("check line %s: want it to end with %q", checks[0], streams)
		}
		// What subscribers see is unchanged: the good feed feeds.
		p := join(t, e.b.URL)
		p.Send(t, `[5,"good.x"]`)
		p.ExpectFrame(t, `[8,"good.x",{"index":1,"tag":"x"}]`)
	})
}

// TestE2EFeedSchemaCheckPerVersion: the check runs once per version of the
// schema: not per subscription nor per restart of a failing feed, not on a
// reload that finds the schema unchanged, and again on a reload that
// changes it, which also says when a feed has come to fit.
func TestE2EFeedSchemaCheckPerVersion(t *testing.T) {
	t.Parallel()
	addr, _, l := startListed(t, true, testService)
	h := &recordHandler{records: make(chan map[string]string, 1000)}
	b := bridgetest.StartBridge(t, addr, bridgetest.Reflection, bridge.WithSchemaRefresh(0), bridge.WithLogger(slog.New(h)),
		bridge.WithFeeds(
			bridge.Feed{Topic: "clock", Procedure: "demo.v1.ClockService.GetProgressiveTime", Request: json.RawMessage(`{"count":1}`)},
			bridge.Feed{Topic: "echo", Procedure: "bridgetest.v1.TestService.Echo"},
		))
	const (
		clockMissing = `WARN clock demo.v1.ClockService.GetProgressiveTime {"count":1}: no method demo.v1.ClockService.GetProgressiveTime`
		echoUnary    = `WARN echo bridgetest.v1.TestService.Echo: method bridgetest.v1.TestService.Echo does not stream its responses`
		clockFits    = `INFO clock demo.v1.ClockService.GetProgressiveTime {"count":1}: `
	)
	expect := func(what string, checks []string, wants ...string) {
		t.Helper()
		if len(checks) != len(wants) {
			t.Fatalf("%s: check lines %q, want %d", what, checks, len(wants))
		}
		for i, want := range wants {
			if !strings.HasPrefix(checks[i], want) {
				t.Errorf("%s: check line %q, want it to start with %q", what, checks[i], want)
			}
		}
	}
	expect("first load", feedChecks(t, h, func(_ map[string]string, checks []string) bool { return len(checks) == 2 }),
		clockMissing, echoUnary)

	// Subscribers start the failing streams; each failure is logged as it
	// was, and the check is not repeated.
	p := join(t, b.URL)
	p.Send(t, `[5,"clock"]`)
	p.Send(t, `[5,"echo"]`)
	failed := map[string]bool{}
	expect("subscriptions", feedChecks(t, h, func(r map[string]string, _ []string) bool {
		if r["msg"] == msgFeedFailed {
			failed[r["topic"]] = true
		}
		return failed["clock"] && failed["echo"]
	}))

	b.Handler.RefreshSchema() // the same schema
	expect("unchanged reload", feedChecks(t, h, func(r map[string]string, _ []string) bool {
		return r["msg"] == "upstream schema unchanged"
	}))

	l.set(testService, clockService)
	b.Handler.RefreshSchema()
	expect("reload", feedChecks(t, h, func(_ map[string]string, checks []string) bool { return len(checks) == 2 }),
		clockFits, echoUnary)
}
