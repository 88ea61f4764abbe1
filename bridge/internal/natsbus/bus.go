package natsbus

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/nats-io/nats.go"

	"github.com/wampbridge/grpcwamp/bridge/internal/broker"
)

// ErrClosed is returned by [Bus.Publish] after [Bus.Close].
var ErrClosed = errors.New("natsbus: bus is closed")

// Options configure a [Bus]. The zero value is usable.
type Options struct {
	// Subject is the subject prefix of every topic subject: replicas that
	// must see each other's publications use the same one. Default
	// [DefaultSubject]. It must be a literal subject (no wildcards).
	Subject string
	// Name is the NATS connection name shown by the server's monitoring
	// endpoints. Default "grpcwamp-bridge".
	Name string
	// DrainTimeout bounds how long [Bus.Close] waits for messages already
	// received to be delivered and for publications to be flushed.
	// Default 5s.
	DrainTimeout time.Duration
	// Logger receives connection state changes and dropped messages.
	// Default slog.Default().
	Logger *slog.Logger
}

// Bus is a [broker.Backend] over one NATS connection. All its methods are
// safe for concurrent use.
type Bus struct {
	nc     *nats.Conn
	prefix string
	log    *slog.Logger
	closed chan struct{} // closed by the connection's ClosedHandler

	deliver    atomic.Pointer[func(broker.Envelope)]
	drainError atomic.Pointer[error] // ErrDrainTimeout, reported asynchronously

	mu      sync.Mutex
	subs    map[string]*nats.Subscription // topic -> subscription
	started bool
	closing bool

	closeOnce sync.Once
	closeErr  error
}

var _ broker.Backend = (*Bus)(nil)

// New connects to the NATS server(s) at natsURL (a comma-separated list is
// accepted, as by nats.Connect) and returns a Bus that is not yet started.
// The first connection must succeed: when no server is reachable New fails
// at once rather than starting a bridge that silently cannot reach its
// peers. Once connected, the bus reconnects forever, logging each
// disconnection and reconnection.
func New(natsURL string, o Options) (*Bus, error) {
	if o.Subject == "" {
		o.Subject = DefaultSubject
	}
	if err := checkPrefix(o.Subject); err != nil {
		return nil, err
	}
	if o.Name == "" {
		o.Name = "grpcwamp-bridge"
	}
	if o.DrainTimeout <= 0 {
		o.DrainTimeout = 5 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	b := &Bus{
		prefix: o.Subject,
		log:    o.Logger,
		closed: make(chan struct{}),
		subs:   make(map[string]*nats.Subscription),
	}
	nc, err := nats.Connect(natsURL,
		nats.Name(o.Name),
		nats.MaxReconnects(-1),
		nats.DrainTimeout(o.DrainTimeout),
		nats.DisconnectErrHandler(b.onDisconnect),
		nats.ReconnectHandler(b.onReconnect),
		nats.ReconnectErrHandler(b.onReconnectError),
		nats.ClosedHandler(func(*nats.Conn) { close(b.closed) }),
		nats.ErrorHandler(b.onAsyncError),
	)
	if err != nil {
		return nil, fmt.Errorf("natsbus: connect to NATS at %q: %w "+
			"(is a NATS server running and reachable at that address? start one, "+
			"or fix the NATS URL, or run a single replica without NATS)",
			redact(natsURL), err)
	}
	b.nc = nc
	b.log.Info("natsbus: connected to NATS",
		"server", nc.ConnectedUrlRedacted(), "subject", b.prefix+".*", "name", o.Name)
	return b, nil
}

// Start records deliver, which receives every envelope of the topics this
// replica has interest in, from every replica including this one. It is
// called from the NATS subscription goroutines, one per topic, so it may be
// called concurrently for different topics and must not block for long.
func (b *Bus) Start(deliver func(broker.Envelope)) error {
	if deliver == nil {
		return errors.New("natsbus: Start: deliver is nil")
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closing {
		return ErrClosed
	}
	if b.started {
		return errors.New("natsbus: Start called twice")
	}
	b.started = true
	b.deliver.Store(&deliver)
	return nil
}

// Publish sends env to every replica that has interest in env.Topic, this
// one included. It returns once the message is in the connection's outgoing
// buffer: while the connection is down that buffer holds publications until
// it reconnects (or fills, which is an error). Publications of one topic
// from one replica reach every replica in the order Publish was called.
func (b *Bus) Publish(env broker.Envelope) error {
	data, err := json.Marshal(env)
	if err != nil {
		return fmt.Errorf("natsbus: publish to topic %q: encode envelope: %w", env.Topic, err)
	}
	b.mu.Lock()
	closing := b.closing
	b.mu.Unlock()
	if closing {
		return fmt.Errorf("natsbus: publish to topic %q: %w", env.Topic, ErrClosed)
	}
	if err := b.nc.Publish(subjectFor(b.prefix, env.Topic), data); err != nil {
		if errors.Is(err, nats.ErrMaxPayload) {
			return fmt.Errorf("natsbus: publish to topic %q: envelope of %d bytes exceeds the NATS server's max_payload of %d bytes: %w",
				env.Topic, len(data), b.nc.MaxPayload(), err)
		}
		return fmt.Errorf("natsbus: publish to topic %q: %w", env.Topic, err)
	}
	return nil
}

// flushTimeout bounds the wait for the server to confirm a subscription.
const flushTimeout = 5 * time.Second

// Interest subscribes this replica to topic's subject (on) or unsubscribes
// it (off). A repeated call in the same direction does nothing, so there is
// at most one subscription per topic and each envelope is delivered once.
//
// Interest(topic, true) waits (one round trip, at most flushTimeout) until
// the server has the subscription, so that whatever is published anywhere
// after the SUBSCRIBE that caused it reaches this replica. A callback
// already running when Interest(topic, false) returns may still deliver one
// envelope of topic. Failures are logged: Interest has no error to return.

func (b *Bus) Interest(topic string, on bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closing {
		return
	}
	sub, have := b.subs[topic]
	switch {
	case on && !have:
		subject := subjectFor(b.prefix, topic)
		sub, err := b.nc.Subscribe(subject, func(m *nats.Msg) { b.receive(topic, m) })
		if err != nil {
			b.log.Error("natsbus: subscribe failed; this replica will not receive the topic's events",
				"topic", topic, "subject", subject, "error", err)
			return
		}
		b.subs[topic] = sub
		// Wait until the server has the subscription, so that a PUBLISH
		// made anywhere after the SUBSCRIBE that caused it reaches this
		// replica. One round trip, once per topic and replica.
		if err := b.nc.FlushTimeout(flushTimeout); err != nil {
			b.log.Warn("natsbus: subscription not confirmed by the server; events published meanwhile may be missed",
				"topic", topic, "subject", subject, "error", err)
		}
	case !on && have:
		delete(b.subs, topic)
		if err := sub.Unsubscribe(); err != nil {
			b.log.Warn("natsbus: unsubscribe failed",
				"topic", topic, "subject", sub.Subject, "error", err)
		}
	}
}

// receive decodes one message of topic's subscription and delivers it.
func (b *Bus) receive(topic string, m *nats.Msg) {
	// encoding/json lets invalid UTF-8 through into the event's raw JSON,
	// and a text frame carrying it makes WebSocket clients fail the
	// connection (1007). Replicas only ever publish valid UTF-8: the WAMP
	// decoder checks every frame a client sends.
	if !utf8.Valid(m.Data) {
		b.log.Warn("natsbus: dropped a message that is not valid UTF-8",
			"topic", topic, "subject", m.Subject, "bytes", len(m.Data))
		return
	}
	var env broker.Envelope
	if err := json.Unmarshal(m.Data, &env); err != nil {
		b.log.Warn("natsbus: dropped a message that is not an envelope",
			"topic", topic, "subject", m.Subject, "bytes", len(m.Data), "error", err)
		return
	}
	if env.Topic != topic {
		b.log.Warn("natsbus: dropped an envelope of another topic",
			"topic", topic, "subject", m.Subject, "envelopeTopic", env.Topic)
		return
	}
	deliver := b.deliver.Load()
	if deliver == nil {
		b.log.Warn("natsbus: dropped an envelope received before Start", "topic", topic)
		return
	}
	(*deliver)(env)
}

// Close stops delivering: it unsubscribes every topic, lets the envelopes
// already received reach deliver, flushes pending publications, closes the
// connection and returns when the connection's goroutines have been told to
// end. No deliver call starts after Close returns, unless draining timed out
// (see [Options.DrainTimeout]), which Close reports. Close may be called
// more than once; later calls return the first call's result.
func (b *Bus) Close() error {
	b.closeOnce.Do(func() { b.closeErr = b.close() })
	return b.closeErr
}

func (b *Bus) close() error {
	b.mu.Lock()
	b.closing = true
	clear(b.subs) // draining unsubscribes them all
	b.mu.Unlock()

	// Drain falls back to Close when the connection is reconnecting; either
	// way the ClosedHandler runs and closes b.closed.
	if err := b.nc.Drain(); err != nil && !errors.Is(err, nats.ErrConnectionReconnecting) &&
		!errors.Is(err, nats.ErrConnectionClosed) {
		b.nc.Close()
	}
	<-b.closed
	b.log.Debug("natsbus: closed")
	if p := b.drainError.Load(); p != nil {
		return fmt.Errorf("natsbus: close: %w", *p)
	}
	return nil
}

func (b *Bus) onDisconnect(nc *nats.Conn, err error) {
	if err == nil {
		return // our own Close
	}
	b.log.Warn("natsbus: disconnected from NATS; reconnecting (events from other replicas are lost meanwhile)",
		"error", err)
}

func (b *Bus) onReconnect(nc *nats.Conn) {
	b.log.Info("natsbus: reconnected to NATS", "server", nc.ConnectedUrlRedacted())
}

func (b *Bus) onReconnectError(nc *nats.Conn, err error) {
	b.log.Debug("natsbus: reconnect attempt failed", "error", err)
}

func (b *Bus) onAsyncError(nc *nats.Conn, sub *nats.Subscription, err error) {
	if errors.Is(err, nats.ErrDrainTimeout) {
		b.drainError.Store(&err)
	}
	if sub == nil {
		b.log.Error("natsbus: NATS error", "error", err)
		return
	}
	topic := ""
	b.mu.Lock()
	for t, s := range b.subs {
		if s == sub {
			topic = t
			break
		}
	}
	b.mu.Unlock()
	if errors.Is(err, nats.ErrSlowConsumer) {
		b.log.Error("natsbus: this replica is not keeping up with a topic's events from NATS: some were dropped",
			"topic", topic, "subject", sub.Subject, "error", err)
		return
	}
	b.log.Error("natsbus: NATS error", "topic", topic, "subject", sub.Subject, "error", err)
}

// redact hides the passwords and tokens of a comma-separated URL list, for
// error messages.
func redact(urls string) string {
	parts := strings.Split(urls, ",")
	for i, p := range parts {
		u, err := url.Parse(strings.TrimSpace(p))
		if err != nil {
			if strings.Contains(p, "@") {
				parts[i] = "(unparsable URL)"
			}
			continue
		}
		if u.User != nil {
			u.User = url.User("xxxxx")
			parts[i] = u.String()
		}
	}
	return strings.Join(parts, ",")
}
