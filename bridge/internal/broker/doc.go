// Package broker is the WAMP v1 broker of the bridge: topics,
// subscriptions, PUBLISH and EVENT fan-out among the bridge's sessions, and
// local delivery for topics fed by gRPC server streams.
//
// Topics arrive fully expanded: CURIE expansion is the session's job, and
// an EVENT always carries the topic URI the broker was given.
//
// # Receivers
//
// A publication reaches the subscribers of its topic, intersected with the
// eligible session ids when a list was given, minus the excluded ones, as
// WAMP v1 defines it. The four PUBLISH forms map to an [Envelope] so:
//
//	[7, topic, event]                      exclude the publisher unless Options.PublisherReceives
//	[7, topic, event, excludeMe]           exclude the publisher iff excludeMe is true
//	[7, topic, event, exclude]             exclude the listed sessions only
//	[7, topic, event, exclude, eligible]   the listed eligible sessions, minus exclude
//
// In the list forms the publisher is a session like any other. Session ids
// are unique across replicas, so the filters hold across them.
//
// # Fan-out never blocks a publisher
//
// The EVENT frame is encoded once per publication and replica and shared by
// every receiver. [Subscriber.Deliver] is non-blocking: a subscriber whose
// event queue is full is kicked as too slow and loses all its
// subscriptions, while the others go on receiving every event (as in the
// hub of gorilla/websocket's chat example). A slow socket therefore costs
// its own session, never a publisher or another subscriber. The broker
// never holds its lock while calling Deliver or Kick.
//
// # Backends and replicas
//
// Every publication goes through the [Backend], also on a single replica:
// the backend hands each envelope to every replica's broker, the publishing
// one included, exactly once, and each broker delivers it to its own
// subscribers. A replica never delivers its own publications by a
// shortcut, so nothing is delivered twice. [NewLocal], the default, is the
// in-process backend.
//
// # Interest
//
// When a topic gets its first local subscriber the broker calls
// Options.OnInterest(topic, true) and Backend.Interest(topic, true); when it
// loses its last one, both with false. gRPC-fed topics start and stop their
// upstream streams on it and feed events through [Broker.DeliverLocal],
// which reaches only this replica's subscribers: each replica feeds its
// own. The calls are made outside the broker's lock, in the order of the
// transitions; one may still be under way, run by a concurrent caller, when
// the Subscribe or Unsubscribe that caused it returns.
//
// # Limits
//
// A session may hold at most Options.MaxSubscriptions subscriptions
// (default 256), and an event payload may be at most Options.MaxEventSize
// bytes (default 64 KiB). WAMP v1 acknowledges neither SUBSCRIBE nor
// PUBLISH, so the session drops a refused one; the broker counts it in
// [Stats].Refused and its error names the limit.
//
// # Concurrency
//
// All methods of [Broker] are safe for concurrent use: Subscribe,
// Unsubscribe, Publish and Leave come from many sessions' reader
// goroutines, DeliverLocal from feeds, deliveries from the backend's
// goroutines.
package broker
