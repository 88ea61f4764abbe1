package session

import (
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
func (s *session) Deliver(frame []byte) bool {
	select {
	case s.events <- frame:
		return true
	default:
		return false
	}
}

// Kick closes the session as a subscriber too slow to keep up. Events go
// on to the other subscribers; this one would only fall further behind.
func (s *session) Kick(reason string) {
	s.logger.Info("closing slow subscriber", "reason", reason)
	s.cancel(&closeError{code: websocket.ClosePolicyViolation, reason: reason})
}

// subscribe handles SUBSCRIBE. WAMP v1 has no acknowledgement for it, so a
// refused one is dropped and counted.
func (s *session) subscribe(m *wampv1.Subscribe) {
	if s.cfg.Broker == nil {
		s.stats.DroppedPubSub.Add(1)
		return
	}
	if err := s.cfg.Broker.Subscribe(s, s.prefixes.Expand(m.TopicURI)); err != nil {
		s.stats.DroppedPubSub.Add(1)
		s.logger.Debug("subscribe refused", "error", err)
	}
}

// publish handles PUBLISH; a refused one is dropped and counted.
func (s *session) publish(m *wampv1.Publish) {
	if s.cfg.Broker == nil {
		s.stats.DroppedPubSub.Add(1)
		return
	}
	err := s.cfg.Broker.Publish(s, broker.Publication{
		Topic:     s.prefixes.Expand(m.TopicURI),
		Event:     m.Event,
		ExcludeMe: m.ExcludeMe,
		Exclude:   m.Exclude,
		Eligible:  m.Eligible,
	})
	if err != nil {
		s.stats.DroppedPubSub.Add(1)
		s.logger.Debug("publish refused", "error", err)
	}
}
