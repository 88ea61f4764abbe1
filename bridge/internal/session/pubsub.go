package session

import (
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/gorilla/websocket"

	"github.com/wampbridge/grpcwamp/bridge/internal/broker"
	"github.com/wampbridge/grpcwamp/bridge/wampv1"
)

// The session is the broker's subscriber: these methods implement
// broker.Subscriber.
var _ broker.Subscriber = (*session)(nil)

// SessionID returns the session id sent in WELCOME.
func (s *session) SessionID() string { return s.id }

// Deliver queues an EVENT frame without blocking; false means the event
// queue is full and the broker will kick the session.
func (s *session) Deliver(frame []byte) bool { return s.events.push(frame) }

// eventQueue is the bounded queue of EVENT frames for the writer. It holds
// memory only for the frames queued (a session that is subscribed to
// nothing holds none), where a channel would hold room for the limit.
type eventQueue struct {
	limit int           // frames queued at most
	ready chan struct{} // capacity 1: frames may be queued

	n      atomic.Int32 // frames queued, for a pop that finds none without locking
	mu     sync.Mutex
	frames [][]byte // frames[head:] are queued
	head   int
}

// push queues f unless limit frames are queued already.
func (q *eventQueue) push(f []byte) bool {
	q.mu.Lock()
	if len(q.frames)-q.head >= q.limit {
		q.mu.Unlock()
		return false
	}
	if q.head > 0 && len(q.frames) == cap(q.frames) {
		n := copy(q.frames, q.frames[q.head:])
		clear(q.frames[n:])
		q.frames, q.head = q.frames[:n], 0
	}
	q.frames = append(q.frames, f)
	q.n.Add(1)
	q.mu.Unlock()
	select {
	case q.ready <- struct{}{}:
	default:
	}
	return true
}

// maxIdleEvents bounds the room an emptied event queue keeps.
const maxIdleEvents = 16

// pop takes the oldest frame queued, if any.
func (q *eventQueue) pop() ([]byte, bool) {
	if q.n.Load() == 0 {
		return nil, false
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.head == len(q.frames) {
		return nil, false
	}
	f := q.frames[q.head]
	q.frames[q.head] = nil
	q.head++
	q.n.Add(-1)
	if q.head == len(q.frames) {
		q.head = 0
		if cap(q.frames) > maxIdleEvents {
			q.frames = nil
		} else {
			q.frames = q.frames[:0]
		}
	}
	return f, true
}

// Kick closes the session as a subscriber too slow to keep up. Events go
// on to the other subscribers; this one would only fall further behind.
func (s *session) Kick(reason string) {
	s.cfg.Logger.Info("closing slow subscriber", "session", s.id, "reason", reason, "event_queue", s.cfg.EventQueue)
	reason = fmt.Sprintf("%s (%d EVENT frames waiting): read events faster or subscribe to fewer topics",
		reason, s.cfg.EventQueue)
	s.cancel(&closeError{code: websocket.ClosePolicyViolation, reason: reason})
}

// subscribe handles SUBSCRIBE. WAMP v1 has no acknowledgement for it, so a
// refused one is dropped and counted.
func (s *session) subscribe(m *wampv1.Subscribe) {
	if s.cfg.Broker == nil {
		s.cfg.Stats.DroppedPubSub.Add(1)
		return
	}
	topic, ok := s.topic(m.TopicURI)
	if !ok {
		return
	}
	if err := s.cfg.Broker.Subscribe(s, topic); err != nil {
		s.cfg.Stats.DroppedPubSub.Add(1)
		s.cfg.Logger.Debug("subscribe refused", "session", s.id, "error", err)
	}
}

// publish handles PUBLISH; a refused one is dropped and counted.
func (s *session) publish(m *wampv1.Publish) {
	if s.cfg.Broker == nil {
		s.cfg.Stats.DroppedPubSub.Add(1)
		return
	}
	topic, ok := s.topic(m.TopicURI)
	if !ok {
		return
	}
	err := s.cfg.Broker.Publish(s, broker.Publication{
		Topic:     topic,
		Event:     m.Event,
		ExcludeMe: m.ExcludeMe,
		Exclude:   m.Exclude,
		Eligible:  m.Eligible,
	})
	if err != nil {
		s.cfg.Stats.DroppedPubSub.Add(1)
		s.cfg.Logger.Debug("publish refused", "session", s.id, "error", err)
	}
}
