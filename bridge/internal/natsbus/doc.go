// Package natsbus is a [broker.Backend] over NATS core publish/subscribe: it
// lets several bridge replicas behind a load balancer act as one WAMP v1
// broker.
//
// # The story
//
// A WAMP client connected to replica A publishes; subscribers of the topic
// are connected to A, B and C. A's broker turns the PUBLISH into a
// [broker.Envelope] (topic, event, exclude and eligible lists of session
// ids) and hands it to [Bus.Publish], which marshals it with encoding/json
// and publishes it on the topic's NATS subject. Every replica with local
// subscribers of the topic has one NATS subscription on that subject (see
// [Bus.Interest]) and passes each envelope it receives to the broker's
// deliver function, which sends EVENT frames to its own sessions that pass
// the filters. Session ids are unique across replicas, so the filters mean
// the same everywhere.
//
// A's own publication comes back to A through NATS like everyone else's:
// there is no local shortcut, so no replica can see an envelope both ways,
// and each replica's single subscription per topic delivers it exactly once
// per replica. A replica with no local subscriber of a topic has no
// subscription and the server sends it nothing for that topic.
//
// # Subjects
//
// The subject of a topic is the prefix ([Options.Subject], default
// [DefaultSubject]) followed by one token: the hex SHA-256 of the topic
// URI; the topic "http://example.com/simple" travels on
//
//	grpcwamp.events.031360a1f13d3e15042641f23d1b26c6f94eff57619bed01991e844c5f534066
//
// WAMP topic URIs contain dots (NATS token separators), may contain spaces,
// "*" and ">" (wildcards) and can be longer than a NATS control line; a
// fixed-length hash is a valid single token for all of them, where an
// encoding of the URI itself (base64url, say) would be unbounded. The
// envelope carries the full topic and the receiver drops any envelope whose
// topic is not the one it subscribed, so a hash collision or a stray
// publisher on the subject cannot leak events across topics. Subscribers on
// the prefix's wildcard ("grpcwamp.events.>") see all traffic, for
// debugging.
//
// # Ordering and delivery guarantees
//
// NATS keeps the order of messages from one connection on one subject, and
// each topic's subscription delivers from one goroutine, so the events of
// one topic published from one replica reach every replica in publication
// order. Events of one topic published from different replicas have no
// common order, nor do events of different topics.
//
// Delivery is NATS core's: at most once. While a replica is disconnected it
// misses what others publish, and its own publications wait in the
// connection's reconnect buffer; the connection reconnects forever and
// restores its subscriptions, logging both events. [Bus.Interest] waits for
// the server to confirm a new subscription, so an event published anywhere
// after a SUBSCRIBE has been processed reaches the subscriber.
//
// # Topics fed from gRPC
//
// Topics fed by a gRPC server stream are not sent through the bus. Every
// replica with local subscribers of such a topic runs its own upstream
// stream (started and stopped by the broker's interest callback) and feeds
// its own subscribers directly; sending those events through NATS as well
// would make every subscriber see each fed event once per interested
// replica. Only PUBLISH frames from WAMP clients travel through the bus.
//
// # Lifecycle
//
// [New] connects and fails at once when no server is reachable; [Bus.Start]
// installs the deliver function; [Bus.Close] drains: it unsubscribes,
// delivers what was already received, flushes pending publications, closes
// the connection and waits for it, leaving no goroutine behind.
package natsbus
