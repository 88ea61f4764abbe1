package broker

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/wampbridge/grpcwamp/bridge/wampv1"
)

// Defaults of [Options].
const (
	DefaultMaxSubscriptions = 256
	DefaultMaxEventSize     = 64 << 10
)

// KickReason is the reason given to [Subscriber.Kick] when a subscriber's
// event queue is full.
const KickReason = "too slow: the event queue was full"

var (
	// ErrTooManySubscriptions is returned by [Broker.Subscribe] when the
	// session already holds Options.MaxSubscriptions subscriptions.
	ErrTooManySubscriptions = errors.New("broker: too many subscriptions")
	// ErrEventTooLarge is returned by [Broker.Publish] for an event payload
	// larger than Options.MaxEventSize.
	ErrEventTooLarge = errors.New("broker: event too large")
	// ErrClosed is returned by Subscribe and Publish after [Broker.Close].
	ErrClosed = errors.New("broker: closed")
	// ErrReservedTopic is returned by [Broker.Publish] when a client
	// publishes to a topic under [ReservedPrefix].
	ErrReservedTopic = errors.New("broker: reserved topic")
)

// ReservedPrefix starts the meta topics on which only the bridge itself
// publishes (such as wamp.bridge.on_schema_change): a client's PUBLISH to
// one is refused, so subscribers can trust what arrives there.
const ReservedPrefix = "wamp.bridge."

// Broker keeps the subscriptions of this replica's sessions and delivers
// publications to them. It is safe for concurrent use.
//
// Subscribers are map keys: each session must be one comparable value
// (a pointer) for its whole life, and a session that subscribed must call
// [Broker.Leave] when it ends.
type Broker struct {
	backend           Backend
	onInterest        func(topic string, on bool)
	publisherReceives bool
	maxSubscriptions  int
	maxEventSize      int
	logger            *slog.Logger
	stats             *Stats

	mu       sync.RWMutex
	topics   map[string]*topic
	sessions map[Subscriber]map[string]struct{} // never holds an empty set
	closed   bool
	// pending holds interest transitions in the order they happened; one
	// caller at a time (draining) runs them outside mu.
	pending  []interest
	draining bool
}

type topic struct {
	subs map[Subscriber]struct{}
	// snap caches subs as a slice for fan-out. It is cleared under the write
	// lock and rebuilt under the read lock: every builder of one version
	// builds the same slice, so whichever store wins is right.
	snap atomic.Pointer[[]Subscriber]
}

type interest struct {
	topic string
	on    bool
}

// New returns a broker using o, with o's zero fields defaulted, and starts
// its backend. On error it does not close o.Backend.
func New(o Options) (*Broker, error) {
	if o.MaxSubscriptions < 0 {
		return nil, fmt.Errorf("broker: MaxSubscriptions must not be negative, got %d", o.MaxSubscriptions)
	}
	if o.MaxEventSize < 0 {
		return nil, fmt.Errorf("broker: MaxEventSize must not be negative, got %d", o.MaxEventSize)
	}
	b := &Broker{
		backend:           o.Backend,
		onInterest:        o.OnInterest,
		publisherReceives: o.PublisherReceives,
		maxSubscriptions:  o.MaxSubscriptions,
		maxEventSize:      o.MaxEventSize,
		logger:            o.Logger,
		stats:             o.Stats,
		topics:            make(map[string]*topic),
		sessions:          make(map[Subscriber]map[string]struct{}),
	}
	if b.backend == nil {
		b.backend = NewLocal()
	}
	if b.maxSubscriptions == 0 {
		b.maxSubscriptions = DefaultMaxSubscriptions
	}
	if b.maxEventSize == 0 {
		b.maxEventSize = DefaultMaxEventSize
	}
	if b.logger == nil {
		b.logger = slog.New(slog.DiscardHandler)
	}
	if b.stats == nil {
		b.stats = new(Stats)
	}
	if err := b.backend.Start(b.deliver); err != nil {
		return nil, fmt.Errorf("broker: starting the backend: %w", err)
	}
	return b, nil
}

// Stats returns the counters the broker updates: Options.Stats or its own.
func (b *Broker) Stats() *Stats { return b.stats }

// Subscribe subscribes s to topic. Subscribing again to a topic s is
// subscribed to does nothing. The first local subscriber of a topic
// announces interest in it. The error wraps [ErrTooManySubscriptions] or
// [ErrClosed].
func (b *Broker) Subscribe(s Subscriber, topicURI string) error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return fmt.Errorf("subscribe to topic %q: %w", topicURI, ErrClosed)
	}
	set := b.sessions[s]
	if _, ok := set[topicURI]; ok {
		b.mu.Unlock()
		return nil
	}
	if len(set) >= b.maxSubscriptions {
		b.mu.Unlock()
		b.stats.Refused.Add(1)
		return fmt.Errorf("%w: topic %q: session %q holds %d subscriptions, the limit (MaxSubscriptions)",
			ErrTooManySubscriptions, topicURI, s.SessionID(), b.maxSubscriptions)
	}
	if set == nil {
		set = make(map[string]struct{})
		b.sessions[s] = set
	}
	set[topicURI] = struct{}{}
	t := b.topics[topicURI]
	if t == nil {
		t = &topic{subs: make(map[Subscriber]struct{})}
		b.topics[topicURI] = t
		b.pending = append(b.pending, interest{topicURI, true})
	}
	t.subs[s] = struct{}{}
	t.snap.Store(nil)
	b.unlock()
	return nil
}

// Unsubscribe removes the subscription of s to topic, if any. The last
// local subscriber of a topic withdraws interest in it.
func (b *Broker) Unsubscribe(s Subscriber, topicURI string) {
	b.mu.Lock()
	set := b.sessions[s]
	if _, ok := set[topicURI]; ok {
		delete(set, topicURI)
		if len(set) == 0 {
			delete(b.sessions, s)
		}
		b.removeLocked(s, topicURI)
	}
	b.unlock()
}

// Leave removes every subscription of s, withdrawing interest in the
// topics it was the last local subscriber of. Sessions call it when they
// end.
func (b *Broker) Leave(s Subscriber) {
	b.mu.Lock()
	b.leaveLocked(s)
	b.unlock()
}

// leaveLocked removes every subscription of s and reports whether it had
// any.
func (b *Broker) leaveLocked(s Subscriber) bool {
	set, ok := b.sessions[s]
	if !ok {
		return false
	}
	delete(b.sessions, s)
	for topicURI := range set {
		b.removeLocked(s, topicURI)
	}
	return true
}

// removeLocked removes s from the subscribers of topicURI.
func (b *Broker) removeLocked(s Subscriber, topicURI string) {
	t := b.topics[topicURI]
	if t == nil {
		return
	}
	delete(t.subs, s)
	t.snap.Store(nil)
	if len(t.subs) == 0 {
		delete(b.topics, topicURI)
		b.pending = append(b.pending, interest{topicURI, false})
	}
}

// unlock releases the write lock and then, unless another caller is at it
// already, runs the pending interest transitions.
func (b *Broker) unlock() {
	run := len(b.pending) > 0 && !b.draining
	if run {
		b.draining = true
	}
	b.mu.Unlock()
	if run {
		b.drain()
	}
}

// drain runs pending interest transitions until there are none; only the
// caller that set draining runs it, so the hooks see them in order.
func (b *Broker) drain() {
	for {
		b.mu.Lock()
		batch := b.pending
		b.pending = nil
		if len(batch) == 0 {
			b.draining = false
			b.mu.Unlock()
			return
		}
		b.mu.Unlock()
		for _, in := range batch {
			if b.onInterest != nil {
				b.onInterest(in.topic, in.on)
			}
			b.backend.Interest(in.topic, in.on)
		}
	}
}

// Publish sends a publication of s to every replica through the backend.
// s may be nil for a publication of no session. The error wraps
// [ErrReservedTopic], [ErrEventTooLarge], [ErrClosed] or the backend's error.
func (b *Broker) Publish(s Subscriber, p Publication) error {
	if s != nil && strings.HasPrefix(p.Topic, ReservedPrefix) {
		b.stats.Refused.Add(1)
		return fmt.Errorf("%w: topic %q: topics under %q are the bridge's meta topics; clients may subscribe to them but not publish",
			ErrReservedTopic, p.Topic, ReservedPrefix)
	}
	if len(p.Event) > b.maxEventSize {
		b.stats.Refused.Add(1)
		return fmt.Errorf("%w: topic %q: event of %d bytes exceeds the limit (MaxEventSize) of %d bytes",
			ErrEventTooLarge, p.Topic, len(p.Event), b.maxEventSize)
	}
	b.mu.RLock()
	closed := b.closed
	b.mu.RUnlock()
	if closed {
		return fmt.Errorf("publish to topic %q: %w", p.Topic, ErrClosed)
	}
	env := Envelope{
		Topic:       p.Topic,
		Event:       p.Event,
		Exclude:     p.Exclude,
		Eligible:    p.Eligible,
		HasEligible: p.Eligible != nil,
	}
	if s != nil && b.excludesPublisher(p) {
		// A fresh slice: p.Exclude belongs to the caller.
		env.Exclude = append(append(make([]string, 0, len(p.Exclude)+1), p.Exclude...), s.SessionID())
	}
	if err := b.backend.Publish(env); err != nil {
		return fmt.Errorf("broker: publish to topic %q: %w", p.Topic, err)
	}
	b.stats.Published.Add(1)
	return nil
}

// excludesPublisher applies excludeMe: explicit in [7,t,e,excludeMe], the
// configured default in a bare [7,t,e], and never in the list forms, where
// the publisher is excluded only if listed.
func (b *Broker) excludesPublisher(p Publication) bool {
	if p.ExcludeMe != nil {
		return *p.ExcludeMe
	}
	if p.Exclude != nil || p.Eligible != nil {
		return false
	}
	return !b.publisherReceives
}

// DeliverLocal delivers event to this replica's subscribers of topicURI
// without going through the backend: gRPC-fed topics use it, as each
// replica feeds its own subscribers. It does not check MaxEventSize.
func (b *Broker) DeliverLocal(topicURI string, event json.RawMessage) {
	b.deliver(Envelope{Topic: topicURI, Event: event})
}

// Close closes the backend; Subscribe and Publish fail afterwards. It does
// not call OnInterest: whoever runs fed topics stops them.
func (b *Broker) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	b.mu.Unlock()
	if err := b.backend.Close(); err != nil {
		return fmt.Errorf("broker: closing the backend: %w", err)
	}
	return nil
}

// deliver is the backend's delivery function: it sends env to the local
// subscribers of its topic that pass its filters. It holds no lock while
// calling Deliver or Kick.
func (b *Broker) deliver(env Envelope) {
	b.mu.RLock()
	var receivers []Subscriber
	if t := b.topics[env.Topic]; t != nil {
		receivers = t.snapshot()
	}
	b.mu.RUnlock()
	if len(receivers) == 0 {
		return
	}
	f := newFilter(env)
	var (
		frame     []byte
		delivered int64
		slow      []Subscriber
	)
	for _, s := range receivers {
		if !f.allows(s.SessionID()) {
			continue
		}
		if frame == nil {
			frame = wampv1.Encode(&wampv1.Event{TopicURI: env.Topic, Event: env.Event})
		}
		if s.Deliver(frame) {
			delivered++
		} else {
			slow = append(slow, s)
		}
	}
	b.stats.Delivered.Add(delivered)
	for _, s := range slow {
		b.kick(s, env.Topic)
	}
}

// kick removes a subscriber whose queue was full from every topic and
// disconnects it. Of concurrent deliveries that found it full, only the
// first kicks and counts it; one that has left already is not kicked.
func (b *Broker) kick(s Subscriber, topicURI string) {
	b.mu.Lock()
	had := b.leaveLocked(s)
	run := len(b.pending) > 0 && !b.draining
	if run {
		b.draining = true
	}
	b.mu.Unlock()
	if had {
		b.stats.SlowDisconnects.Add(1)
		b.logger.Info("broker: kicking slow subscriber", "session", s.SessionID(), "topic", topicURI)
		s.Kick(KickReason)
	}
	if run {
		b.drain()
	}
}

// snapshot returns the subscribers as a slice that is never modified. The
// caller holds at least the read lock.
func (t *topic) snapshot() []Subscriber {
	if p := t.snap.Load(); p != nil {
		return *p
	}
	s := make([]Subscriber, 0, len(t.subs))
	for sub := range t.subs {
		s = append(s, sub)
	}
	t.snap.Store(&s)
	return s
}

// setThreshold is the list length from which a filter builds a set rather
// than scanning the list for every receiver.
const setThreshold = 8

// filter decides by session id whether a receiver passes an envelope's
// exclude and eligible lists.
type filter struct {
	exclude, eligible []string
	hasEligible       bool
	excludeSet        map[string]struct{}
	eligibleSet       map[string]struct{}
}

func newFilter(env Envelope) filter {
	f := filter{exclude: env.Exclude, eligible: env.Eligible, hasEligible: env.HasEligible}
	if len(f.exclude) >= setThreshold {
		f.excludeSet = toSet(f.exclude)
	}
	if len(f.eligible) >= setThreshold {
		f.eligibleSet = toSet(f.eligible)
	}
	return f
}

func (f *filter) allows(id string) bool {
	if f.hasEligible && !contains(f.eligible, f.eligibleSet, id) {
		return false
	}
	return !contains(f.exclude, f.excludeSet, id)
}

func contains(list []string, set map[string]struct{}, id string) bool {
	if set != nil {
		_, ok := set[id]
		return ok
	}
	return slices.Contains(list, id)
}

func toSet(list []string) map[string]struct{} {
	m := make(map[string]struct{}, len(list))
	for _, s := range list {
		m[s] = struct{}{}
	}
	return m
}
