// Package wampv1 reads and writes the frames of WAMP v1 with the
// sgcWebSockets extensions for partial results and cancellation: type ids,
// one struct per frame, [Decode], [Append] and [Encode], and CURIE expansion
// with [Prefixes]. It does no I/O, starts no goroutines and knows nothing of
// gRPC; a session reads a WebSocket text message, decodes it here, and
// encodes its answers here.
//
// # Frames
//
// Every frame is a JSON array whose element 0 is the type id ([Type]):
//
//	id    name                  struct                 shape
//	0     WELCOME               Welcome                [0, sessionId, protocolVersion, serverIdent]
//	1     PREFIX                Prefix                 [1, prefix, uri]
//	2     CALL                  Call                   [2, callId, procURI, arg1, arg2, ...]
//	3     CALLRESULT            CallResult             [3, callId, result]
//	4     CALLERROR             CallError              [4, callId, errorURI, errorDesc]
//	                                                   [4, callId, errorURI, errorDesc, errorDetails]
//	5     SUBSCRIBE             Subscribe              [5, topicURI]
//	6     UNSUBSCRIBE           Unsubscribe            [6, topicURI]
//	7     PUBLISH               Publish                [7, topicURI, event]
//	                                                   [7, topicURI, event, excludeMe]
//	                                                   [7, topicURI, event, exclude]
//	                                                   [7, topicURI, event, exclude, eligible]
//	8     EVENT                 Event                  [8, topicURI, event]
//	1000  CALL_PROGRESS_RESULT  CallProgressResult     [1000, callId, result]
//	1001  CALL_CANCEL           CallCancel             [1001, callId]
//
// Ids 1000 and 1001 are the sgcWebSockets extension of WAMP 1.0. The
// messages are the pointer types (*Call, ...), which implement [Message].
// callId, procURI, topicURI, prefix, uri, sessionId, serverIdent, errorURI
// and errorDesc are strings; exclude and eligible are arrays of session id
// strings; excludeMe is a boolean; protocolVersion is an integer. Arguments,
// results, events and errorDetails may be any JSON value and are kept as
// [encoding/json.RawMessage] holding the text exactly as sent.
//
// # Decoding
//
// [Decode] takes bytes from an untrusted peer and never panics. It handles
// both directions, since the test client of this repository decodes what
// the server sends. It reads the frame in one pass that validates the JSON
// (RFC 8259, UTF-8 included, nesting up to 10000 levels as encoding/json)
// and marks where each element starts and ends; strings and integers are
// then read from those spans and everything else is sliced out unparsed.
// The result is one of three kinds of error, or a message:
//
//   - [ErrNotArray] when the bytes are not a WAMP frame at all: invalid
//     UTF-8 (encoding/json would silently replace it, so it is checked
//     here), invalid JSON, a JSON value that is not an array, an empty
//     array, or an element 0 that is not an integer ("2", 2.5, 1e400, true).
//     JSON has a single number type, so 2.0 and 2e0 are the integer 2. A
//     session closes the connection with 1007.
//   - [*UnknownTypeError] (matching [ErrUnknownType]) when element 0 is an
//     integer that is not in the table. A session ignores the frame.
//   - [*FrameError] (matching [ErrMalformed]) when a frame of a known type
//     has too few or too many elements or an element of the wrong JSON type.
//     For CALL and CALL_CANCEL its CallID holds element 1 whenever that is a
//     string, so that a session can answer the call with a CALLERROR.
//
// Extra trailing elements are an error for every type but CALL, whose
// elements after procURI are all arguments. The forms in the table are the
// only ones accepted: [7, topicURI, event, excludeMe, eligible] is
// malformed, and so is a null where a string or list belongs. A CALL
// without arguments gives Call.Args == nil.
//
// The json.RawMessage fields of a decoded message share memory with the
// decoded bytes (see [Decode]).
//
// # Encoding
//
// [Append] writes compact JSON (raw values go out as they are) straight into
// a caller's buffer without reflection, so that each CALL_PROGRESS_RESULT of
// a stream costs little more than copying its result; [Encode] allocates the
// buffer itself. Decoding the encoding of a decoded message gives an equal
// message.
//
// # CURIEs
//
// A PREFIX frame declares that "prefix:rest" stands for uri+"rest" in the
// procURIs and topicURIs the same session sends afterwards. [Prefixes] keeps
// those declarations for one session and expands them; decoding leaves
// URIs as sent, since only the session knows its prefixes.
package wampv1
