package transcode

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strconv"
	"unicode/utf8"

	rpccode "google.golang.org/genproto/googleapis/rpc/code"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/anypb"
)

// Failure is how a failed call ends on the wire, in every WAMP version:
//
//	[4, callID, URI, Message, Details]   (WAMP v1 CALLERROR)
type Failure struct {
	// Code is the gRPC code, never OK, always one of the 16 error codes.
	Code codes.Code
	// URI is [ErrorURI] of Code.
	URI string
	// Message is the status message (errorDesc).
	Message string
	// Details is the errorDetails object:
	//
	//	{"code": 3, "status": "INVALID_ARGUMENT", "message": "...", "details": [...]}
	//
	// with the google.rpc.Status details in the protobuf JSON mapping, each
	// with its "@type"; "details" is [] when there are none.
	Details json.RawMessage
}

// internalMessage is all a client learns of an error that is not a status.
const internalMessage = "internal error"

// Failure renders err as the wire's failure. It returns nil when err is nil
// or its status is OK: OK is never a failure, and callers must treat nil as
// success.
//
// A gRPC status error (also wrapped; see status.FromError) keeps its code,
// message and details. context.Canceled and context.DeadlineExceeded (also
// wrapped) become CANCELLED and DEADLINE_EXCEEDED (status.FromContextError).
// Any other error becomes INTERNAL "internal error": its text may hold what
// a client must not see, so the caller logs it. A status code outside 1..16
// is not a gRPC error code; it is reported as UNKNOWN, as gRPC clients treat
// codes they do not know, with the original message.
func (c *Codec) Failure(err error) *Failure {
	if err == nil {
		return nil
	}
	st, ok := status.FromError(err)
	if !ok {
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			st = status.FromContextError(err)
		} else {
			st = status.New(codes.Internal, internalMessage)
		}
	}
	code := st.Code()
	if code == codes.OK {
		return nil
	}
	if code > codes.Unauthenticated {
		code = codes.Unknown
	}
	return &Failure{
		Code:    code,
		URI:     ErrorURI(code),
		Message: st.Message(),
		Details: c.appendDetails(make([]byte, 0, 128), code, st.Message(), st.Proto().GetDetails()),
	}
}

// appendDetails appends the errorDetails object, keys in the order code,
// status, message, details.
func (c *Codec) appendDetails(b []byte, code codes.Code, msg string, details []*anypb.Any) []byte {
	b = append(b, `{"code":`...)
	b = strconv.AppendUint(b, uint64(code), 10)
	b = append(b, `,"status":`...)
	// The canonical names (CANCELLED with two Ls), from google.rpc.Code.
	b = appendJSONString(b, rpccode.Code(code).String())
	b = append(b, `,"message":`...)
	b = appendJSONString(b, msg)
	b = append(b, `,"details":[`...)
	for i, d := range details {
		if i > 0 {
			b = append(b, ',')
		}
		out, err := c.AppendResponse(b, d)
		if err != nil {
			// A value that does not decode as its own type: the detail is
			// still worth showing, raw, as an unresolvable one would be.
			b = appendRawAny(b, d.GetTypeUrl(), d.GetValue())
			continue
		}
		b = out
	}
	return append(b, "]}"...)
}

// appendRawAny appends {"@type": url, "value": "<base64 value>"}.
func appendRawAny(b []byte, url string, value []byte) []byte {
	b = append(b, `{"@type":`...)
	b = appendJSONString(b, url)
	b = append(b, `,"value":"`...)
	b = base64.StdEncoding.AppendEncode(b, value)
	return append(b, `"}`...)
}

// ErrorURI returns the errorURI of a gRPC code, from the table of
// PROTOCOL.md §3: WAMP's own error URI where WAMP defines one for the
// meaning, else grpc.error.<code name in lower snake case>.
//
// OK is not an error and a code above 16 is no gRPC code; both have
// grpc.error.unknown, as an error carrying them is one nobody can explain
// ([Codec.Failure] produces neither).
func ErrorURI(c codes.Code) string {
	switch c {
	case codes.Canceled:
		// WAMP spells it with one L; gRPC's CANCELLED has two.
		return "wamp.error.canceled"
	case codes.Unknown:
		return "grpc.error.unknown"
	case codes.InvalidArgument:
		return "wamp.error.invalid_argument"
	case codes.DeadlineExceeded:
		// WAMP's name for a call that ran out of time.
		return "wamp.error.timeout"
	case codes.NotFound:
		return "grpc.error.not_found"
	case codes.AlreadyExists:
		return "grpc.error.already_exists"
	case codes.PermissionDenied:
		// WAMP's "authenticated but not allowed"; UNAUTHENTICATED stays gRPC's.
		return "wamp.error.not_authorized"
	case codes.ResourceExhausted:
		return "grpc.error.resource_exhausted"
	case codes.FailedPrecondition:
		return "grpc.error.failed_precondition"
	case codes.Aborted:
		return "grpc.error.aborted"
	case codes.OutOfRange:
		return "grpc.error.out_of_range"
	case codes.Unimplemented:
		// The bridge answers an unknown procedure with UNIMPLEMENTED, and an
		// upstream without the method means the same to a WAMP caller.
		return "wamp.error.no_such_procedure"
	case codes.Internal:
		return "grpc.error.internal"
	case codes.Unavailable:
		return "wamp.error.unavailable"
	case codes.DataLoss:
		return "grpc.error.data_loss"
	case codes.Unauthenticated:
		return "grpc.error.unauthenticated"
	case codes.OK:
		// Not an error; see the doc comment.
		return "grpc.error.unknown"
	default:
		// Codes above 16: see the doc comment.
		return "grpc.error.unknown"
	}
}

// appendJSONString appends s as a JSON string. Invalid UTF-8 becomes
// U+FFFD; U+2028 and U+2029 are escaped for JavaScript's sake.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, `\n`...)
			case c == '\r':
				b = append(b, `\r`...)
			case c == '\t':
				b = append(b, `\t`...)
			case c < 0x20:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, `\ufffd`...)
		case r == '\u2028':
			b = append(b, `\u2028`...)
		case r == '\u2029':
			b = append(b, `\u2029`...)
		default:
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}
