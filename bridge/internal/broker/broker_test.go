package broker

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
)

const topicT = "http://example.com/t"

// frameT is the EVENT every receiver of the publications below must get.
const frameT = `[8,"http://example.com/t",{"n":1}]`

func TestPublishReceivers(t *testing.T) {
	t.Parallel()
	event := json.RawMessage(`{"n":1}`)
	// a publishes; a, b, c and d subscribe to topicT; e subscribes to
	// nothing.
	tests := []struct {
		name              string
		publisherReceives bool
		publisher         string // "" publishes with no session
		pub               Publication
		want              []string
	}{
		{name: "bare/publisher receives", publisherReceives: true, publisher: "a",
			pub: Publication{}, want: []string{"a", "b", "c", "d"}},
		{name: "bare/publisher excluded by default", publisher: "a",
			pub: Publication{}, want: []string{"b", "c", "d"}},
		{name: "excludeMe true", publisherReceives: true, publisher: "a",
			pub: Publication{ExcludeMe: ptr(true)}, want: []string{"b", "c", "d"}},
		{name: "excludeMe false overrides default", publisher: "a",
			pub: Publication{ExcludeMe: ptr(false)}, want: []string{"a", "b", "c", "d"}},
		{name: "excludeMe false", publisherReceives: true, publisher: "a",
			pub: Publication{ExcludeMe: ptr(false)}, want: []string{"a", "b", "c", "d"}},
		{name: "exclude list/publisher not listed receives", publisher: "a",
			pub: Publication{Exclude: []string{"b"}}, want: []string{"a", "c", "d"}},
		{name: "exclude list/empty", publisher: "a",
			pub: Publication{Exclude: []string{}}, want: []string{"a", "b", "c", "d"}},
		{name: "exclude list/publisher listed", publisherReceives: true, publisher: "a",
			pub: Publication{Exclude: []string{"a", "c"}}, want: []string{"b", "d"}},
		{name: "exclude list/unknown ids", publisherReceives: true, publisher: "a",
			pub: Publication{Exclude: []string{"x", "e"}}, want: []string{"a", "b", "c", "d"}},
		{name: "eligible/intersection minus exclude", publisher: "a",
			pub:  Publication{Exclude: []string{"c"}, Eligible: []string{"a", "b", "c"}},
			want: []string{"a", "b"}},
		{name: "eligible/empty reaches nobody", publisherReceives: true, publisher: "a",
			pub: Publication{Exclude: []string{}, Eligible: []string{}}, want: nil},
		{name: "eligible/not subscribed is not a receiver", publisher: "a",
			pub: Publication{Exclude: []string{}, Eligible: []string{"b", "e"}}, want: []string{"b"}},
		{name: "eligible/publisher only", publisher: "a",
			pub: Publication{Exclude: []string{}, Eligible: []string{"a"}}, want: []string{"a"}},
		{name: "eligible/many ids use a set", publisher: "a",
			pub: Publication{
				Exclude:  []string{"x1", "x2", "x3", "x4", "x5", "x6", "x7", "x8", "d"},
				Eligible: []string{"y1", "y2", "y3", "y4", "y5", "y6", "y7", "y8", "b", "d"},
			},
			want: []string{"b"}},
		// The ids that matter first, then in the middle: every entry of a
		// list long enough for a set is in the set.
		{name: "eligible/many ids, first ones matter", publisher: "a",
			pub: Publication{
				Exclude:  []string{"d", "x1", "x2", "x3", "x4", "x5", "x6", "x7", "x8"},
				Eligible: []string{"b", "d", "y1", "y2", "y3", "y4", "y5", "y6", "y7", "y8"},
			},
			want: []string{"b"}},
		{name: "exclude/many ids, middle ones matter", publisherReceives: true, publisher: "a",
			pub:  Publication{Exclude: []string{"x1", "x2", "x3", "x4", "a", "c", "x5", "x6", "x7", "x8"}},
			want: []string{"b", "d"}},
		{name: "publisher not subscribed/bare", publisherReceives: false, publisher: "e",
			pub: Publication{}, want: []string{"a", "b", "c", "d"}},
		{name: "publisher not subscribed/excludeMe", publisher: "e",
			pub: Publication{ExcludeMe: ptr(true)}, want: []string{"a", "b", "c", "d"}},
		{name: "no publisher session", publisher: "",
			pub: Publication{}, want: []string{"a", "b", "c", "d"}},
		{name: "unknown topic", publisherReceives: true, publisher: "a",
			pub: Publication{Topic: "http://example.com/nobody"}, want: nil},
		{name: "CURIE is not expanded by the broker", publisherReceives: true, publisher: "a",
			pub: Publication{Topic: "ex:t"}, want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := newBroker(t, Options{PublisherReceives: tt.publisherReceives})
			subs := newSubs("a", "b", "c", "d", "e")
			byID := map[string]*fakeSub{}
			for _, s := range subs {
				byID[s.id] = s
			}
			subscribe(t, b, topicT, subs[:4]...)
			p := tt.pub
			if p.Topic == "" {
				p.Topic = topicT
			}
			p.Event = event
			var publisher Subscriber
			if tt.publisher != "" {
				publisher = byID[tt.publisher]
			}
			if err := b.Publish(publisher, p); err != nil {
				t.Fatalf("Publish: %v", err)
			}
			var got []string
			for _, s := range subs {
				frames := s.got()
				switch len(frames) {
				case 0:
				case 1:
					if frames[0] != frameT {
						t.Errorf("%s got %s, want %s", s.id, frames[0], frameT)
					}
					got = append(got, s.id)
				default:
					t.Errorf("%s got %d frames, want 1: %q", s.id, len(frames), frames)
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("receivers = %v, want %v", got, tt.want)
			}
			if n := b.Stats().Delivered.Load(); n != int64(len(tt.want)) {
				t.Errorf("Stats.Delivered = %d, want %d", n, len(tt.want))
			}
			if n := b.Stats().Published.Load(); n != 1 {
				t.Errorf("Stats.Published = %d, want 1", n)
			}
		})
	}
}

func TestEventFrame(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		topic string
		event json.RawMessage
		want  string
	}{
		{"object", "http://example.com/t", json.RawMessage(`{"a":[1,2]}`), `[8,"http://example.com/t",{"a":[1,2]}]`},
		{"string", "http://example.com/t", json.RawMessage(`"hi"`), `[8,"http://example.com/t","hi"]`},
		{"null", "http://example.com/t", json.RawMessage(`null`), `[8,"http://example.com/t",null]`},
		{"missing is null", "http://example.com/t", nil, `[8,"http://example.com/t",null]`},
		{"CURIE-like topic kept as given", "ex:t", json.RawMessage(`1`), `[8,"ex:t",1]`},
		{"escaped topic", `http://example.com/"q"`, json.RawMessage(`1`), `[8,"http://example.com/\"q\"",1]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := newBroker(t, Options{PublisherReceives: true})
			s := newSubs("a")[0]
			subscribe(t, b, tt.topic, s)
			if err := b.Publish(s, Publication{Topic: tt.topic, Event: tt.event}); err != nil {
				t.Fatalf("Publish: %v", err)
			}
			if got := s.got(); !slices.Equal(got, []string{tt.want}) {
				t.Errorf("frames = %q, want [%s]", got, tt.want)
			}
		})
	}
}

func TestFrameSharedAndEncodedOnce(t *testing.T) {
	t.Parallel()
	b := newBroker(t, Options{})
	var frames [][]byte
	var mu sync.Mutex
	for i := range 3 {
		s := &captureSub{id: fmt.Sprint(i), capture: func(f []byte) {
			mu.Lock()
			defer mu.Unlock()
			frames = append(frames, f)
		}}
		if err := b.Subscribe(s, topicT); err != nil {
			t.Fatal(err)
		}
	}
	b.DeliverLocal(topicT, json.RawMessage(`{"n":1}`))
	if len(frames) != 3 {
		t.Fatalf("got %d frames, want 3", len(frames))
	}
	for _, f := range frames[1:] {
		if &f[0] != &frames[0][0] {
			t.Errorf("frames are not one shared encoding")
		}
	}
}

// captureSub hands each frame, unchanged, to capture.
type captureSub struct {
	id      string
	capture func([]byte)
}

func (c *captureSub) SessionID() string         { return c.id }
func (c *captureSub) Deliver(frame []byte) bool { c.capture(frame); return true }
func (c *captureSub) Kick(string)               {}

func TestSubscriptionLimit(t *testing.T) {
	t.Parallel()
	b := newBroker(t, Options{MaxSubscriptions: 2})
	subs := newSubs("a", "b")
	a, other := subs[0], subs[1]
	subscribe(t, b, "t1", a)
	subscribe(t, b, "t2", a)
	subscribe(t, b, "t1", a) // idempotent: not a third subscription
	err := b.Subscribe(a, "t3")
	if !errors.Is(err, ErrTooManySubscriptions) {
		t.Fatalf("third Subscribe = %v, want ErrTooManySubscriptions", err)
	}
	for _, want := range []string{"MaxSubscriptions", "2", `"t3"`, `"a"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
	if n := b.Stats().Refused.Load(); n != 1 {
		t.Errorf("Stats.Refused = %d, want 1", n)
	}
	subscribe(t, b, "t1", other) // the limit is per session
	subscribe(t, b, "t2", other)
	b.Unsubscribe(a, "t1")
	subscribe(t, b, "t3", a)

	// The refused subscription never took effect.
	if err := b.Publish(nil, Publication{Topic: "t3", Event: json.RawMessage(`1`)}); err != nil {
		t.Fatal(err)
	}
	if got := a.got(); !slices.Equal(got, []string{`[8,"t3",1]`}) {
		t.Errorf("a got %q", got)
	}
}

func TestDefaults(t *testing.T) {
	t.Parallel()
	b := newBroker(t, Options{})
	s := newSubs("a")[0]
	for i := range DefaultMaxSubscriptions {
		subscribe(t, b, fmt.Sprint("t", i), s)
	}
	if err := b.Subscribe(s, "one-more"); !errors.Is(err, ErrTooManySubscriptions) {
		t.Errorf("Subscribe past %d = %v, want ErrTooManySubscriptions", DefaultMaxSubscriptions, err)
	}
	atMax := json.RawMessage(`"` + strings.Repeat("x", DefaultMaxEventSize-2) + `"`)
	if err := b.Publish(s, Publication{Topic: "t0", Event: atMax}); err != nil {
		t.Errorf("Publish of %d bytes: %v", len(atMax), err)
	}
	over := json.RawMessage(`"` + strings.Repeat("x", DefaultMaxEventSize-1) + `"`)
	if err := b.Publish(s, Publication{Topic: "t0", Event: over}); !errors.Is(err, ErrEventTooLarge) {
		t.Errorf("Publish of %d bytes = %v, want ErrEventTooLarge", len(over), err)
	}
	// PublisherReceives defaults to false in Options (the bridge sets true).
	if got := len(s.got()); got != 0 {
		t.Errorf("publisher got %d frames from a bare PUBLISH with PublisherReceives false", got)
	}
}

func TestNewErrors(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		o    Options
		want string
	}{
		{"negative MaxSubscriptions", Options{MaxSubscriptions: -1}, "MaxSubscriptions"},
		{"negative MaxEventSize", Options{MaxEventSize: -1}, "MaxEventSize"},
		{"backend start", Options{Backend: failingBackend{start: errBackend}}, "backend down"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b, err := New(tt.o)
			if err == nil {
				b.Close()
				t.Fatal("New succeeded")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not mention %s", err, tt.want)
			}
		})
	}
}

func TestEventSizeLimit(t *testing.T) {
	t.Parallel()
	b := newBroker(t, Options{MaxEventSize: 10, PublisherReceives: true})
	s := newSubs("a")[0]
	subscribe(t, b, topicT, s)
	if err := b.Publish(s, Publication{Topic: topicT, Event: json.RawMessage(`"12345678"`)}); err != nil {
		t.Fatalf("Publish of 10 bytes: %v", err)
	}
	err := b.Publish(s, Publication{Topic: topicT, Event: json.RawMessage(`"123456789"`)})
	if !errors.Is(err, ErrEventTooLarge) {
		t.Fatalf("Publish of 11 bytes = %v, want ErrEventTooLarge", err)
	}
	for _, want := range []string{"MaxEventSize", "10 bytes", "11 bytes", topicT} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
	st := b.Stats()
	if st.Refused.Load() != 1 || st.Published.Load() != 1 || st.Delivered.Load() != 1 {
		t.Errorf("Stats refused/published/delivered = %d/%d/%d, want 1/1/1",
			st.Refused.Load(), st.Published.Load(), st.Delivered.Load())
	}
	if got := s.got(); !slices.Equal(got, []string{`[8,"http://example.com/t","12345678"]`}) {
		t.Errorf("frames = %q", got)
	}
}

func TestOptionsStatsShared(t *testing.T) {
	t.Parallel()
	st := new(Stats)
	b := newBroker(t, Options{Stats: st, MaxEventSize: 1})
	if b.Stats() != st {
		t.Fatal("Stats() is not Options.Stats")
	}
	_ = b.Publish(nil, Publication{Topic: "t", Event: json.RawMessage(`12`)})
	if st.Refused.Load() != 1 {
		t.Errorf("Options.Stats.Refused = %d, want 1", st.Refused.Load())
	}
}

func TestInterest(t *testing.T) {
	t.Parallel()
	var hook, backend recorder
	var bs bus
	b := newBroker(t, Options{OnInterest: hook.hook, Backend: bs.replica(&backend)})
	subs := newSubs("a", "b")
	a, c := subs[0], subs[1]
	// A step's transitions concern distinct topics; their order across
	// topics is unspecified (Leave walks a set), so compare them sorted.
	step := func(name string, do func(), want ...string) {
		t.Helper()
		do()
		if got := slices.Sorted(slices.Values(hook.take())); !slices.Equal(got, want) {
			t.Errorf("%s: OnInterest calls %q, want %q", name, got, want)
		}
		if got := slices.Sorted(slices.Values(backend.take())); !slices.Equal(got, want) {
			t.Errorf("%s: Backend.Interest calls %q, want %q", name, got, want)
		}
	}
	step("a subscribes t1", func() { subscribe(t, b, "t1", a) }, "t1+")
	step("a subscribes t1 again", func() { subscribe(t, b, "t1", a) })
	step("c subscribes t1", func() { subscribe(t, b, "t1", c) })
	step("a subscribes t2, t3", func() { subscribe(t, b, "t2", a); subscribe(t, b, "t3", a) }, "t2+", "t3+")
	step("c subscribes t3", func() { subscribe(t, b, "t3", c) })
	step("a unsubscribes t1", func() { b.Unsubscribe(a, "t1") })
	step("a unsubscribes t1 again", func() { b.Unsubscribe(a, "t1") })
	step("c unsubscribes t9", func() { b.Unsubscribe(c, "t9") })
	step("c unsubscribes t1", func() { b.Unsubscribe(c, "t1") }, "t1-")
	step("c subscribes t1 again", func() { subscribe(t, b, "t1", c) }, "t1+")
	step("a leaves", func() { b.Leave(a) }, "t2-")
	step("a leaves again", func() { b.Leave(a) })
	step("c leaves", func() { b.Leave(c) }, "t1-", "t3-")
}

func TestLeave(t *testing.T) {
	t.Parallel()
	var hook recorder
	b := newBroker(t, Options{OnInterest: hook.hook, MaxSubscriptions: 3, PublisherReceives: true})
	subs := newSubs("a", "b")
	a, c := subs[0], subs[1]
	subscribe(t, b, "t1", a)
	subscribe(t, b, "t2", a)
	subscribe(t, b, "t3", a)
	subscribe(t, b, "t2", c)
	hook.take()
	b.Leave(a)
	got := hook.take()
	slices.Sort(got)
	if want := []string{"t1-", "t3-"}; !slices.Equal(got, want) {
		t.Errorf("OnInterest after Leave = %q, want %q in any order", got, want)
	}
	for _, topic := range []string{"t1", "t2", "t3"} {
		if err := b.Publish(c, Publication{Topic: topic, Event: json.RawMessage(`0`)}); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(a.got()); n != 0 {
		t.Errorf("a got %d frames after Leave", n)
	}
	if got := c.got(); !slices.Equal(got, []string{`[8,"t2",0]`}) {
		t.Errorf("c got %q", got)
	}
	// Leave freed a's subscription slots.
	for _, topic := range []string{"t4", "t5", "t6"} {
		subscribe(t, b, topic, a)
	}
}

func TestSlowSubscriberKicked(t *testing.T) {
	t.Parallel()
	var hook recorder
	b := newBroker(t, Options{OnInterest: hook.hook, PublisherReceives: true})
	fast := newSubs("f1", "f2", "f3")
	slow := newSub("slow", 2)
	subscribe(t, b, topicT, append(fast, slow)...)
	subscribe(t, b, "only-slow", slow)
	subscribe(t, b, "shared", slow, fast[0])
	hook.take()

	const n = 10
	var want []string
	for i := range n {
		ev := fmt.Sprintf(`{"i":%d}`, i)
		if err := b.Publish(fast[0], Publication{Topic: topicT, Event: json.RawMessage(ev)}); err != nil {
			t.Fatalf("Publish %d: %v", i, err)
		}
		want = append(want, `[8,"http://example.com/t",`+ev+`]`)
	}
	for _, s := range fast {
		if got := s.got(); !slices.Equal(got, want) {
			t.Errorf("%s got %q, want every event in order", s.id, got)
		}
	}
	if got := slow.got(); !slices.Equal(got, want[:2]) {
		t.Errorf("slow got %q, want the first 2", got)
	}
	if got := slow.kicked(); !slices.Equal(got, []string{KickReason}) {
		t.Errorf("slow kicked %q, want once with %q", got, KickReason)
	}
	if got := b.Stats().SlowDisconnects.Load(); got != 1 {
		t.Errorf("Stats.SlowDisconnects = %d, want 1", got)
	}
	if got, want := b.Stats().Delivered.Load(), int64(3*n+2); got != want {
		t.Errorf("Stats.Delivered = %d, want %d", got, want)
	}
	// The kick removed every subscription of slow: its lone topic lost
	// interest, the shared one kept it.
	if got := hook.take(); !slices.Equal(got, []string{"only-slow-"}) {
		t.Errorf("OnInterest after kick = %q, want [only-slow-]", got)
	}
	if err := b.Publish(nil, Publication{Topic: "shared", Event: json.RawMessage(`0`)}); err != nil {
		t.Fatal(err)
	}
	if len(slow.kicked()) != 1 || len(slow.got()) != 2 {
		t.Errorf("slow was delivered to or kicked again after its kick")
	}
}

func TestDeliverLocal(t *testing.T) {
	t.Parallel()
	var bs bus
	var ra, rb recorder
	a := newBroker(t, Options{Backend: bs.replica(&ra)})
	b := newBroker(t, Options{Backend: bs.replica(&rb)})
	sa, sb := newSubs("sa")[0], newSubs("sb")[0]
	subscribe(t, a, "feed", sa)
	subscribe(t, b, "feed", sb)
	a.DeliverLocal("feed", json.RawMessage(`{"tick":1}`))
	a.DeliverLocal("nobody", json.RawMessage(`{"tick":1}`))
	if got := sa.got(); !slices.Equal(got, []string{`[8,"feed",{"tick":1}]`}) {
		t.Errorf("local subscriber got %q", got)
	}
	if got := sb.got(); len(got) != 0 {
		t.Errorf("other replica's subscriber got %q: DeliverLocal went through the backend", got)
	}
}

func TestClose(t *testing.T) {
	t.Parallel()
	b, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	s := newSubs("a")[0]
	subscribe(t, b, "t", s)
	if err := b.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := b.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := b.Publish(s, Publication{Topic: "t"}); !errors.Is(err, ErrClosed) {
		t.Errorf("Publish after Close = %v, want ErrClosed", err)
	}
	if err := b.Subscribe(s, "u"); !errors.Is(err, ErrClosed) {
		t.Errorf("Subscribe after Close = %v, want ErrClosed", err)
	}
	b.Unsubscribe(s, "t")
	b.Leave(s)
}

func TestBackendPublishError(t *testing.T) {
	t.Parallel()
	b := newBroker(t, Options{Backend: failingBackend{publish: errBackend}})
	err := b.Publish(nil, Publication{Topic: "t", Event: json.RawMessage(`1`)})
	if !errors.Is(err, errBackend) || !strings.Contains(err.Error(), `"t"`) {
		t.Errorf("Publish = %v, want the backend's error naming the topic", err)
	}
	if n := b.Stats().Published.Load(); n != 0 {
		t.Errorf("Stats.Published = %d, want 0", n)
	}
}

func TestLocalBackend(t *testing.T) {
	t.Parallel()
	l := NewLocal()
	var got []Envelope
	if err := l.Start(func(e Envelope) { got = append(got, e) }); err != nil {
		t.Fatal(err)
	}
	if err := l.Start(func(Envelope) {}); err == nil {
		t.Error("second Start succeeded")
	}
	l.Interest("t", true)
	if err := l.Publish(Envelope{Topic: "t"}); err != nil || len(got) != 1 {
		t.Fatalf("Publish = %v, delivered %d, want nil, 1", err, len(got))
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Publish(Envelope{Topic: "t"}); !errors.Is(err, ErrBackendClosed) {
		t.Errorf("Publish after Close = %v, want ErrBackendClosed", err)
	}
}

func TestPublishKeepsCallersExclude(t *testing.T) {
	t.Parallel()
	var seen Envelope
	b := newBroker(t, Options{Backend: &spyBackend{seen: &seen}})
	exclude := make([]string, 1, 4)
	exclude[0] = "x"
	err := b.Publish(newSubs("me")[0], Publication{Topic: "t", ExcludeMe: ptr(true), Exclude: exclude})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(seen.Exclude, []string{"x", "me"}) {
		t.Errorf("Envelope.Exclude = %q, want [x me]", seen.Exclude)
	}
	if full := exclude[:2]; full[1] != "" {
		t.Errorf("Publish wrote %q into the caller's exclude array", full[1])
	}
}

type spyBackend struct{ seen *Envelope }

func (s *spyBackend) Start(func(Envelope)) error { return nil }
func (s *spyBackend) Publish(e Envelope) error   { *s.seen = e; return nil }
func (s *spyBackend) Interest(string, bool)      {}
func (s *spyBackend) Close() error               { return nil }

func TestTwoReplicas(t *testing.T) {
	t.Parallel()
	var bs bus
	var ra, rb recorder
	a := newBroker(t, Options{Backend: bs.replica(&ra), PublisherReceives: true})
	b := newBroker(t, Options{Backend: bs.replica(&rb), PublisherReceives: false})
	onA := newSubs("a1", "a2", "a3") // a3 subscribes to nothing
	onB := newSubs("b1", "b2", "b3")
	subscribe(t, a, topicT, onA[:2]...)
	subscribe(t, b, topicT, onB...)
	if got := ra.take(); !slices.Equal(got, []string{topicT + "+"}) {
		t.Errorf("replica A interest = %q", got)
	}
	if got := rb.take(); !slices.Equal(got, []string{topicT + "+"}) {
		t.Errorf("replica B interest = %q", got)
	}
	all := append(slices.Clone(onA), onB...)
	ev := json.RawMessage(`{"n":1}`)
	tests := []struct {
		name   string
		broker *Broker
		from   *fakeSub
		pub    Publication
		want   []string
	}{
		{"bare from A", a, onA[0], Publication{}, []string{"a1", "a2", "b1", "b2", "b3"}},
		{"bare from B excludes publisher by B's default", b, onB[2], Publication{}, []string{"a1", "a2", "b1", "b2"}},
		{"excludeMe from A", a, onA[0], Publication{ExcludeMe: ptr(true)}, []string{"a2", "b1", "b2", "b3"}},
		{"exclude a remote session", a, onA[0], Publication{Exclude: []string{"b2"}}, []string{"a1", "a2", "b1", "b3"}},
		{"eligible across replicas minus exclude", a, onA[0],
			Publication{Exclude: []string{"b2"}, Eligible: []string{"a2", "b2", "b3"}}, []string{"a2", "b3"}},
		{"empty eligible survives the wire", b, onB[0],
			Publication{Exclude: []string{}, Eligible: []string{}}, nil},
		{"publisher subscribed nowhere", a, onA[2], Publication{ExcludeMe: ptr(true)}, []string{"a1", "a2", "b1", "b2", "b3"}},
	}
	// Sequential: the cases share the replicas.
	for _, tt := range tests {
		before := map[string]int{}
		for _, s := range all {
			before[s.id] = len(s.got())
		}
		p := tt.pub
		p.Topic, p.Event = topicT, ev
		if err := tt.broker.Publish(tt.from, p); err != nil {
			t.Fatalf("%s: Publish: %v", tt.name, err)
		}
		var got []string
		for _, s := range all {
			frames := s.got()[before[s.id]:]
			if len(frames) > 1 {
				t.Errorf("%s: %s got %d frames, want at most 1", tt.name, s.id, len(frames))
			}
			if len(frames) > 0 {
				if frames[0] != frameT {
					t.Errorf("%s: %s got %s", tt.name, s.id, frames[0])
				}
				got = append(got, s.id)
			}
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s: receivers = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestConcurrent(t *testing.T) {
	t.Parallel()
	var hook recorder
	b := newBroker(t, Options{OnInterest: hook.hook, PublisherReceives: true, MaxSubscriptions: 4})
	topics := []string{"t0", "t1", "t2", "t3", "t4"}
	const (
		workers = 32
		rounds  = 200
	)
	subs := make([]*fakeSub, workers)
	for i := range subs {
		capacity := 1 << 20
		if i%4 == 3 {
			capacity = 5 // gets kicked, maybe several times as it resubscribes
		}
		subs[i] = newSub(fmt.Sprint("s", i), capacity)
	}
	var wg sync.WaitGroup
	for i, s := range subs {
		wg.Go(func() {
			for r := range rounds {
				topic := topics[(i+r)%len(topics)]
				_ = b.Subscribe(s, topic) // may hit MaxSubscriptions
				p := Publication{Topic: topics[r%len(topics)], Event: json.RawMessage(`1`)}
				switch r % 3 {
				case 1:
					p.ExcludeMe = ptr(true)
				case 2:
					p.Exclude, p.Eligible = []string{"s1"}, []string{"s0", "s2", s.id}
				}
				if err := b.Publish(s, p); err != nil {
					t.Errorf("Publish: %v", err)
					return
				}
				if r%5 == 0 {
					b.Unsubscribe(s, topic)
				}
				if r%17 == 0 {
					b.Leave(s)
				}
			}
			b.Leave(s)
		})
	}
	wg.Go(func() {
		for r := range rounds {
			b.DeliverLocal(topics[r%len(topics)], json.RawMessage(`"fed"`))
		}
	})
	wg.Wait()

	// Interest transitions alternate per topic, start with true and end
	// with false, as everyone left.
	last := map[string]byte{}
	for _, e := range hook.take() {
		topic, sign := e[:len(e)-1], e[len(e)-1]
		prev, ok := last[topic]
		if (!ok && sign != '+') || (ok && prev == sign) {
			t.Fatalf("interest for %s out of order: %c after %c", topic, sign, prev)
		}
		last[topic] = sign
	}
	for _, topic := range slices.Sorted(maps.Keys(last)) {
		if last[topic] != '-' {
			t.Errorf("topic %s still has interest after every session left", topic)
		}
	}
	var kicks int64
	for _, s := range subs {
		kicks += int64(len(s.kicked()))
	}
	if got := b.Stats().SlowDisconnects.Load(); got != kicks {
		t.Errorf("Stats.SlowDisconnects = %d, Kick calls = %d", got, kicks)
	}
	if kicks == 0 {
		t.Error("no slow subscriber was kicked")
	}
	if got := b.Stats().Published.Load(); got != workers*rounds {
		t.Errorf("Stats.Published = %d, want %d", got, workers*rounds)
	}
}

func TestPublishReservedTopic(t *testing.T) {
	b, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	s := newSub("s1", 4)
	if err := b.Subscribe(s, ReservedPrefix+"on_schema_change"); err != nil {
		t.Fatalf("Subscribe to a reserved topic: %v, want nil", err)
	}
	err = b.Publish(s, Publication{Topic: ReservedPrefix + "on_schema_change", Event: []byte(`1`)})
	if !errors.Is(err, ErrReservedTopic) || !strings.Contains(err.Error(), "wamp.bridge.on_schema_change") {
		t.Errorf("client Publish to a reserved topic = %v, want ErrReservedTopic naming the topic", err)
	}
	if err := b.Publish(nil, Publication{Topic: ReservedPrefix + "on_schema_change", Event: []byte(`1`)}); err != nil {
		t.Errorf("bridge Publish (no session) to a reserved topic = %v, want nil", err)
	}
}
