// Package transcode converts between the bridge's JSON and protobuf: the
// arguments of a CALL become a request message, response messages become
// JSON results, and errors become the [Failure] a CALLERROR carries. It is
// the only place that turns a gRPC status into a WAMP error.
//
// A [Codec] holds the JSON [Options] and a [Resolver] for the types of one
// upstream schema (google.protobuf.Any, extensions); it is immutable and safe
// for concurrent use. Types the resolver lacks are looked up in
// protoregistry.GlobalTypes, where the standard google.rpc error details are
// always linked in.
//
// # Arguments
//
// [Codec.Request] follows PROTOCOL.md §3: no argument or one null is an empty
// request; exactly one JSON object is the whole request in the protobuf JSON
// mapping (JSON and proto field names both accepted); anything else is
// positional, the i-th argument setting the i-th field in declaration order,
// a null argument leaving its field unset. A numeric string such as "20" is
// a valid number, as the mapping allows.
//
// The conversion itself is protojson's, so that the bridge accepts exactly the
// protobuf JSON mapping. But protojson stops at the first problem with a
// message such as `(line 1:11): invalid value for int32 field count: "x"`,
// which names neither the argument nor, for nested messages, the path, and
// whose position is useless to a WAMP caller. So Request walks the objects
// itself, key by key: it looks each key up (JSON name, then proto name, as
// protojson does), refuses unknown keys (unless [Options.DiscardUnknown]),
// duplicate fields and a second member of a oneof, follows nested messages
// with the key path (eight levels deep; deeper ones go to protojson whole,
// as each level costs one more scan of its bytes), and hands each leaf value to protojson as the one-field
// object {"<jsonName>": value}, decoded into a fresh message whose field then
// moves into the request. (protojson.Unmarshal resets its target, so values
// cannot be decoded into the request directly.) Errors are gRPC statuses with
// code INVALID_ARGUMENT, for example
//
//	procedure "demo.v1.ClockService.GetProgressiveTime": argument 1 (field "count", int32): invalid value "abc"
//	procedure "demo.v1.ClockService.GetProgressiveTime": unknown field "cout" in demo.v1.GetProgressiveTimeRequest (fields: count, interval)
//	procedure "bridgetest.v1.TestService.Echo": field "inner.values" (repeated int32): invalid value "x"
//
// Types with a JSON form of their own (Timestamp, Duration, Struct, Value,
// the wrappers, ...) are never walked: protojson decodes them whole.
//
// # Results
//
// [Codec.AppendResponse] appends exactly protojson's bytes, with the
// Codec's Options.
//
// # Any of an unknown type
//
// An upstream may pack into google.protobuf.Any a type the bridge has no
// descriptor for (a detail type from another package, a newer schema).
// protojson then fails the whole message, and the caller would lose a
// response that is fine but for one field. Instead such an Any renders as
//
//	{"@type": "type.example.com/x.Unknown", "value": "<base64 of the packed bytes>"}
//
// which keeps the bytes for a client that knows the type. The output stays
// protojson's own: only when marshalling fails, AppendResponse walks a clone
// of the message (nested, repeated and map fields, and the messages inside
// resolvable Anys), replaces the value of each unresolvable Any by the wire
// form of a stand-in message with the single field `optional bytes value = 1`
// holding the original bytes, and marshals again with a resolver that answers
// those type URLs with the stand-in type. protojson writes "@type" from the
// Any's own type URL, so one stand-in type serves every URL: no descriptor is
// built from, and nothing is cached by, names an upstream chose. Responses
// that marshal the first time pay nothing for this.
//
// # Errors
//
// [Codec.Failure] renders an error as the errorURI, errorDesc and
// errorDetails of a CALLERROR. errorDetails is
//
//	{"code": 3, "status": "INVALID_ARGUMENT", "message": "...", "details": [...]}
//
// with the google.rpc.Status details in the JSON mapping (unknown types as
// above). Errors that are not statuses become INTERNAL "internal error"; the
// caller logs the cause. errorURI comes from [ErrorURI]:
//
//	code                   errorURI
//	 1 CANCELLED           wamp.error.canceled
//	 2 UNKNOWN             grpc.error.unknown
//	 3 INVALID_ARGUMENT    wamp.error.invalid_argument
//	 4 DEADLINE_EXCEEDED   wamp.error.timeout
//	 5 NOT_FOUND           grpc.error.not_found
//	 6 ALREADY_EXISTS      grpc.error.already_exists
//	 7 PERMISSION_DENIED   wamp.error.not_authorized
//	 8 RESOURCE_EXHAUSTED  grpc.error.resource_exhausted
//	 9 FAILED_PRECONDITION grpc.error.failed_precondition
//	10 ABORTED             grpc.error.aborted
//	11 OUT_OF_RANGE        grpc.error.out_of_range
//	12 UNIMPLEMENTED       wamp.error.no_such_procedure
//	13 INTERNAL            grpc.error.internal
//	14 UNAVAILABLE         wamp.error.unavailable
//	15 DATA_LOSS           grpc.error.data_loss
//	16 UNAUTHENTICATED     grpc.error.unauthenticated
//
// WAMP's own URIs are used where WAMP defines one for the meaning; every other
// code keeps its gRPC name. OK is never a failure; OK and codes above 16 map
// to grpc.error.unknown, and Failure reports codes above 16 as UNKNOWN.
package transcode
