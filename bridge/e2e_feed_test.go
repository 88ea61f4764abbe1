package bridge_test

// §4 of PROTOCOL.md: topics fed by a gRPC server-streaming method.

import (
	"encoding/json"
	"testing"

	"github.com/wampbridge/grpcwamp/bridge"
	"github.com/wampbridge/grpcwamp/bridge/internal/bridgetest"
)

// expectTicks reads n EVENTs of topic from p and checks that they are
// consecutive messages of one Stream call with tag; it returns the last
// index.
func expectTicks(t *testing.T, p peer, topic, tag string, n int) int {
	t.Helper()
	last := 0
	for range n {
		f := p.ReadFrame(t)
		var msg struct {
			Index int    `json:"index"`
			Tag   string `json:"tag"`
		}
		var gotTopic string
		if f.Type() != 8 || len(f) != 3 || json.Unmarshal(f[1], &gotTopic) != nil || gotTopic != topic ||
			json.Unmarshal(f[2], &msg) != nil || msg.Tag != tag || (last != 0 && msg.Index != last+1) {
			t.Fatalf("got %s, want the EVENT of %q with tag %q after index %d", f.Raw(), topic, tag, last)
		}
		last = msg.Index
	}
	return last
}

// TestE2EFedTopic: while at least one client is subscribed, the bridge
// holds exactly one upstream stream for the topic, whatever the number of
// subscribers, and every stream message becomes an EVENT for all of them;
// the last UNSUBSCRIBE cancels the stream, and a new subscriber starts a
// fresh one.
func TestE2EFedTopic(t *testing.T) {
	t.Parallel()
	forEachDiscovery(t, func(t *testing.T, d bridgetest.Discovery) {
		e := start(t, d, bridge.WithFeeds(bridge.Feed{
			Topic:     "com.example.ticks",
			Procedure: streamProc,
			Request:   json.RawMessage(`{"count":1000000,"interval":"0.002s","tag":"ticks"}`),
		}))
		subs := []peer{join(t, e.b.URL), join(t, e.b.URL), join(t, e.b.URL)}
		for _, p := range subs {
			p.Send(t, `[5,"com.example.ticks"]`)
		}
		for _, p := range subs {
			expectTicks(t, p, "com.example.ticks", "ticks", 3)
		}
		if calls, running := e.svc.Calls("ticks"), e.svc.Running("ticks"); calls != 1 || running != 1 {
			t.Fatalf("upstream Stream calls = %d, running = %d; want one for %d subscribers", calls, running, len(subs))
		}
		subs[0].Close()                            // a session's end removes its subscription
		subs[1].Send(t, `[6,"com.example.ticks"]`) // so does UNSUBSCRIBE
		subs[2].Send(t, `[6,"com.example.ticks"]`) // the last one
		if err := e.svc.WaitCanceled(t.Context(), "ticks"); err != nil {
			t.Fatal(err)
		}
		again := join(t, e.b.URL)
		again.Send(t, `[5,"com.example.ticks"]`)
		if first := expectTicks(t, again, "com.example.ticks", "ticks", 1); first != 1 {
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
