package bridge_test

// §4 of PROTOCOL.md: topics fed by a gRPC server-streaming method.

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
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
