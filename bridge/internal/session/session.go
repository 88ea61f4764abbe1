package session

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"golang.org/x/time/rate"
	"google.golang.org/grpc/codes"

	"github.com/wampbridge/grpcwamp/bridge/internal/broker"
	"github.com/wampbridge/grpcwamp/bridge/internal/invoke"
	"github.com/wampbridge/grpcwamp/bridge/wampv1"
)

// Mode is how a session delivers the messages of a server stream.
type Mode uint8

const (
	// Progress sends each message as CALL_PROGRESS_RESULT, then CALLRESULT null.
	Progress Mode = iota
	// Last sends all messages but the last as progress, the last as CALLRESULT.
	Last
	// Collect sends one CALLRESULT with the JSON array of all messages.
	Collect
)

func (m Mode) String() string {
	switch m {
	case Progress:
		return "progress"
	case Last:
		return "last"
	case Collect:
		return "collect"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// Config is the configuration of one session.
type Config struct {
	Mode Mode
	// NoSessionID leaves wamp-session-id out of Metadata (see there). It
	// sits by Mode, where it takes no room of its own: see
	// TestSessionSizeClass.
	NoSessionID      bool
	SendQueue        int   // frames queued for the writer
	MaxMessageSize   int64 // largest frame read, in bytes
	MaxCallsInFlight int   // calls at once, each until its terminal frame leaves the send queue
	MaxPrefixes      int   // PREFIX declarations kept
	MaxNameLength    int   // bytes of a call id, a PREFIX's prefix or URI, a procedure or topic URI (expanded)
	CollectLimit     int   // bytes of one collect-mode result
	// MaxWaiting bounds the bytes of terminal frames (CALLRESULT,
	// CALLERROR) waiting for the client, queued or waiting for room: a
	// client further behind is closed with 1008. 0: no bound.
	MaxWaiting   int64
	WriteTimeout time.Duration // one network write to the client
	PingInterval time.Duration // between pings
	PongTimeout  time.Duration // silence after which the peer is dead
	CloseGrace   time.Duration // wait for the peer's close frame
	EventQueue   int           // EVENT frames queued for the writer
	ServerIdent  string
	Logger       *slog.Logger
	Stats        *Stats         // shared by sessions; may be nil
	Broker       *broker.Broker // nil: publish and subscribe are dropped and counted
	// Drain, when closed, starts a graceful shutdown of the session: new
	// calls are refused with UNAVAILABLE, calls in flight go on, and the
	// session closes with 1001 once they have all ended. Nil: never.
	Drain <-chan struct{}
	// Metadata goes with every upstream call of the session (the bridge
	// builds it from the handshake). Serve adds wamp-session-id to it
	// unless NoSessionID: the map becomes the session's, and the caller
	// must not use it afterwards.
	Metadata map[string][]string
	// Metrics receives the session's measurements; may be nil.
	Metrics *Metrics
	// Remote is the client's address, for the log lines of the session's
	// start and end.
	Remote string
	// Workers runs the calls of the session; nil: a new goroutine each.
	Workers *Workers
}

// Stats counts what sessions drop or refuse. The fields are safe for
// concurrent use.
type Stats struct {
	UnknownFrames  atomic.Int64 // unknown type ids and server-only frames, ignored
	DroppedPubSub  atomic.Int64 // SUBSCRIBE/PUBLISH refused or not served
	ClosedBadFrame atomic.Int64 // sessions closed for a bad frame
	// NoReadDisconnects counts sessions closed because one write blocked
	// for WriteTimeout: the client stopped reading its frames.
	NoReadDisconnects atomic.Int64
	// SlowDisconnects counts sessions closed because the results waiting
	// for the client passed MaxWaiting.
	SlowDisconnects atomic.Int64
}

// closeError is the cause of a session's end that the writer reports to
// the peer in a close frame.
type closeError struct {
	code   int
	reason string
}

func (e *closeError) Error() string { return fmt.Sprintf("close %d: %s", e.code, e.reason) }

// errPeerGone ends a session whose peer closed the socket or stopped
// answering: there is nothing left to tell it.
var errPeerGone = errors.New("session: peer closed the connection")

// errShutdown is the cause with which a shutdown whose grace ran out
// cancels the calls still in flight; finish answers them with UNAVAILABLE.
var errShutdown = errors.New("session: the bridge shut down")

// errDrained ends a drained session once its last call has ended.
var errDrained = &closeError{code: 1001, reason: "the bridge is shutting down"}

type session struct {
	cfg  Config
	conn *Conn
	core *invoke.Core
	id   string

	ctx context.Context // the session's; ends when the session does
	// cancelSession ends ctx; only cancel calls it, which wakes the
	// writer, who does not wait on ctx.Done (see writeLoop).
	cancelSession context.CancelCauseFunc
	// callsBase is the parent of the calls' contexts: it carries the
	// metadata, never ends, and so keeps no table of children, which an
	// idle session would hold on to. cancelCalls ends the calls in the
	// table instead: with ctx (see cancel), or earlier, with errShutdown,
	// when a shutdown's grace runs out; then the calls' terminal frames
	// still go out before the close frame.
	callsBase context.Context
	queue     chan *frame // frames of calls; senders block (back-pressure)
	// yield, when set, lets the call goroutines run once before the
	// writer ends a batch (see writeBatch): writerYield's choice.
	yield  func()
	events eventQueue     // EVENT frames; the broker never blocks on it; its ready channel wakes the writer (see wake)
	wg     sync.WaitGroup // calls and refusals running, and Serve's force until it has run or been stopped

	// failLog lets through the first "call failed" log lines of the
	// session, then one a second: a client must not be able to flood the
	// log with calls it makes fail. The session's end line counts them all.
	failLog rate.Sometimes

	pingLimit *rate.Limiter // reader only (see answerPing)

	prefixes wampv1.Prefixes  // reader only
	limited  io.LimitedReader // reader only: readFrame's

	mu    sync.Mutex
	calls map[string]*call
	// running counts the calls whose terminal frame is not queued yet.
	// It changes under mu; the writer reads it without (see writeBatch).
	running atomic.Int32
	// inFlight counts the calls that MaxCallsInFlight bounds: from their
	// start until the writer takes their terminal frame from the queue.
	// A call that has ended but waits for room in the queue still counts,
	// so a client that reads nothing cannot start more; and its slot is
	// free before the client can see the frame, so a client that calls
	// again on each result is never refused. It grows under mu; the
	// writer takes from it without (see taken).
	inFlight atomic.Int32
	// waiting counts the bytes of terminal frames queued for the writer
	// or waiting for room, which MaxWaiting bounds (see hold).
	waiting atomic.Int64
	// The small fields go together, so that the struct, with the 8-byte
	// header the allocator adds to an object over 512 bytes that holds
	// pointers, fits the 576-byte size class (the next is 640).
	behind atomic.Bool // closed as too far behind (tooFarBehind)
	// pingDue: the writer's ping timer has fired (see pingTimer).
	pingDue atomic.Bool
	ended   atomic.Bool // metrics.sessionEnded has run (see sessionEnded)
	// refusing counts the refusals being delivered.
	refusing int32
	// collected counts the bytes that the session's collect-mode calls
	// hold at once, which CollectLimit bounds as it bounds each one.
	collected int
	started   int // calls started, for the log line of the session's end
	// failed counts the calls answered with CALLERROR, refusals included,
	// and failLogged those of them failLog let through to the log.
	failed, failLogged int
	draining           bool
	closing            bool // the close marker is queued
	closed             bool // the writer has reached the marker: the close goes out (see closeNow)
	forced             bool // the grace has ended (see force)
	// callsEnded is why the calls were cancelled (see cancelCalls); a
	// call started afterwards is cancelled at once.
	callsEnded error
}

// Serve runs the session on conn until the peer leaves, a bad frame ends it,
// or it is shut down. cfg.Drain starts a graceful shutdown (see [Config]);
// the end of ctx is the end of the grace: every call still in flight is
// cancelled and answered with CALLERROR UNAVAILABLE, and then the peer gets
// close 1001. It returns when every goroutine it started has ended and the
// socket is closed. The returned error says why the session ended.
func Serve(ctx context.Context, conn *Conn, core *invoke.Core, cfg Config) error {
	cfg = withDefaults(cfg)
	id := newSessionID()
	md := cfg.Metadata
	if !cfg.NoSessionID {
		md = sessionMetadata(md, id)
	}
	if len(md) > 0 {
		ctx = invoke.WithMetadata(ctx, md)
	}
	forceCtx, drain := ctx, cfg.Drain
	// The calls' parent is not a child of the session's context but ends
	// with it (see cancel): that saves every session a table of children.
	base := context.WithoutCancel(ctx)
	ctx, cancelSession := context.WithCancelCause(base)
	s := &session{
		cfg:           cfg,
		conn:          conn,
		core:          core,
		id:            id,
		ctx:           ctx,
		cancelSession: cancelSession,
		callsBase:     base,
		queue:         make(chan *frame, cfg.SendQueue),
		events:        eventQueue{limit: cfg.EventQueue, ready: make(chan struct{}, 1)},
		yield:         writerYield(runtime.GOMAXPROCS(0)),
		failLog:       rate.Sometimes{First: failLogFirst, Interval: time.Second},
	}
	defer s.cancel(nil)

	s.cfg.Metrics.sessionStarted()
	defer s.sessionEnded()
	start := time.Now()
	s.cfg.Logger.Info("session started", "session", s.id, "remote", cfg.Remote, "mode", cfg.Mode.String())
	welcome := encodeFrame(&wampv1.Welcome{SessionID: s.id, ProtocolVersion: 1, ServerIdent: cfg.ServerIdent})
	var writer sync.WaitGroup
	// The reader's deadline and handlers are set before the writer runs,
	// so that the writer's last deadline (endReadBy) is never overwritten.
	s.prepareRead()
	writer.Go(func() { s.writeLoop(ctx, welcome, drain) })
	// The end of the grace is seen here, not by the writer, which a
	// client keeping its queue full could keep inside one batch; the
	// marker goes in with a blocking send, in line with the frames
	// waiting for room.
	// s.wg counts it until it has run or been stopped (a channel that it
	// closed would cost every session an allocation).
	s.wg.Add(1)
	stopForce := context.AfterFunc(forceCtx, func() {
		defer s.wg.Done()
		if s.force() {
			s.sendFinal(closeMarker)
		}
	})

	s.readLoop(ctx)
	// The session has ended (readLoop returns once it has): a force would
	// find nothing left to do, and one running ends its sendFinal with
	// the session's context.
	if stopForce() {
		s.wg.Done()
	}
	if cfg.Broker != nil {
		cfg.Broker.Leave(s)
	}
	s.wg.Wait()
	writer.Wait()
	err := context.Cause(ctx)
	conn.ws.Close()
	s.mu.Lock()
	calls, failed, unlogged := s.started, s.failed, s.failed-s.failLogged
	s.mu.Unlock()
	s.cfg.Logger.Info("session ended", "session", s.id, "remote", cfg.Remote, "duration", time.Since(start), "calls", calls,
		"failed", failed, "failed_not_logged", unlogged, "cause", endCause(err))
	if errors.Is(err, errPeerGone) {
		err = nil
	}
	return err
}

// endCause describes why a session ended, for its log line.
func endCause(err error) string {
	var gone *peerGoneError
	switch {
	case errors.As(err, &gone):
		return gone.reason
	case err == nil || errors.Is(err, errPeerGone):
		return "the client left"
	}
	return err.Error()
}

// peerGoneError ends a session whose client the bridge took for gone for a
// reason of its own, a timeout: it is [errPeerGone] for every purpose but
// the log, which gives the reason.
type peerGoneError struct{ reason string }

func (e *peerGoneError) Error() string { return e.reason }

func (*peerGoneError) Is(target error) bool { return target == errPeerGone }

// readError is the cause of a session whose read failed with err. Only
// pongs, and the pong watch, move the read deadline while the session
// runs, so a timeout is a pong timeout; anything else is the peer gone.
func (s *session) readError(err error) error {
	if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
		if s.conn.batch.pongCapped() {
			return &peerGoneError{fmt.Sprintf("the client answered no ping for %v (%d pong timeouts of %v: the data it kept taking held it no longer)",
				pongWatchCap*s.cfg.PongTimeout, pongWatchCap, s.cfg.PongTimeout)}
		}
		return &peerGoneError{fmt.Sprintf("the client answered no ping for %v (the pong timeout)", s.cfg.PongTimeout)}
	}
	return errPeerGone
}

func withDefaults(c Config) Config {
	if c.SendQueue <= 0 {
		c.SendQueue = 64
	}
	if c.MaxMessageSize <= 0 {
		c.MaxMessageSize = 1 << 20
	}
	if c.MaxCallsInFlight <= 0 {
		c.MaxCallsInFlight = 256
	}
	if c.MaxPrefixes <= 0 {
		c.MaxPrefixes = 256
	}
	if c.EventQueue <= 0 {
		c.EventQueue = 256
	}
	if c.CollectLimit <= 0 {
		c.CollectLimit = 16 << 20
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = 10 * time.Second
	}
	if c.PingInterval <= 0 {
		c.PingInterval = 25 * time.Second
	}
	if c.PongTimeout <= 0 {
		c.PongTimeout = 60 * time.Second
	}
	if c.CloseGrace <= 0 {
		c.CloseGrace = 2 * time.Second
	}
	if c.MaxNameLength <= 0 {
		c.MaxNameLength = DefaultMaxNameLength
	}
	if c.ServerIdent == "" {
		c.ServerIdent = "grpcwamp"
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Stats == nil {
		c.Stats = new(Stats)
	}
	return c
}

// sessionMetadata returns md, made if nil, with wamp-session-id set to id.
func sessionMetadata(md map[string][]string, id string) map[string][]string {
	if md == nil {
		md = make(map[string][]string, 1)
	}
	md["wamp-session-id"] = []string{id}
	return md
}

const idAlphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

// newSessionID returns 16 random characters (95 bits), unique across
// bridge replicas for all practical purposes.
func newSessionID() string {
	b := make([]byte, 16)
	rand.Read(b)
	for i := range b {
		b[i] = idAlphabet[int(b[i])%len(idAlphabet)]
	}
	return string(b)
}

// readLoop reads and dispatches frames until the socket fails or a frame
// ends the session; then it keeps reading, discarding, until the peer
// answers the close or the writer's grace deadline passes.
func (s *session) readLoop(ctx context.Context) {
	ws := s.conn.ws
	for {
		typ, r, err := ws.NextReader()
		if err != nil {
			s.cancel(s.readError(err))
			return
		}
		if ctx.Err() != nil {
			continue // closing: discard until the peer's close arrives
		}
		if typ != websocket.TextMessage {
			s.cfg.Metrics.badFrame(BadFrameBinary)
			s.closeWith(websocket.CloseUnsupportedData,
				"binary frames are not supported: send WAMP v1 frames as JSON text")
			continue
		}
		data, err := s.readFrame(r)
		if err != nil {
			s.cancel(s.readError(err))
			return
		}
		s.cfg.Metrics.bytesIn(len(data))
		if int64(len(data)) > s.cfg.MaxMessageSize {
			s.cfg.Metrics.badFrame(BadFrameTooBig)
			s.closeWith(websocket.CloseMessageTooBig,
				fmt.Sprintf("frame of more than %d bytes, the limit: send less in one frame", s.cfg.MaxMessageSize))
			continue
		}
		s.dispatch(data)
	}
}

// prepareRead sets the reader's first deadline, which each pong extends
// until the session closes, and its ping handler. Where it can, the
// connection watches the deadline: a client that takes data, however
// slowly, meanwhile is not closed as answering no ping (see pongs.go).
func (s *session) prepareRead() {
	ws, c := s.conn.ws, s.conn.batch
	c.watchPongs(s.cfg.PongTimeout, pongLookWindow(s.cfg.PingInterval, s.cfg.PongTimeout))
	ws.SetPongHandler(func(string) error { return c.pong(s.cfg.PongTimeout) })
	ws.SetPingHandler(s.answerPing)
}

// maxPingsPerSecond bounds the pings a client may send, on average over a
// second and in bursts: each costs the bridge a network write of its pong,
// and a flood of them would take the CPU from every other session. Clients
// that ping at all do so every few seconds.
const maxPingsPerSecond = 10

// answerPing answers a ping with a pong, as gorilla's default handler
// does, unless the client pings faster than maxPingsPerSecond: then the
// session is closed with 1008. The reader calls it. The limiter is made at
// the first ping: most clients never send one.
func (s *session) answerPing(data string) error {
	if s.pingLimit == nil {
		s.pingLimit = rate.NewLimiter(maxPingsPerSecond, maxPingsPerSecond)
	}
	if !s.pingLimit.Allow() {
		if s.ctx.Err() == nil {
			s.closeWith(websocket.ClosePolicyViolation,
				fmt.Sprintf("too many pings: more than %d a second", maxPingsPerSecond))
		}
		return nil
	}
	err := s.conn.ws.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(s.cfg.WriteTimeout))
	if errors.Is(err, websocket.ErrCloseSent) {
		return nil
	}
	// Any other failure, a timeout too, may have left part of the pong on
	// the wire, and gorilla fails every later write: the session is over.
	return err
}

// endReadBy makes t the reader's last deadline: a pong arriving afterwards
// (a client may send them unasked) does not extend it, so a closing
// session ends by t whatever the client sends. The writer calls it.
func (s *session) endReadBy(t time.Time) {
	s.conn.batch.endReadBy(t)
}

// failLogFirst is how many "call failed" lines a session logs before it
// logs at most one a second.
const failLogFirst = 10

// DefaultMaxNameLength is the default of Config.MaxNameLength. Names are
// what a session keeps for as long as it lives (prefixes, subscriptions)
// or per call in flight (call ids, procedures): without a bound of their
// own, only the frame size would bound them, at a megabyte each.
const DefaultMaxNameLength = 4096

// closeCallIDTooLong ends the session of a CALL whose call id has n bytes,
// over the limit: every frame of the call would echo it, and answering it
// at all would hold it while the client may not read.
func (s *session) closeCallIDTooLong(n int) {
	s.closeWith(websocket.ClosePolicyViolation,
		fmt.Sprintf("CALL with a call id of %d bytes: the limit is %d", n, s.cfg.MaxNameLength))
}

// clipName shortens a name over the length limit for an error message or
// a log line.
func clipName(name string) string {
	const n = 64
	if len(name) <= n {
		return name
	}
	return truncate(name, n) + "..."
}

// topic expands uri, reporting false, logged and counted as a dropped
// publish or subscribe, when the topic is longer than MaxNameLength.
func (s *session) topic(uri string) (string, bool) {
	topic := s.prefixes.Expand(uri)
	if len(topic) > s.cfg.MaxNameLength {
		s.cfg.Stats.DroppedPubSub.Add(1)
		s.cfg.Logger.Debug("topic refused", "session", s.id, "topic", clipName(topic),
			"error", fmt.Sprintf("topic URI of %d bytes: the limit is %d", len(topic), s.cfg.MaxNameLength))
		return "", false
	}
	return topic, true
}

// drain refuses new calls from now on; the session closes with 1001 once
// the calls in flight have ended. It reports whether the close marker is
// due now (see closeDue). The writer calls it when the drain begins.
func (s *session) drain() bool {
	s.mu.Lock()
	s.draining = true
	s.mu.Unlock()
	s.cfg.Logger.Debug("draining session", "session", s.id)
	return s.closeDue()
}

// force ends the grace of a shutdown: the calls still in flight are
// cancelled, to be answered with UNAVAILABLE, and CALLs read from now on
// are dropped, not refused (see refuse): the close no longer waits for a
// client that keeps calling. It reports whether the close marker is due
// now. Serve calls it when the grace ends.
func (s *session) force() bool {
	s.mu.Lock()
	s.draining, s.forced = true, true
	s.mu.Unlock()
	s.cancelCalls(errShutdown)
	return s.closeDue()
}

// closeDue reports whether a draining session has no call left to answer
// and its close marker is not queued yet; if so, the caller must queue it.
func (s *session) closeDue() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.draining || s.closing || s.running.Load() > 0 || s.refusing > 0 && !s.forced {
		return false
	}
	s.closing = true
	return true
}

// closeNow reports whether a draining session closes now that the writer
// has reached its close marker: when no refusal is still to be queued. If
// one is, the marker is withdrawn and the last refusal queues it again
// (closeIfDrained), so that every CALL read before the close is answered;
// but not once the grace has ended (force), or a client calling without
// pause could hold the session open. Once it has reported true, the CALLs
// the reader reads are dropped: nothing could answer them.
func (s *session) closeNow() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.refusing > 0 && !s.forced {
		s.closing = false
		return false
	}
	s.closed = true
	return true
}

// closeIfDrained queues the close marker once a draining session has no
// call left to answer. The writer sends 1001 when it reaches the marker,
// so every terminal frame queued before it goes out first.
func (s *session) closeIfDrained() {
	if s.closeDue() {
		s.sendFinal(closeMarker)
	}
}

// closeWith ends the session with a close frame the writer sends.
func (s *session) closeWith(code int, reason string) {
	if code != websocket.CloseGoingAway {
		s.cfg.Stats.ClosedBadFrame.Add(1)
	}
	s.cfg.Logger.Info("closing session", "session", s.id, "code", code, "reason", reason)
	s.cancel(&closeError{code: code, reason: reason})
}

func (s *session) dispatch(data []byte) {
	msg, err := wampv1.Decode(data)
	if err != nil {
		var fe *wampv1.FrameError
		switch {
		case errors.Is(err, wampv1.ErrUnknownType):
			s.cfg.Stats.UnknownFrames.Add(1)
			s.cfg.Metrics.badFrame(BadFrameUnknownType)
		case errors.As(err, &fe) && fe.Type == wampv1.TypeCall && len(fe.CallID) > s.cfg.MaxNameLength:
			s.cfg.Metrics.badFrame(BadFrameMalformed)
			s.closeCallIDTooLong(len(fe.CallID))
		case errors.As(err, &fe) && fe.Type == wampv1.TypeCall && fe.HasCallID:
			s.cfg.Metrics.badFrame(BadFrameMalformed)
			// A CALL can be answered; a malformed CALL_CANCEL cannot
			// (answering it would end the call it names a second time).
			if !s.reuse(fe.CallID) {
				s.refuse(fe.CallID, "", invoke.Errorf(codes.InvalidArgument, "%v", err))
			}
		default:
			if errors.Is(err, wampv1.ErrNotArray) {
				s.cfg.Metrics.badFrame(BadFrameNotJSONArray)
			} else {
				s.cfg.Metrics.badFrame(BadFrameMalformed)
			}
			s.closeWith(websocket.CloseInvalidFramePayloadData, err.Error())
		}
		return
	}
	switch m := msg.(type) {
	case *wampv1.Call:
		s.startCall(m)
	case *wampv1.CallCancel:
		s.cancelCall(m.CallID)
	case *wampv1.Prefix:
		if n := max(len(m.Prefix), len(m.URI)); n > s.cfg.MaxNameLength {
			s.closeWith(websocket.ClosePolicyViolation,
				fmt.Sprintf("PREFIX with a name of %d bytes: the limit is %d", n, s.cfg.MaxNameLength))
			return
		}
		if s.prefixes.Len() >= s.cfg.MaxPrefixes && !s.prefixes.Has(m.Prefix) {
			s.closeWith(websocket.ClosePolicyViolation,
				fmt.Sprintf("too many PREFIX declarations: the limit is %d per session", s.cfg.MaxPrefixes))
			return
		}
		s.prefixes.Set(m.Prefix, m.URI)
	case *wampv1.Subscribe:
		s.subscribe(m)
	case *wampv1.Unsubscribe:
		// A topic over the length limit is never subscribed.
		if topic := s.prefixes.Expand(m.TopicURI); len(topic) <= s.cfg.MaxNameLength && s.cfg.Broker != nil {
			s.cfg.Broker.Unsubscribe(s, topic)
		}
	case *wampv1.Publish:
		s.publish(m)
	default:
		// WELCOME, CALLRESULT, CALLERROR, EVENT and CALL_PROGRESS_RESULT
		// only travel from server to client.
		s.cfg.Stats.UnknownFrames.Add(1)
		s.cfg.Metrics.badFrame(BadFrameUnknownType)
	}
}

// cancel ends the session with cause, and so the calls in flight.
func (s *session) cancel(cause error) {
	s.cancelSession(cause)
	s.wake()
	s.cancelCalls(cause)
}

// cancelCalls cancels every call in flight with cause, and every call
// started later; the first cause stays.
func (s *session) cancelCalls(cause error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.callsEnded != nil {
		return
	}
	if cause == nil {
		cause = context.Canceled
	}
	s.callsEnded = cause
	for _, c := range s.calls {
		c.cancel(cause)
	}
}

// readBuffers hold frames while they are read: a frame then costs one
// allocation of its own size, which its calls keep (their arguments are
// slices of it), and an idle reader holds no buffer.
var readBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// maxPooledRead bounds the read buffers kept for reuse.
const maxPooledRead = 64 << 10

// readFrame reads the message r, up to one byte over MaxMessageSize. The
// reader goroutine only calls it.
func (s *session) readFrame(r io.Reader) ([]byte, error) {
	buf := readBuffers.Get().(*bytes.Buffer)
	defer func() {
		if buf.Cap() <= maxPooledRead {
			buf.Reset()
			readBuffers.Put(buf)
		}
	}()
	s.limited = io.LimitedReader{R: r, N: s.cfg.MaxMessageSize + 1}
	_, err := buf.ReadFrom(&s.limited)
	s.limited.R = nil
	if err != nil {
		return nil, err
	}
	return append([]byte(nil), buf.Bytes()...), nil
}

// sessionEnded reports the session's end to the metrics, once.
func (s *session) sessionEnded() {
	if s.ended.CompareAndSwap(false, true) {
		s.cfg.Metrics.sessionEnded()
	}
}
