package session

import "google.golang.org/grpc/codes"

// Bad frame kinds, the argument of [Metrics.BadFrame].
const (
	BadFrameNotJSONArray = "not_json_array" // not JSON, not an array, or no integer type id
	BadFrameBinary       = "binary"         // a binary WebSocket message
	BadFrameTooBig       = "too_big"        // over MaxMessageSize
	BadFrameMalformed    = "malformed"      // a known frame with a wrong field
	BadFrameUnknownType  = "unknown_type"   // an unknown type id, or a frame only a server sends
)

// Metrics receives the measurements of sessions; the bridge turns them into
// Prometheus metrics, so that this package needs no metrics library. Every
// field may be nil, and so may the *Metrics: a nil hook is not called. The
// hooks are called from many goroutines at once and must be cheap.
//
// Each hook is called before the frame that shows its effect to the client
// is queued, so a client that has read that frame sees the hook's effect.
type Metrics struct {
	// SessionStarted is called before WELCOME is written.
	SessionStarted func()
	// SessionEnded is called once per session: before its close frame is
	// written, or when it ends without one.
	SessionEnded func()
	// CallStarted is called when a CALL is admitted to the table of calls.
	CallStarted func()
	// CallEnded is called for every CALL answered, before its terminal
	// frame is queued: method is the gRPC method's full name, or "" when
	// the procedure did not resolve or the call was refused before that.
	// started tells whether CallStarted was called for it.
	CallEnded func(method string, code codes.Code, started bool)
	// ProgressFrame is called for each CALL_PROGRESS_RESULT queued.
	ProgressFrame func()
	// QueueDepth is called with the number of frames in the session's
	// send queue right after a call's frame has been queued.
	QueueDepth func(n int)
	// BadFrame is called for each frame refused or ignored, with its kind
	// (the BadFrame constants).
	BadFrame func(kind string)
	// BytesIn and BytesOut are called with the payload bytes of each
	// WebSocket text message read and written.
	BytesIn  func(n int)
	BytesOut func(n int)
}

func (m *Metrics) sessionStarted() {
	if m != nil && m.SessionStarted != nil {
		m.SessionStarted()
	}
}

func (m *Metrics) sessionEnded() {
	if m != nil && m.SessionEnded != nil {
		m.SessionEnded()
	}
}

func (m *Metrics) callStarted() {
	if m != nil && m.CallStarted != nil {
		m.CallStarted()
	}
}

func (m *Metrics) callEnded(method string, code codes.Code, started bool) {
	if m != nil && m.CallEnded != nil {
		m.CallEnded(method, code, started)
	}
}

func (m *Metrics) progressFrame() {
	if m != nil && m.ProgressFrame != nil {
		m.ProgressFrame()
	}
}

func (m *Metrics) queueDepth(n int) {
	if m != nil && m.QueueDepth != nil {
		m.QueueDepth(n)
	}
}

func (m *Metrics) badFrame(kind string) {
	if m != nil && m.BadFrame != nil {
		m.BadFrame(kind)
	}
}

func (m *Metrics) bytesIn(n int) {
	if m != nil && m.BytesIn != nil {
		m.BytesIn(n)
	}
}

func (m *Metrics) bytesOut(n int) {
	if m != nil && m.BytesOut != nil {
		m.BytesOut(n)
	}
}
