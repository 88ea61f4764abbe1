package wampv1

import (
	"errors"
	"strconv"
)

// Sentinel errors of [Decode]; test for them with [errors.Is].
var (
	// ErrNotArray reports a frame that is not a WAMP frame at all: invalid
	// UTF-8, invalid JSON, a value other than an array, an empty array, or
	// an element 0 that is not an integer. The wrapping error says which.
	// (Its text says "not a WAMP frame": [] and ["x"] are JSON arrays.)
	ErrNotArray = errors.New("wampv1: not a WAMP frame")

	// ErrUnknownType is matched by every [*UnknownTypeError].
	ErrUnknownType = errors.New("wampv1: unknown message type")

	// ErrMalformed is matched by every [*FrameError].
	ErrMalformed = errors.New("wampv1: malformed frame")
)

// UnknownTypeError reports a well-formed frame whose integer type id this
// package does not know. It matches [ErrUnknownType]. A type id beyond the
// range of int is one too: Type is then math.MaxInt or math.MinInt.
type UnknownTypeError struct {
	Type int
	text string // the type id as sent, when it does not fit Type
}

func (e *UnknownTypeError) Error() string {
	if e.text != "" {
		return "wampv1: unknown message type " + e.text
	}
	return "wampv1: unknown message type " + strconv.Itoa(e.Type)
}

// Is reports whether target is [ErrUnknownType].
func (e *UnknownTypeError) Is(target error) bool { return target == ErrUnknownType }

// FrameError reports a frame of a known type with the wrong number of
// elements or an element of the wrong JSON type. It matches [ErrMalformed].
//
// HasCallID reports that the frame is a CALL or CALL_CANCEL whose element
// 1 is a string, CallID, so that the caller can answer the call with a
// CALLERROR; the empty string is a callId too. Otherwise CallID is empty.
// Field is the spec name of the offending element ("procURI",
// "exclude[2]"), or empty when the error is about the element count as a
// whole.
type FrameError struct {
	Type      Type
	CallID    string
	HasCallID bool
	Field     string
	Reason    string
}

func (e *FrameError) Error() string {
	s := "wampv1: " + e.Type.specName() + ": "
	if e.Field != "" {
		s += "field " + strconv.Quote(e.Field) + ": "
	}
	return s + e.Reason
}

// Is reports whether target is [ErrMalformed].
func (e *FrameError) Is(target error) bool { return target == ErrMalformed }
