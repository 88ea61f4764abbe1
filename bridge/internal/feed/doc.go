// Package feed runs the bridge's gRPC-fed topics: topics whose events come
// from a gRPC server-streaming method rather than from PUBLISH (PROTOCOL.md
// section 4).
//
// # One stream per concrete topic
//
// A [Binding] ties a topic to a procedure and a JSON request. The broker
// reports through its OnInterest hook when a topic gains its first local
// subscriber and loses its last one; [Manager.Interest] plugs into it. While
// a topic has at least one local subscriber, exactly one upstream stream
// feeds it, however many subscribers there are, and each stream message is
// handed to [Publisher.DeliverLocal] as the event. When the last subscriber
// leaves, the stream's call is cancelled; the next subscriber starts a fresh
// one. Interest never waits: a stream being cancelled winds down in its own
// goroutine, and its replacement starts only after it has returned, so two
// streams never feed one topic at once.
//
// # Replicas
//
// Fed events are delivered to this replica's subscribers only. With a
// distributed broker backend (NATS) every replica that has subscribers of a
// fed topic runs its own stream for them, and fed events never travel
// between replicas: each subscriber sees each message of its replica's
// stream once, never a second copy from another replica. Replicas' streams
// are independent calls, so subscribers on different replicas may see
// different messages of a feed whose method answers each call differently.
//
// # Restarts
//
// A stream that ends while its topic still has subscribers, with an error
// or even with OK, is restarted after a random delay drawn from [0, bound]
// (full jitter). The bound starts at Options.MinBackoff, doubles after each
// stream that delivered nothing, up to Options.MaxBackoff, and falls back to
// MinBackoff after a stream that delivered at least one message. Every end
// is logged once with the procedure and the topic.
//
// # Patterns
//
// A binding's topic may hold one placeholder, as in "ticker.{symbol}": it
// matches any non-empty text in its place, and that text becomes the string
// value of the request's top-level field "symbol", merged into the binding's
// request object. "ticker.AAPL" and "ticker.MSFT" then share the binding but
// have a stream each, with {"symbol":"AAPL",...} and {"symbol":"MSFT",...}.
// Exact bindings are tried before patterns, and patterns in their order.
//
// # Schema check
//
// [New] refuses what is wrong whatever the upstream serves (see
// [ParseBinding]). [Manager.CheckSchema] checks the rest against one
// version of the upstream's schema: that the procedure names a method that
// streams its responses, and that a pattern's placeholder names a field of
// its request that a JSON string can fill. It logs a warning per binding
// that does not fit; the bridge calls it on each schema version loaded,
// not per subscription. Streams are run as before either way: the upstream
// may gain the method later.
package feed
