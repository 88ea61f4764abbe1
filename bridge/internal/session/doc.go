// Package session serves one WAMP v1 connection over a WebSocket.
//
// # Goroutines
//
// The goroutine that calls [Serve] (the bridge starts one per connection,
// so that the HTTP handler can return) becomes the connection's only
// reader: it decodes each frame and dispatches it, and it never waits on
// anything but the socket. One writer goroutine makes every data write: it
// drains a bounded queue of encoded frames, writes all that are queued and
// then flushes them to the network in one write (see [Upgrade]), sends
// pings, and watches the shutdown signals. Each CALL runs on a goroutine of
// its own with its own context: one of the bridge's [Workers], which run
// call after call so as to keep the stack a call into gRPC grows. Serve
// returns only when all its calls have ended. An idle session has just the
// reader and the writer.
//
// # Memory
//
// An idle session holds no write buffer (the writer frames its messages
// into a pooled batch buffer), no room for events or calls it does not
// have, and frames of calls are pooled: the writer gives each back once it
// has copied it into the batch.
//
// # Calls
//
// Calls in flight, refused ones included, sit in a table keyed by callId,
// from their CALL until the writer takes their terminal frame (CALLRESULT
// or CALLERROR) from the queue. The table guarantees one terminal frame
// per callId and nothing after it: the call's goroutine queues all its
// frames in order, the terminal frame last, and a CALL that reuses a
// callId still in the table starts nothing: it ends the call in flight,
// whose terminal frame becomes the refusal (the writer rewrites a frame
// made before the reuse). CALL_CANCEL marks the call cancelled and cancels
// its context; a call so marked ends with CALLERROR CANCELLED, whatever
// the upstream answered meanwhile, unless its id was reused.
//
// # Shutdown
//
// Closing [Config].Drain drains the session: a CALL is refused at once
// with CALLERROR UNAVAILABLE, calls in flight go on, and when the last of
// them has queued its terminal frame the session queues a close marker;
// the writer sends 1001 when it reaches it, after every frame before it.
// The end of the ctx given to [Serve] ends the grace: the calls' contexts
// (children of a context of their own, so that the session outlives them)
// are cancelled with a cause that makes each call end with CALLERROR
// UNAVAILABLE, and the close marker follows their terminal frames. Any
// other end of the session (peer gone, bad frame) still sends nothing but
// the close frame.
//
// # Back-pressure
//
// A call goroutine queues each frame with a blocking send that also watches
// the call's context. While the queue is full it stops reading from the
// upstream stream, so HTTP/2 flow control slows the upstream instead of the
// bridge buffering frames in memory. Progressive results are never dropped.
//
// # Stream modes
//
// How a server stream is delivered is chosen per connection ([Mode]):
// progress sends every message as CALL_PROGRESS_RESULT and ends with a null
// CALLRESULT; last holds one message back so that the final message travels
// in the CALLRESULT (the shape of the sgcWebSockets example, and what plain
// WAMP v1 clients, which drop a call on an unknown frame 1000, can use);
// collect sends one CALLRESULT with the array of every message, bounded by
// a size limit. In last mode a stream that fails after some messages sends
// the held-back message as progress before the CALLERROR, so no message the
// upstream sent is lost. Unary and client-streaming methods always answer with
// one CALLRESULT carrying the response.
//
// # Bad frames
//
// A frame that is not a JSON array (or not UTF-8) closes the connection with
// 1007, a binary frame with 1003, a frame over the size limit with 1009, each
// with a reason. A malformed CALL whose callId can be read gets a CALLERROR
// instead. Unknown type ids, and frames only a server sends, are ignored and
// counted.
//
// # Publish and subscribe
//
// The session is a subscriber of the broker (see package broker). EVENT
// frames have a bounded queue of their own, apart from the calls' queue:
// the broker never blocks on a session, so a session whose event queue is
// full is closed with 1008 as too slow, while a session busy with a
// back-pressured stream is not. SUBSCRIBE and PUBLISH have no
// acknowledgement in WAMP v1: a refused one is dropped and counted. Topics
// are CURIE-expanded like procedures. A session's subscriptions end with it.
package session
