package broker

import (
	"encoding/json"
	"log/slog"
	"sync/atomic"
)

// Subscriber is one WAMP session as the broker sees it.
type Subscriber interface {
	// SessionID is the session id of WELCOME, unique across replicas.
	SessionID() string
	// Deliver queues an encoded EVENT frame without blocking. It returns
	// false when the session's event queue is full; the broker then calls
	// Kick. The frame is shared by every receiver: it must not be modified.
	Deliver(frame []byte) bool
	// Kick disconnects the session as too slow, with reason as the
	// WebSocket close reason. It must not block and may be called more
	// than once.
	Kick(reason string)
}

// Publication is a PUBLISH after CURIE expansion, in any of the four WAMP v1
// forms.
type Publication struct {
	Topic     string
	Event     json.RawMessage
	ExcludeMe *bool    // form [7, topic, event, excludeMe]
	Exclude   []string // forms [7, topic, event, exclude] and [.., exclude, eligible]
	Eligible  []string // nil: every subscriber is eligible
}

// Envelope is a publication with its receivers decided as far as the
// publishing replica can: it travels through the Backend to every replica,
// the publishing one included, and each replica delivers it to its own
// subscribers that pass the filters.
type Envelope struct {
	Topic string          `json:"t"`
	Event json.RawMessage `json:"e"`
	// Exclude lists session ids that must not receive the event: the
	// publication's exclude list, plus the publisher when excludeMe (or
	// the configured default) says so.
	Exclude []string `json:"x,omitempty"`
	// Eligible, when not nil, lists the only session ids that may receive it.
	Eligible []string `json:"el,omitempty"`
	// HasEligible distinguishes an empty eligible list (nobody) from none.
	HasEligible bool `json:"he,omitempty"`
}

// Backend carries envelopes between bridge replicas. The in-process backend
// (the default, [NewLocal]) hands each envelope straight back; a distributed
// one (NATS) sends it to every replica. Exactly once per replica: a
// replica's own publications come back to it through the backend, never by
// a shortcut.
type Backend interface {
	// Start begins delivering envelopes from every replica to deliver, which
	// must not block for long. It is called once, before any other method.
	Start(deliver func(Envelope)) error
	// Publish sends env to every replica, this one included.
	Publish(env Envelope) error
	// Interest tells the backend that this replica now has (true) or no
	// longer has (false) local subscribers of topic, so a backend can
	// subscribe only to topics someone here listens to.
	Interest(topic string, on bool)
	// Close stops delivering and releases the backend's resources.
	Close() error
}

// Options configure a Broker.
type Options struct {
	// PublisherReceives is the default of a bare PUBLISH [7, topic, event]:
	// true (WAMP v1 text, sgcWebSockets) delivers it to its publisher too if
	// subscribed.
	PublisherReceives bool
	// MaxSubscriptions bounds the topics one session may subscribe to.
	MaxSubscriptions int
	// MaxEventSize bounds the bytes of one event payload.
	MaxEventSize int
	// Backend carries publications between replicas; nil means in-process.
	Backend Backend
	// OnInterest, when set, is called when a topic gets its first local
	// subscriber (true) and loses its last one (false), in order per topic.
	// gRPC-fed topics start and stop their upstream streams on it. It must
	// not call back into the broker synchronously.
	OnInterest func(topic string, on bool)
	Logger     *slog.Logger
	Stats      *Stats
}

// Stats counts what the broker did and refused. Safe for concurrent use.
type Stats struct {
	Published       atomic.Int64 // publications accepted
	Delivered       atomic.Int64 // EVENT frames queued to subscribers
	Refused         atomic.Int64 // SUBSCRIBE and PUBLISH refused (limits, size): dropped
	SlowDisconnects atomic.Int64 // subscribers kicked because their queue was full
}
