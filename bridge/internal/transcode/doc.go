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
// # Requests on the fast path
//
// Decoding the arguments into a dynamic message only for gRPC's codec to
// marshal it again costs microseconds and dozens of allocations per call,
// so [Codec.AppendRequestWire] writes the request's wire bytes straight
// from the JSON, guided by a plan compiled once per message type and
// cached in the Codec (for at most 16384 types). Whenever it answers, Request
// accepts the same arguments, and the bytes decode (proto.Unmarshal) to the
// message Request builds; it accepts only what both protojson and
// Request's own reading of positional arguments (encoding/json) accept:
//
//   - no argument or one null (zero bytes), one object, positional
//     arguments, as Request reads them; keys by JSON name, then proto name;
//     null leaves a field unset; unknown keys skipped with DiscardUnknown;
//   - integers as numbers or strings holding exactly a number, with a
//     fraction or exponent as long as the value is an integer as protojson
//     decides it (1e3, 1.0, -0, 150e-1; at most 20 digits before the point),
//     in the field's range;
//   - floats as numbers or strings holding one, "NaN", "Infinity",
//     "-Infinity", parsed by strconv as protojson does (a float out of
//     float32 range is refused); bools as true and false only;
//   - strings with every JSON escape, surrogate pairs only in pairs, valid
//     UTF-8, no control characters; bytes in standard or URL-safe base64
//     (URL-safe if the string holds '-' or '_'), unpadded if its length is
//     not a multiple of four, newlines ignored, as encoding/base64 decodes;
//   - enums by value name or 32-bit number (for closed enums, numbers with
//     a value);
//   - nested messages, repeated fields (packed where proto.Marshal packs),
//     maps with keys read as protojson reads them (strconv, so "+1" and
//     "01" are int keys, and duplicates compare by value), oneofs, proto3
//     optional (zeros of fields with presence are written, others not);
//   - the wrappers (their JSON is the wrapped value) and Empty.
//
// It gives up, returning b unchanged and false, so that Request builds the
// request or explains the refusal, for:
//
//   - anything Request refuses: malformed JSON, unknown keys (without
//     DiscardUnknown), duplicate fields or map keys, a second member of a
//     oneof, too many positional arguments, values of the wrong kind or
//     out of range;
//   - request types with a JSON form of their own, and wherever a value
//     occurs, Timestamp, Duration, Struct, Value, ListValue, FieldMask,
//     Any and NullValue (null included for Value and NullValue, where null
//     is a value), types with required fields (Request checks them),
//     MessageSets, groups, extensions ("[full.name]" keys);
//   - an enum name the enum lacks (DiscardUnknown would drop it);
//   - what protojson reads in its own way: a number with an exponent but
//     no digits (`1e` before a delimiter), which it takes for 1;
//   - nesting of objects and arrays deeper than 32;
//   - a field whose JSON name protojson resolves to another field.
//
// # Results
//
// [Codec.AppendResponse] appends exactly protojson's bytes, with the
// Codec's Options.
//
// # Fast path
//
// Decoding each response into a dynamic message only to marshal it again
// costs microseconds and dozens of allocations per message, so responses
// arrive as wire bytes (see upstream.Call) and [Codec.AppendWire] writes
// their JSON straight from the bytes, guided by a plan compiled once per
// message type and cached in the Codec (a Codec lives as long as its
// schema catalog). It writes what AppendResponse would write for the bytes
// decoded with proto.Unmarshal, byte for byte:
//
//   - fields in declaration order, names as JSON or proto names say;
//     strings with the same escaping: quote, backslash, \b \f \n \r \t,
//     other control characters as \u00xx, nothing else;
//   - a field without presence is unset when zero (-0.0 is set); with
//     EmitUnpopulated unset fields are written with their default, null
//     for fields with presence (messages, proto2 and proto3 optional),
//     [] and {} for repeated and map fields, and not at all for members of
//     a oneof (including proto3 optional, whose oneof is synthetic);
//   - 64-bit integers as strings; 32-bit kinds truncated from the varint as
//     protobuf does; floats in the shortest form, in exponent form below
//     1e-6 and from 1e21 on in the field's own precision, NaN, Infinity
//     and -Infinity as strings; bytes in padded standard base64;
//   - enums by name (the first name of a number, for aliases) or number,
//     unknown numbers as numbers, google.protobuf.NullValue as null;
//   - repeated fields packed, unpacked or both; maps with keys sorted as
//     protojson sorts them (false before true, numbers by value, strings
//     bytewise);
//   - Timestamp, Duration, the wrappers, Struct, Value, ListValue,
//     FieldMask in their own forms; Empty as {};
//   - unknown fields skipped.
//
// protojson's single-line output puts a space after a comma or not, by a
// hash of the running binary; the Codec asks protojson once which, at
// init.
//
// Where equality cannot be had cheaply, AppendWire gives up, returning
// dst unextended and ok false, and the caller decodes the bytes (as gRPC's
// codec did, with its error) and calls AppendResponse, so that the result,
// or the error, is exactly what it was before the fast path. It gives up
// for:
//
//   - message types marked slow when compiled: google.protobuf.Any (its
//     JSON needs the packed type), MessageSets, types with required fields
//     (proto and protojson check them), well-known types whose descriptor
//     is not the standard one; a field of such a type costs nothing while
//     it is absent;
//   - a singular field occurring twice (the last value wins, a message
//     merges), two members of one oneof, a map key occurring twice (across
//     entries), a key or value occurring twice in one entry;
//   - a known field with an unexpected wire type (protobuf keeps it as
//     unknown), groups, field numbers in an extension range, malformed
//     wire data, nesting deeper than 64;
//   - invalid UTF-8 in a string, a map key or a field name;
//   - a Timestamp or Duration out of range, a Value with no kind or a
//     number that is NaN or infinite, a FieldMask path protojson refuses.
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
