package bridge_test

// §4 of PROTOCOL.md: publish and subscribe among the bridge's clients.

import (
	"fmt"
	"strings"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/wampbridge/grpcwamp/bridge"
	"github.com/wampbridge/grpcwamp/bridge/internal/bridgetest"
	"github.com/wampbridge/grpcwamp/bridge/wampv1"
)

// peer is a session with its WELCOME session id.
type peer struct {
	*bridgetest.Client
	id string
}

func join(t *testing.T, url string) peer {
	t.Helper()
	c := bridgetest.Dial(t, url, "wamp")
	return peer{Client: c, id: c.ReadWelcome(t).SessionID}
}

// subscribe subscribes p to topics and waits until the bridge has
// processed the SUBSCRIBE frames: a CALL sent after them is answered.
func (p peer) subscribe(t *testing.T, topics ...string) {
	t.Helper()
	for _, topic := range topics {
		p.Send(t, fmt.Sprintf(`[5,%q]`, topic))
	}
	p.Sync(t)
}

// marker publishes an event every subscriber of topic receives, publisher
// included: the next frame of a subscriber that is not to receive an
// earlier event is this marker, since one publisher's events reach each
// subscriber in order.
func marker(t *testing.T, from peer, topic string, n int) string {
	t.Helper()
	from.Send(t, fmt.Sprintf(`[7,%q,{"marker":%d},false]`, topic, n))
	return fmt.Sprintf(`[8,%q,{"marker":%d}]`, topic, n)
}

func ids(ps ...peer) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = fmt.Sprintf("%q", p.id)
	}
	return "[" + strings.Join(s, ",") + "]"
}

// TestE2EPublishForms: every WAMP v1 PUBLISH form. Receivers are the
// subscribers, intersected with eligible when given, minus exclude; a bare
// PUBLISH reaches its publisher (the default); excludeMe true leaves it out.
func TestE2EPublishForms(t *testing.T) {
	t.Parallel()
	e := start(t, bridgetest.Reflection)
	const topic = "http://example.com/simple"
	a, b, c := join(t, e.b.URL), join(t, e.b.URL), join(t, e.b.URL)
	outsider := join(t, e.b.URL) // not subscribed: never receives
	for _, p := range []peer{a, b, c} {
		p.subscribe(t, topic)
	}
	cases := []struct {
		name    string
		publish string // after [7, topic, event
		want    []peer // receivers
	}{
		{"bare", `]`, []peer{a, b, c}},
		{"excludeMe true", `,true]`, []peer{b, c}},
		{"excludeMe false", `,false]`, []peer{a, b, c}},
		{"exclude list", `,` + ids(b) + `]`, []peer{a, c}},
		{"exclude list with publisher", `,` + ids(a, c) + `]`, []peer{b}},
		{"empty exclude list", `,[]]`, []peer{a, b, c}},
		{"eligible", `,[],` + ids(b, c) + `]`, []peer{b, c}},
		{"eligible minus exclude", `,` + ids(c) + `,` + ids(b, c) + `]`, []peer{b}},
		{"eligible includes an outsider", `,[],` + ids(a, outsider) + `]`, []peer{a}},
		{"empty eligible", `,[],[]]`, nil},
		{"unknown session ids", `,["nobody"],["nobody",` + fmt.Sprintf("%q", b.id) + `]]`, []peer{b}},
	}
	// The cases share the sessions, so they run in order.
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			event := fmt.Sprintf(`{"case":%d,"text":"héllo"}`, i)
			a.Send(t, fmt.Sprintf(`[7,%q,%s%s`, topic, event, tc.publish))
			mark := marker(t, a, topic, i)
			for _, p := range []peer{a, b, c} {
				receives := false
				for _, w := range tc.want {
					receives = receives || w.id == p.id
				}
				if receives {
					p.ExpectFrame(t, fmt.Sprintf(`[8,%q,%s]`, topic, event))
				}
				p.ExpectFrame(t, mark)
			}
		})
	}
	outsider.Sync(t) // no EVENT is waiting for the outsider
}

// TestE2EPublisherReceivesOff: the default of a bare PUBLISH is
// configurable; excludeMe false still reaches the publisher.
func TestE2EPublisherReceivesOff(t *testing.T) {
	t.Parallel()
	e := start(t, bridgetest.Reflection, bridge.WithPublisherReceives(false))
	const topic = "com.example.off"
	a, b := join(t, e.b.URL), join(t, e.b.URL)
	a.subscribe(t, topic)
	b.subscribe(t, topic)
	a.Send(t, fmt.Sprintf(`[7,%q,"bare"]`, topic))
	mark := marker(t, a, topic, 1)
	b.ExpectFrame(t, fmt.Sprintf(`[8,%q,"bare"]`, topic))
	b.ExpectFrame(t, mark)
	a.ExpectFrame(t, mark) // the bare one did not reach its publisher; the marker (excludeMe false) did
}

// TestE2EPubSubCURIE: topics are CURIE-expanded, and EVENT always carries
// the full topic URI, whatever name the subscriber or publisher used.
func TestE2EPubSubCURIE(t *testing.T) {
	t.Parallel()
	e := start(t, bridgetest.Reflection)
	a, b := join(t, e.b.URL), join(t, e.b.URL)
	a.Send(t, `[1,"ev","http://example.com/events#"]`)
	a.subscribe(t, "ev:news")
	b.Send(t, `[1,"x","http://example.com/"]`)
	b.Send(t, `[7,"x:events#news",{"n":1}]`)
	a.ExpectFrame(t, `[8,"http://example.com/events#news",{"n":1}]`)
	b.Send(t, `[7,"http://example.com/events#news",{"n":2}]`)
	a.ExpectFrame(t, `[8,"http://example.com/events#news",{"n":2}]`)
	b.Send(t, `[7,"ev:news",{"n":3}]`) // ev is not declared in b's session: another topic
	b.Send(t, `[7,"http://example.com/events#news",{"n":4}]`)
	a.ExpectFrame(t, `[8,"http://example.com/events#news",{"n":4}]`)
}

// TestE2EPubSubCURIEUnsubscribe: PREFIX expands in UNSUBSCRIBE too, so
// unsubscribing with the CURIE a session subscribed with ends that
// subscription, while the session's other subscriptions go on.
func TestE2EPubSubCURIEUnsubscribe(t *testing.T) {
	t.Parallel()
	e := start(t, bridgetest.Reflection)
	const news, marks = "http://example.com/events#news", "http://example.com/marks"
	a, b := join(t, e.b.URL), join(t, e.b.URL)
	a.Send(t, `[1,"ev","http://example.com/events#"]`)
	a.subscribe(t, "ev:news", marks)
	b.Send(t, fmt.Sprintf(`[7,%q,{"n":1}]`, news))
	a.ExpectFrame(t, fmt.Sprintf(`[8,%q,{"n":1}]`, news)) // subscribed by its CURIE
	a.ExpectFrame(t, marker(t, b, marks, 1))

	a.Send(t, `[6,"ev:news"]`)
	a.Sync(t)
	b.Send(t, fmt.Sprintf(`[7,%q,{"n":2}]`, news))
	a.ExpectFrame(t, marker(t, b, marks, 2)) // not the EVENT of {"n":2}
}

// TestE2EUnsubscribeAndSessionEnd: UNSUBSCRIBE stops events; a session's
// subscriptions end with it, and publishing to them then harms nobody.
func TestE2EUnsubscribeAndSessionEnd(t *testing.T) {
	t.Parallel()
	e := start(t, bridgetest.Reflection)
	const topic = "com.example.leave"
	a, b, gone := join(t, e.b.URL), join(t, e.b.URL), join(t, e.b.URL)
	for _, p := range []peer{a, b, gone} {
		p.subscribe(t, topic)
	}
	b.Send(t, fmt.Sprintf(`[6,%q]`, topic))
	b.Send(t, fmt.Sprintf(`[6,%q]`, "com.example.never-subscribed"))
	b.Sync(t)
	gone.Close()
	a.Send(t, fmt.Sprintf(`[7,%q,"after",true]`, topic))
	a.Send(t, fmt.Sprintf(`[7,%q,"mine"]`, topic))
	a.ExpectFrame(t, fmt.Sprintf(`[8,%q,"mine"]`, topic))
	b.Sync(t) // nothing arrived for b
}

// TestE2EPubSubLimits: a SUBSCRIBE beyond the per-session limit and a
// PUBLISH over the event size limit are dropped (v1 has no
// acknowledgement for them) and counted.
func TestE2EPubSubLimits(t *testing.T) {
	t.Parallel()
	e := start(t, bridgetest.Reflection, bridge.WithMaxSubscriptions(2), bridge.WithMaxEventSize(100))
	a := join(t, e.b.URL)
	a.subscribe(t, "t1", "t2", "t3") // t3 is one too many
	a.Send(t, `[7,"t3","dropped"]`)
	a.Send(t, fmt.Sprintf(`[7,"t1",%q]`, strings.Repeat("x", 200))) // too large
	a.Send(t, `[7,"t2","kept"]`)
	a.ExpectFrame(t, `[8,"t2","kept"]`)
	if got := bridge.DroppedPubSub(e.b.Handler); got != 2 {
		t.Errorf("dropped SUBSCRIBE/PUBLISH = %d, want 2", got)
	}
}

// TestE2EPublishListLimit: an exclude or eligible list of a PUBLISH names
// at most wampv1.MaxSessionIDs sessions; a longer one is a malformed frame,
// which closes the session with 1007 and a reason naming the limit.
func TestE2EPublishListLimit(t *testing.T) {
	t.Parallel()
	e := start(t, bridgetest.Reflection)
	ids := func(n int) string { return "[" + strings.TrimSuffix(strings.Repeat(`"x",`, n), ",") + "]" }
	a := join(t, e.b.URL)
	a.subscribe(t, "t")
	a.Send(t, `[7,"t","most",`+ids(wampv1.MaxSessionIDs)+`]`)
	a.ExpectFrame(t, `[8,"t","most"]`)
	a.Send(t, `[7,"t","over",[],`+ids(wampv1.MaxSessionIDs+1)+`]`)
	if reason := a.ExpectClose(t, websocket.CloseInvalidFramePayloadData); !strings.Contains(reason, "more than 10000 session ids") {
		t.Errorf("close reason %q does not name the limit", reason)
	}
}

// TestE2ESlowSubscriber: a subscriber that stops reading is disconnected as
// too slow; the others keep receiving every event, and the publisher is
// never blocked.
func TestE2ESlowSubscriber(t *testing.T) {
	t.Parallel()
	e := start(t, bridgetest.Reflection, bridge.WithEventQueue(4))
	const topic = "com.example.firehose"
	const n = 400 // 400 events of 60 kB: far more than the socket buffers hold
	pub, fast, stuck := join(t, e.b.URL), join(t, e.b.URL), join(t, e.b.URL)
	fast.subscribe(t, topic)
	stuck.subscribe(t, topic)
	payload := strings.Repeat("x", 60_000)

	// The publisher goes in step with the fast subscriber, so that only the
	// stuck one falls behind, however fast the machine is. Once the bridge
	// has kicked the stuck one, a few more events show the others go on.
	kickedAt := -1
	for i := 0; i < n && (kickedAt < 0 || i < kickedAt+20); i++ {
		pub.Send(t, fmt.Sprintf(`[7,%q,{"i":%d,"p":%q},true]`, topic, i, payload))
		fast.ExpectFrame(t, fmt.Sprintf(`[8,%q,{"i":%d,"p":%q}]`, topic, i, payload))
		if kickedAt < 0 && bridge.SlowDisconnects(e.b.Handler) == 1 {
			kickedAt = i
		}
	}
	if kickedAt < 0 {
		t.Fatalf("the stuck subscriber was not disconnected after %d events", n)
	}
	pub.Sync(t) // the publisher's session was never blocked by the stuck one
	// Now the stuck subscriber reads, before the bridge's write timeout
	// gives up on it: some events, then its disconnection.
	got, code, reason := stuck.Drain(t)
	if got > kickedAt+1 || code != 1008 || !strings.Contains(reason, "too slow") || !strings.Contains(reason, "(4 EVENT frames waiting)") {
		t.Errorf("stuck subscriber: %d events then close %d %q; want at most %d events, then 1008 naming it too slow and the limit of 4",
			got, code, reason, kickedAt+1)
	}
	if got := bridge.SlowDisconnects(e.b.Handler); got != 1 {
		t.Errorf("slow disconnects = %d, want 1", got)
	}
}

// TestE2EReservedTopics: the bridge's meta topics (wamp.bridge.*) can be
// subscribed to but not published on by clients: subscribers trust them.
func TestE2EReservedTopics(t *testing.T) {
	t.Parallel()
	e := start(t, bridgetest.Reflection)
	a := join(t, e.b.URL)
	a.subscribe(t, bridge.SchemaChangeTopic, "t")
	a.Send(t, fmt.Sprintf(`[7,%q,{"forged":true},false]`, bridge.SchemaChangeTopic))
	a.Send(t, `[5,"wamp.bridge.x"]`)
	a.Send(t, `[7,"wamp.bridge.x","forged",false]`)
	want := marker(t, a, "t", 1)
	a.ExpectFrame(t, want) // not the forged events, which came first
	if got := bridge.DroppedPubSub(e.b.Handler); got != 2 {
		t.Errorf("dropped SUBSCRIBE/PUBLISH = %d, want 2 (the two PUBLISHes to wamp.bridge.*)", got)
	}
}
