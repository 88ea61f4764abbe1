package broker

import (
	"encoding/json"
	"errors"
	"slices"
	"sync"
	"testing"
)

// fakeSub is a Subscriber with a bounded queue that records what it gets.
type fakeSub struct {
	id       string
	capacity int

	mu     sync.Mutex
	frames []string
	kicks  []string
}

// newSub returns a subscriber whose queue holds capacity frames; it never
// drains, so the capacity bounds all it will ever accept.
func newSub(id string, capacity int) *fakeSub { return &fakeSub{id: id, capacity: capacity} }

// newSubs returns subscribers with practically unbounded queues.
func newSubs(ids ...string) []*fakeSub {
	subs := make([]*fakeSub, len(ids))
	for i, id := range ids {
		subs[i] = newSub(id, 1<<20)
	}
	return subs
}

func (s *fakeSub) SessionID() string { return s.id }

func (s *fakeSub) Deliver(frame []byte) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.frames) >= s.capacity {
		return false
	}
	s.frames = append(s.frames, string(frame))
	return true
}

func (s *fakeSub) Kick(reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.kicks = append(s.kicks, reason)
}

func (s *fakeSub) got() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.frames)
}

func (s *fakeSub) kicked() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.kicks)
}

// recorder records interest transitions as "topic+" and "topic-".
type recorder struct {
	mu     sync.Mutex
	events []string
}

func (r *recorder) hook(topic string, on bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if on {
		r.events = append(r.events, topic+"+")
	} else {
		r.events = append(r.events, topic+"-")
	}
}

func (r *recorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.events
	r.events = nil
	return e
}

// bus is a fake distributed backend: every Publish reaches the deliver
// function of every started replica once, after a JSON round trip as on a
// real wire.
type bus struct {
	mu       sync.Mutex
	delivers []func(Envelope)
}

// replica returns the Backend of one more replica on the bus; interest
// goes to rec.
func (b *bus) replica(rec *recorder) Backend { return &busReplica{bus: b, rec: rec} }

type busReplica struct {
	bus *bus
	rec *recorder
}

func (r *busReplica) Start(deliver func(Envelope)) error {
	r.bus.mu.Lock()
	defer r.bus.mu.Unlock()
	r.bus.delivers = append(r.bus.delivers, deliver)
	return nil
}

func (r *busReplica) Publish(env Envelope) error {
	data, err := json.Marshal(env)
	if err != nil {
		return err
	}
	r.bus.mu.Lock()
	delivers := slices.Clone(r.bus.delivers)
	r.bus.mu.Unlock()
	for _, d := range delivers {
		var got Envelope
		if err := json.Unmarshal(data, &got); err != nil {
			return err
		}
		d(got)
	}
	return nil
}

func (r *busReplica) Interest(topic string, on bool) { r.rec.hook(topic, on) }

func (r *busReplica) Close() error { return nil }

// failingBackend fails Start or Publish.
type failingBackend struct{ start, publish error }

var errBackend = errors.New("backend down")

func (f failingBackend) Start(func(Envelope)) error { return f.start }
func (f failingBackend) Publish(Envelope) error     { return f.publish }
func (f failingBackend) Interest(string, bool)      {}
func (f failingBackend) Close() error               { return nil }

func newBroker(t testing.TB, o Options) *Broker {
	t.Helper()
	b, err := New(o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return b
}

func subscribe(t testing.TB, b *Broker, topic string, subs ...*fakeSub) {
	t.Helper()
	for _, s := range subs {
		if err := b.Subscribe(s, topic); err != nil {
			t.Fatalf("Subscribe(%s, %q): %v", s.id, topic, err)
		}
	}
}

func ptr[T any](v T) *T { return &v }
