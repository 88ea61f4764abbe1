package bridge

import (
	"encoding/json"
	"fmt"

	"github.com/wampbridge/grpcwamp/bridge/internal/broker"
	"github.com/wampbridge/grpcwamp/bridge/internal/feed"
	"github.com/wampbridge/grpcwamp/bridge/internal/natsbus"
)

// Feed binds a topic to a gRPC server-streaming method: while at least one
// client of this bridge is subscribed to the topic, the bridge holds one
// upstream stream of the method, called with Request, and publishes every
// stream message as an EVENT to the topic's subscribers.
//
// Topic may hold one placeholder, as in "ticker.{symbol}": then every
// concrete topic that matches ("ticker.AAPL") gets a stream of its own, with
// the matched text as the string value of the request field named in the
// placeholder.
type Feed struct {
	Topic     string
	Procedure string
	Request   json.RawMessage // a JSON object, or empty for an empty request
}

// ParseFeed parses the -feed flag's form: `TOPIC PROCEDURE [JSON]`, e.g.
// `clock demo.v1.ClockService.GetProgressiveTime {"count":100000}`.
func ParseFeed(s string) (Feed, error) {
	b, err := feed.ParseBinding(s)
	if err != nil {
		return Feed{}, fmt.Errorf("bridge: %w", err)
	}
	return Feed{Topic: b.Topic, Procedure: b.Procedure, Request: b.Request}, nil
}

// WithFeeds adds gRPC-fed topics. A feed whose form is wrong (see
// ParseFeed: braces, an empty placeholder, a request that is not JSON, or
// not an object for a placeholder, a topic bound twice) makes NewHandler
// fail. What needs the schema is checked each time a version of it loads,
// at start and on each reload that changes it: a feed whose procedure
// names no method, or one that does not stream, or whose placeholder is
// not a field of the request, is logged as a warning naming it, once per
// version, and NewHandler does not fail: the upstream may be unreachable
// at start, or gain the method with its next deploy.
func WithFeeds(feeds ...Feed) Option {
	return func(c *config) { c.feeds = append(c.feeds, feeds...) }
}

// WithPublisherReceives sets whether a bare PUBLISH [7, topic, event]
// reaches its own publisher when it is subscribed. The default is true, as
// the WAMP v1 text and sgcWebSockets have it; excludeMe overrides it per
// publication.
func WithPublisherReceives(on bool) Option {
	return func(c *config) { c.publisherReceives = on }
}

// WithMaxSubscriptions bounds the topics one session may subscribe to; a
// SUBSCRIBE beyond it is dropped and counted. The default is 256.
func WithMaxSubscriptions(n int) Option {
	return func(c *config) { c.maxSubscriptions = n }
}

// DefaultMaxFeedStreams is the default of [WithMaxFeedStreams].
const DefaultMaxFeedStreams = feed.DefaultMaxStreams

// WithMaxFeedStreams bounds the upstream streams that topics fed by a gRPC
// stream (WithFeed) run at once, over all topics: each concrete topic of a
// placeholder binding is a stream of its own, and clients choose the
// topics. A topic that gains a subscriber beyond it waits until another
// topic's stream ends for good. The default is [DefaultMaxFeedStreams].
func WithMaxFeedStreams(n int) Option {
	return func(c *config) { c.maxFeedStreams = n }
}

// WithMaxEventSize bounds the event payload of a PUBLISH; a larger one is
// dropped and counted. The default is 64 KiB.
func WithMaxEventSize(bytes int) Option {
	return func(c *config) { c.maxEventSize = bytes }
}

// WithEventQueue sets how many EVENT frames may wait for a slow WebSocket;
// a subscriber whose queue is full is disconnected with 1008 as too slow,
// so that it cannot stall a topic. The default is 256.
func WithEventQueue(frames int) Option {
	return func(c *config) { c.eventQueue = frames }
}

// WithNATS fans PUBLISH out across bridge replicas through the NATS server
// at url (e.g. "nats://127.0.0.1:4222"): a publication on any replica
// reaches the subscribers of every replica exactly once. gRPC-fed topics
// are not sent through NATS: each replica feeds its own subscribers. The
// default is in-process fan-out.
func WithNATS(url string) Option {
	return func(c *config) { c.natsURL = url }
}

// newBroker builds the broker, its backend and the feeds of cfg. Call
// goes through core.
func newBroker(cfg config, caller feed.Caller, stats *broker.Stats) (*broker.Broker, *feed.Manager, error) {
	var backend broker.Backend
	if cfg.natsURL != "" {
		bus, err := natsbus.New(cfg.natsURL, natsbus.Options{Logger: cfg.logger, Name: "grpcwamp"})
		if err != nil {
			return nil, nil, fmt.Errorf("bridge: %w", err)
		}
		backend = bus
	}
	bindings := make([]feed.Binding, len(cfg.feeds))
	for i, f := range cfg.feeds {
		bindings[i] = feed.Binding{Topic: f.Topic, Procedure: f.Procedure, Request: f.Request}
	}
	// The broker tells the feeds when a topic gains its first subscriber
	// and the feeds publish into the broker: the manager is made first,
	// with the broker filled in before anything can subscribe.
	var b *broker.Broker
	pub := publisherFunc(func(topic string, event json.RawMessage) { b.DeliverLocal(topic, event) })
	feeds, err := feed.New(bindings, caller, pub, feed.Options{Logger: cfg.logger, MaxStreams: cfg.maxFeedStreams})
	if err != nil {
		if backend != nil {
			backend.Close()
		}
		return nil, nil, fmt.Errorf("bridge: %w", err)
	}
	b, err = broker.New(broker.Options{
		PublisherReceives: cfg.publisherReceives,
		MaxSubscriptions:  cfg.maxSubscriptions,
		MaxEventSize:      cfg.maxEventSize,
		Backend:           backend,
		OnInterest:        feeds.Interest,
		Logger:            cfg.logger,
		Stats:             stats,
	})
	if err != nil {
		feeds.Close()
		if backend != nil {
			backend.Close()
		}
		return nil, nil, fmt.Errorf("bridge: %w", err)
	}
	return b, feeds, nil
}

type publisherFunc func(topic string, event json.RawMessage)

func (f publisherFunc) DeliverLocal(topic string, event json.RawMessage) { f(topic, event) }
