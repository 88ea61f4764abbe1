package wampv1

import (
	"encoding/json"
	"strconv"
)

// Type is the type id, element 0 of every frame.
type Type int

// The WAMP v1 type ids, and the two sgcWebSockets extensions (1000, 1001).
const (
	TypeWelcome            Type = 0
	TypePrefix             Type = 1
	TypeCall               Type = 2
	TypeCallResult         Type = 3
	TypeCallError          Type = 4
	TypeSubscribe          Type = 5
	TypeUnsubscribe        Type = 6
	TypePublish            Type = 7
	TypeEvent              Type = 8
	TypeCallProgressResult Type = 1000
	TypeCallCancel         Type = 1001
)

// String returns the Go name of a known type without its "Type" prefix
// ("Call", "CallProgressResult"), and "Type(42)" for any other value.
func (t Type) String() string {
	switch t {
	case TypeWelcome:
		return "Welcome"
	case TypePrefix:
		return "Prefix"
	case TypeCall:
		return "Call"
	case TypeCallResult:
		return "CallResult"
	case TypeCallError:
		return "CallError"
	case TypeSubscribe:
		return "Subscribe"
	case TypeUnsubscribe:
		return "Unsubscribe"
	case TypePublish:
		return "Publish"
	case TypeEvent:
		return "Event"
	case TypeCallProgressResult:
		return "CallProgressResult"
	case TypeCallCancel:
		return "CallCancel"
	}
	return "Type(" + strconv.Itoa(int(t)) + ")"
}

// known reports whether t is one of the types above.
func (t Type) known() bool {
	return t >= TypeWelcome && t <= TypeEvent || t == TypeCallProgressResult || t == TypeCallCancel
}

// fromClient reports whether t is a frame that clients send.
func (t Type) fromClient() bool {
	switch t {
	case TypePrefix, TypeCall, TypeSubscribe, TypeUnsubscribe, TypePublish, TypeCallCancel:
		return true
	}
	return false
}

// specName is the name the WAMP v1 and sgcWebSockets texts use, which error
// messages show because that is what a client author will search for.
func (t Type) specName() string {
	switch t {
	case TypeWelcome:
		return "WELCOME"
	case TypePrefix:
		return "PREFIX"
	case TypeCall:
		return "CALL"
	case TypeCallResult:
		return "CALLRESULT"
	case TypeCallError:
		return "CALLERROR"
	case TypeSubscribe:
		return "SUBSCRIBE"
	case TypeUnsubscribe:
		return "UNSUBSCRIBE"
	case TypePublish:
		return "PUBLISH"
	case TypeEvent:
		return "EVENT"
	case TypeCallProgressResult:
		return "CALL_PROGRESS_RESULT"
	case TypeCallCancel:
		return "CALL_CANCEL"
	}
	return t.String()
}

// Message is one decoded frame. It is implemented by the pointer types of the
// frame structs of this package only: [Decode] returns them and [Append]
// accepts nothing else.
type Message interface {
	Type() Type
}

// Welcome is the first frame the server sends on every connection.
//
//	[0, sessionId, protocolVersion, serverIdent]
//
// ProtocolVersion is 1 for WAMP v1.
type Welcome struct {
	SessionID       string
	ProtocolVersion int
	ServerIdent     string
}

// Prefix declares a CURIE prefix for the rest of the session; see [Prefixes].
//
//	[1, prefix, uri]
type Prefix struct {
	Prefix string
	URI    string
}

// Call invokes a procedure. CallID is chosen by the client and opaque to the
// server; ProcURI may be a CURIE. Each argument is kept as the exact JSON
// text the client sent; Args is nil when there are none.
//
//	[2, callId, procURI, arg1, arg2, ...]
type Call struct {
	CallID  string
	ProcURI string
	Args    []json.RawMessage
}

// CallResult ends a call successfully. A nil Result is sent as null.
//
//	[3, callId, result]
type CallResult struct {
	CallID string
	Result json.RawMessage
}

// CallError ends a call with an error. With empty ErrorDetails the frame has
// four elements; otherwise ErrorDetails is the fifth (so a decoded
// [4, c, u, d, null] keeps ErrorDetails == "null" and re-encodes as it came).
//
//	[4, callId, errorURI, errorDesc]
//	[4, callId, errorURI, errorDesc, errorDetails]
type CallError struct {
	CallID       string
	ErrorURI     string
	ErrorDesc    string
	ErrorDetails json.RawMessage
}

// Subscribe asks for the events of a topic; TopicURI may be a CURIE.
//
//	[5, topicURI]
type Subscribe struct {
	TopicURI string
}

// Unsubscribe ends a subscription; TopicURI may be a CURIE.
//
//	[6, topicURI]
type Unsubscribe struct {
	TopicURI string
}

// Publish sends an event to the subscribers of a topic, in one of the four
// WAMP v1 forms:
//
//	[7, topicURI, event]
//	[7, topicURI, event, excludeMe]
//	[7, topicURI, event, exclude]
//	[7, topicURI, event, exclude, eligible]
//
// exclude and eligible are lists of session ids. Decode sets exactly the
// fields of the form it saw: ExcludeMe for the boolean form, Exclude (never
// nil, possibly empty) for the list forms, and Eligible for the last form.
// Append picks the form from the fields: Eligible != nil gives the
// five-element form (a nil Exclude is sent as []), else Exclude != nil the
// exclude-list form, else ExcludeMe != nil the boolean form, else the
// three-element form; ExcludeMe is not sent when either list is set, since
// no v1 form carries both. A nil Event is sent as null.
type Publish struct {
	TopicURI  string
	Event     json.RawMessage
	ExcludeMe *bool
	Exclude   []string
	Eligible  []string
}

// Event delivers a published event to a subscriber. TopicURI is always the
// full URI, never a CURIE. A nil Event is sent as null.
//
//	[8, topicURI, event]
type Event struct {
	TopicURI string
	Event    json.RawMessage
}

// CallProgressResult (sgcWebSockets extension) carries one partial result;
// the call stays open. A nil Result is sent as null.
//
//	[1000, callId, result]
type CallProgressResult struct {
	CallID string
	Result json.RawMessage
}

// CallCancel (sgcWebSockets extension) asks to cancel a call in flight.
//
//	[1001, callId]
type CallCancel struct {
	CallID string
}

// Type implements [Message].
func (*Welcome) Type() Type { return TypeWelcome }

// Type implements [Message].
func (*Prefix) Type() Type { return TypePrefix }

// Type implements [Message].
func (*Call) Type() Type { return TypeCall }

// Type implements [Message].
func (*CallResult) Type() Type { return TypeCallResult }

// Type implements [Message].
func (*CallError) Type() Type { return TypeCallError }

// Type implements [Message].
func (*Subscribe) Type() Type { return TypeSubscribe }

// Type implements [Message].
func (*Unsubscribe) Type() Type { return TypeUnsubscribe }

// Type implements [Message].
func (*Publish) Type() Type { return TypePublish }

// Type implements [Message].
func (*Event) Type() Type { return TypeEvent }

// Type implements [Message].
func (*CallProgressResult) Type() Type { return TypeCallProgressResult }

// Type implements [Message].
func (*CallCancel) Type() Type { return TypeCallCancel }
