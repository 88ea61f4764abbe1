package bridge

import (
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wampbridge/grpcwamp/bridge/internal/invoke"
)

// StreamMode is how the messages of a server-streaming method reach a WAMP
// v1 client. A client picks one per connection with the URL query
// ?stream=progress|last|collect; WithStreamMode sets the default.
type StreamMode int

const (
	// StreamProgress sends every message as CALL_PROGRESS_RESULT (frame
	// 1000, an sgcWebSockets extension) as soon as it arrives, then
	// CALLRESULT null.
	StreamProgress StreamMode = iota
	// StreamLast sends every message but the last as progress and the last
	// one as the CALLRESULT, as the sgcWebSockets example does.
	StreamLast
	// StreamCollect sends no progress frames and one CALLRESULT with the
	// array of every message: for plain WAMP v1 clients, such as
	// Autobahn|JS 0.8, that know nothing of frame 1000.
	StreamCollect
)

// String returns the mode's name as ?stream= and -stream spell it.
func (m StreamMode) String() string {
	switch m {
	case StreamProgress:
		return "progress"
	case StreamLast:
		return "last"
	case StreamCollect:
		return "collect"
	}
	return fmt.Sprintf("StreamMode(%d)", int(m))
}

// ParseStreamMode parses "progress", "last" or "collect".
func ParseStreamMode(s string) (StreamMode, error) {
	switch strings.ToLower(s) {
	case "progress":
		return StreamProgress, nil
	case "last":
		return StreamLast, nil
	case "collect":
		return StreamCollect, nil
	}
	return 0, fmt.Errorf("bridge: unknown stream mode %q: want progress, last or collect", s)
}

// JSONOptions are the protobuf JSON mapping options of results and
// arguments.
type JSONOptions struct {
	UseProtoNames   bool // field names as in the .proto instead of lowerCamelCase
	EmitUnpopulated bool // emit fields that hold their default value
	UseEnumNumbers  bool // enums as numbers instead of names
	DiscardUnknown  bool // ignore unknown fields in arguments instead of refusing them
}

// An Option configures a Handler.
type Option func(*config)

type config struct {
	descriptorSet    string
	streamMode       StreamMode
	path             string
	sendQueue        int
	maxMessageSize   int64
	maxCallsInFlight int
	maxSessions      int // 0: unlimited
	maxUpstreamCalls int // 0: unlimited
	collectLimit     int
	maxResultSize    int   // 0: unlimited
	upstreamMaxSend  int   // 0: gRPC's default; see WithUpstreamMessageLimits
	upstreamMaxRecv  int   // 0: gRPC's default
	maxWaiting       int64 // 0: unlimited
	logger           *slog.Logger
	json             JSONOptions

	publisherReceives bool
	maxSubscriptions  int
	maxFeedStreams    int // 0: feed.DefaultMaxStreams
	maxEventSize      int
	eventQueue        int
	natsURL           string
	feeds             []Feed

	schemaRefresh refreshSetting // see schema.go

	aliases map[string]string // procedure URI -> method full name or gRPC path
	expose  []string          // glob patterns on method full names; empty: all

	allowedOrigins []string // see security.go
	bearerTokens   []string
	forwardHeaders []string
	// The bridge's own keys (WithForwardedFor, WithSessionIDMetadata).
	forwardedFor      bool
	sessionIDMetadata bool

	metricsRegistry *prometheus.Registry // see metrics.go; nil: a new one

	timeouts invoke.Timeouts // see timeouts.go

	// Timeouts of a session; 0: the session's defaults (see WithWriteTimeout...).
	writeTimeout time.Duration
	pingInterval time.Duration
	pongTimeout  time.Duration
}

func defaultConfig() config {
	return config{
		streamMode:       StreamProgress,
		path:             "/",
		sendQueue:        64,
		maxMessageSize:   1 << 20,
		maxCallsInFlight: 256,
		maxSessions:      DefaultMaxSessions,
		maxUpstreamCalls: DefaultMaxUpstreamCalls,
		collectLimit:     16 << 20,
		maxResultSize:    DefaultMaxResultSize,
		maxWaiting:       DefaultMaxWaitingResults,
		logger:           slog.New(slog.DiscardHandler),
		json:             JSONOptions{EmitUnpopulated: true},

		publisherReceives: true,
		maxSubscriptions:  256,
		maxEventSize:      64 << 10,
		eventQueue:        256,

		forwardHeaders:    []string{"authorization"},
		forwardedFor:      true,
		sessionIDMetadata: true,
	}
}

// WithDescriptorSetFile resolves the upstream's methods from a binary
// FileDescriptorSet (as `buf build -o x.binpb` or `protoc --include_imports
// -o x.pb` write) instead of gRPC server reflection, the default.
func WithDescriptorSetFile(path string) Option {
	return func(c *config) { c.descriptorSet = path }
}

// WithStreamMode sets the stream mode of connections that do not choose
// one with ?stream=. The default is StreamProgress.
func WithStreamMode(m StreamMode) Option {
	return func(c *config) { c.streamMode = m }
}

// WithPath sets the path of the WebSocket endpoint. The default is "/".
func WithPath(path string) Option {
	return func(c *config) { c.path = path }
}

// WithSendQueue sets how many frames wait for a slow WebSocket before the
// calls of its session stop reading from the upstream. The default is 64.
func WithSendQueue(frames int) Option {
	return func(c *config) { c.sendQueue = frames }
}

// WithMaxMessageSize sets the largest frame a client may send; a larger
// one closes its session with 1009. The default is 1 MiB.
func WithMaxMessageSize(bytes int64) Option {
	return func(c *config) { c.maxMessageSize = bytes }
}

// WithMaxCallsInFlight sets how many calls one session may run at once;
// more are refused with RESOURCE_EXHAUSTED. The default is 256.
func WithMaxCallsInFlight(n int) Option {
	return func(c *config) { c.maxCallsInFlight = n }
}

// DefaultMaxUpstreamCalls is the default of [WithMaxUpstreamCalls]: twice
// [DefaultMaxSessions], so that every session of a full bridge can run a
// call and a stream at once.
const DefaultMaxUpstreamCalls = 2 * DefaultMaxSessions

// WithMaxUpstreamCalls bounds the calls the handler runs on the upstream at
// once, over all its sessions and the streams of fed topics together;
// a call beyond it fails at once with RESOURCE_EXHAUSTED, and a fed topic's
// stream is retried after its backoff. [WithMaxCallsInFlight] bounds one
// session, this the whole bridge: together they keep many sessions from
// running unbounded work on the upstream. The built-in procedures do not
// count. 0 means no limit. The default is [DefaultMaxUpstreamCalls].
func WithMaxUpstreamCalls(n int) Option {
	return func(c *config) { c.maxUpstreamCalls = n }
}

// DefaultMaxSessions is the default of [WithMaxSessions].
const DefaultMaxSessions = 10000

// WithMaxSessions sets how many WebSocket sessions the handler serves at
// once; a handshake beyond it is refused, before upgrading, with HTTP 503
// and a message naming the limit. 0 means no limit. The default is
// [DefaultMaxSessions].
func WithMaxSessions(n int) Option {
	return func(c *config) { c.maxSessions = n }
}

// WithCollectLimit bounds the CALLRESULT of a stream in StreamCollect mode,
// and what the collect-mode calls of one connection hold together while
// they run; the call whose message would go past either fails with
// RESOURCE_EXHAUSTED. The default is 16 MiB.
func WithCollectLimit(bytes int) Option {
	return func(c *config) { c.collectLimit = bytes }
}

// DefaultMaxWaitingResults is the default of [WithMaxWaitingResults].
const DefaultMaxWaitingResults = 64 << 20

// WithMaxWaitingResults bounds the bytes of a connection's CALLRESULT and
// CALLERROR frames that wait for the client, in the send queue or for room
// in it: a client that calls without reading its results would otherwise
// make each call hold its result until the no-read timeout. A connection
// further behind is closed with 1008 and counted as a slow consumer; one
// frame larger than the bound passes when nothing else waits. A stream's
// CALL_PROGRESS_RESULT frames do not count: they wait for room in the send
// queue, which slows the stream's upstream. 0: no bound. The default is
// 64 MiB.
func WithMaxWaitingResults(bytes int64) Option {
	return func(c *config) { c.maxWaiting = bytes }
}

// DefaultMaxResultSize is the default of [WithMaxResultSize].
const DefaultMaxResultSize = 16 << 20

// WithMaxResultSize bounds the JSON of one response message: a CALLRESULT,
// a CALL_PROGRESS_RESULT or an EVENT of a fed topic. A response that would
// render larger fails its call with RESOURCE_EXHAUSTED naming the limit;
// rendering stops within one value of passing it. The protobuf JSON
// mapping can multiply a message's size (with unpopulated fields emitted,
// an empty submessage of 2 bytes becomes every field of its type), and
// the upstream's messages are bounded only in the wire format. The
// built-in procedures' answers are the schema's, not the upstream's, and
// are not limited. 0 means no limit. The default is [DefaultMaxResultSize].
func WithMaxResultSize(bytes int) Option {
	return func(c *config) { c.maxResultSize = bytes }
}

// WithUpstreamMessageLimits tells the handler the message size limits of
// its connection to the upstream: the bytes given to the connection's
// grpc.MaxCallSendMsgSize and grpc.MaxCallRecvMsgSize (in
// grpc.WithDefaultCallOptions), which it cannot read from the connection.
// It does not set them: give the connection and the handler the same
// numbers. 0 stands for gRPC's default, as it does in the connection: no
// limit of its own to send (2 GiB), 4 MiB to receive. The defaults are 0.
//
// With a send limit, a request whose protobuf encoding is larger is
// refused before it is sent, with RESOURCE_EXHAUSTED naming the
// procedure, the size, the limit and the setting to raise. The limit
// applies to the encoding as the bridge makes it, before any compression
// (grpc.UseCompressor), and gRPC's own check of the connection's limit
// still follows it. The bridge does not explain gRPC's words for a
// message over a send limit, "trying to send message larger than max (N
// vs. M)": they reach the client as they are, since a gRPC server reports
// a response over its own send limit so. gRPC's client says them only
// when the handler was told a larger send limit than its connection has,
// or none, or when compressing made a request larger than the limit.
//
// A response over the receive limit fails with gRPC's "grpc: received
// message larger than max (N vs. M)", which the client reads as a
// message naming the procedure, the size, the limit and the setting to
// raise, provided M is the receive limit given here (4 MiB unless told)
// and N is not the size of the request: a gRPC server refuses a request
// over its own limit in the same words, which reach the client as they
// are. A connection that compresses requests blurs that: N is then the
// compressed request's size, so an upstream whose receive limit equals
// the bridge's and that refuses a compressed request is taken for a
// response over the bridge's limit. The bridge command never compresses
// requests. A compressed response that exceeds the limit only once
// decompressed fails with gRPC's "grpc: received message after
// decompression larger than max M", which reaches the client as it is.
func WithUpstreamMessageLimits(send, recv int) Option {
	return func(c *config) { c.upstreamMaxSend, c.upstreamMaxRecv = max(send, 0), max(recv, 0) }
}

// defaultUpstreamMaxRecv is gRPC's default receive limit of a client
// (grpc.MaxCallRecvMsgSize), which the handler assumes unless told.
const defaultUpstreamMaxRecv = 4 << 20

// WithLogger sets the logger. The default discards.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) { c.logger = l }
}

// WithJSONOptions sets the protobuf JSON mapping options. The default
// emits unpopulated fields and nothing else.
func WithJSONOptions(o JSONOptions) Option {
	return func(c *config) { c.json = o }
}

// WithAliases adds extra procedure URIs: each key is a URI answering to the
// method its value names, by full name ("pkg.Service.Method") or gRPC path
// ("/pkg.Service/Method"). Repeated options add up. An alias naming no
// (exposed) method, or claiming a URI another method answers to, is a fatal
// schema error: see [Handler.Err].
func WithAliases(aliases map[string]string) Option {
	return func(c *config) {
		if c.aliases == nil {
			c.aliases = make(map[string]string, len(aliases))
		}
		for uri, m := range aliases {
			c.aliases[uri] = m
		}
	}
}

// WithExpose exposes only the methods whose protobuf full name matches one
// of patterns: a path.Match glob ("demo.v1.ClockService.*", "*.Get*") or a
// service full name, meaning all its methods. Other methods are unknown
// procedures. Repeated options add up; none exposes every method.
func WithExpose(patterns ...string) Option {
	return func(c *config) { c.expose = append(c.expose, patterns...) }
}

// WithWriteTimeout bounds how long one write to a WebSocket may block: a
// client that does not read its frames for that long is disconnected. The
// default is 10s; 0 or less means the default.
func WithWriteTimeout(d time.Duration) Option {
	return func(c *config) { c.writeTimeout = d }
}

// WithPingInterval sets the period of the WebSocket pings the bridge
// sends. The default is 25s; 0 or less means the default.
func WithPingInterval(d time.Duration) Option {
	return func(c *config) { c.pingInterval = d }
}

// WithPongTimeout sets how long after its last pong (or the start of its
// session) a client that answers no ping is taken for dead and
// disconnected, which cancels its calls; data frames it sends do not
// count, as WebSocket clients answer pings by themselves. On Linux, over
// plain TCP, a client whose kernel keeps acknowledging data (not merely
// the pings) is not disconnected, since a ping waits behind the socket
// buffers for a slow reader: for at most 4 pong timeouts after its last
// pong, and only when a quarter of the timeout, and half of what it
// exceeds the ping interval by, are at least 100 ms. It should exceed the
// ping interval. The default is 60s; 0 or less means the default.
func WithPongTimeout(d time.Duration) Option {
	return func(c *config) { c.pongTimeout = d }
}
