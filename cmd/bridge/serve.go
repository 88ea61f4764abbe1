package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"os/signal"
	"path"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
	"unicode"
	"unicode/utf8"

	grpcprom "github.com/grpc-ecosystem/go-grpc-middleware/providers/prometheus"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/logging"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"golang.org/x/time/rate"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	grpckeepalive "google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/resolver"

	"github.com/wampbridge/grpcwamp/bridge"
	"github.com/wampbridge/grpcwamp/bridge/gcfloor"
)

// The HTTP servers' timeouts, for connections that are not (yet) WebSocket
// sessions. Variables only so that a test can shorten them.
var (
	// readHeaderTimeout bounds how long a client may take to send the
	// request head of the WebSocket handshake (or of /healthz).
	readHeaderTimeout = 10 * time.Second
	// readTimeout bounds how long a client may take to send a whole
	// request, body included: a request with a body trickled in byte by
	// byte would otherwise hold its connection for ever, since net/http
	// reads what a handler left unread before it answers the next request.
	// A WebSocket session sets its own read deadlines once it starts.
	readTimeout = 30 * time.Second
	// idleTimeout bounds how long a keep-alive connection may wait for its
	// next request (after a GET /healthz, say). Without it, net/http keeps
	// such a connection open for as long as the client likes.
	idleTimeout = 60 * time.Second
)

// maxHeaderBytes bounds a request's head, the WebSocket handshake's
// included: net/http's default, 1 MiB, would let each pending handshake
// hold that much for the 10 s of readHeaderTimeout. 64 KiB leaves room for
// large tokens and cookies.
const maxHeaderBytes = 64 << 10

const (
	// defaultShutdownGrace is the default of -shutdown-grace: how long
	// calls in flight may go on after SIGINT/SIGTERM.
	defaultShutdownGrace = 10 * time.Second
	// upstreamKeepaliveTimeout is how long a keep-alive ping to the
	// upstream may go unanswered before the transport is closed.
	upstreamKeepaliveTimeout = 10 * time.Second
	// traceFlushTimeout bounds the flush of trace spans at exit.
	traceFlushTimeout = 5 * time.Second
)

// serveConfig is the configuration of `bridge serve`: its flags, the
// environment and the -config file (see config.go).
type serveConfig struct {
	listen        string
	upstream      string // empty: the built-in demo clock
	descriptorSet string // empty: server reflection
	stream        bridge.StreamMode
	path          string
	logLevel      slog.Level
	logFormat     string // text or json

	feeds             []bridge.Feed
	nats              string // empty: in-process publish/subscribe
	publisherReceives bool
	upstreamMetrics   bool // -upstream-metrics: go-grpc-middleware's grpc_client_* metrics

	schemaRefresh time.Duration // 0: reload only on SIGHUP and UNIMPLEMENTED
	shutdownGrace time.Duration // calls in flight may end within it on SIGINT/SIGTERM

	aliases map[string]string // -alias URI=METHOD
	expose  []string          // -expose PATTERN

	allowOrigins   []string // -allow-origin; empty: same host only
	bearerTokens   []string // -bearer-token, $BRIDGE_BEARER_TOKENS; empty: none required
	forwardHeaders []string // -forward-header; nil: the default (authorization)
	forwardClient  bool     // -forward-client-address: x-forwarded-for on every call
	forwardSession bool     // -forward-session-id: wamp-session-id on every call

	maxSessions       int           // -max-sessions; 0: unlimited
	maxUpstreamCalls  int           // -max-upstream-calls; 0: unlimited
	procs             int           // -procs: GOMAXPROCS; 0 leaves the runtime's choice
	procsSet          bool          // procs came from a source, not the default
	gcHeapFloor       int64         // -gc-heap-floor: least heap goal of the garbage collector; 0: none
	upstreamKeepalive time.Duration // -upstream-keepalive; 0: no keep-alive pings

	// Limits of a session and of publish/subscribe: bridge.With... options.
	sendQueue        int
	maxFrameSize     int64
	maxCallsInFlight int
	collectLimit     int64
	maxResultSize    int64
	maxWaiting       int64
	maxSubscriptions int
	maxFeedStreams   int
	maxEventSize     int64
	eventQueue       int
	json             bridge.JSONOptions

	upstreamMaxRecvSize int64 // gRPC's default: 4 MiB
	upstreamMaxSendSize int64 // 0: gRPC's default (no practical limit)
	upstreamWindow      int64 // HTTP/2 window of each upstream stream; 0: gRPC's dynamic one

	noReadTimeout time.Duration // bridge.WithWriteTimeout
	pingInterval  time.Duration
	pongTimeout   time.Duration

	// Deadlines of calls by method: bridge.WithCallTimeout and friends.
	callTimeout       []bridge.MethodDuration
	maxCallTimeout    []bridge.MethodDuration
	streamIdleTimeout []bridge.MethodDuration

	retry         bridge.RetryPolicy // -retry-method, -retry-codes, -retry-backoff
	retryAttempts int                // -retry-attempts

	traceEndpoint    string  // -trace-endpoint; empty: no tracing
	debugListen      string  // -debug-listen; empty: no pprof
	traceSampleRatio float64 // -trace-sample-ratio

	tls tlsConfig // -tls-cert, -tls-key, -upstream-tls, -upstream-ca, ...

	configFile  string    // -config, $BRIDGE_CONFIG
	printConfig bool      // -print-config: print the settings and exit
	settings    []setting // every setting in effect and its source, for -print-config
}

// The defaults of the bridge's options that serve has flags for, as
// package bridge documents them.
const (
	defaultSendQueue           = 64
	defaultMaxFrameSize        = 1 << 20
	defaultMaxCallsInFlight    = 256
	defaultCollectLimit        = 16 << 20
	defaultMaxSubscriptions    = 256
	defaultMaxFeedStreams      = bridge.DefaultMaxFeedStreams
	defaultMaxEventSize        = 64 << 10
	defaultEventQueue          = 256
	defaultUpstreamMaxRecvSize = 4 << 20 // gRPC's default
	// defaultUpstreamWindow is the default of -upstream-window (see
	// windowFlag and README, Performance).
	defaultUpstreamWindow = 1 << 20
	defaultNoReadTimeout  = 10 * time.Second
	defaultPingInterval   = 25 * time.Second
	defaultPongTimeout    = 60 * time.Second
	defaultRetryAttempts  = 3
	defaultRetryBackoff   = 100 * time.Millisecond
	// defaultProcs is the default of -procs: a sidecar leaves the other
	// CPUs to the service beside it (see the README's Performance).
	defaultProcs = 1
	// defaultGCHeapFloor is the default of -gc-heap-floor: eight times the
	// runtime's own least heap goal (4 MiB), which cuts the collections of
	// a bridge with few sessions under many calls per second by about
	// eight. While sessions open in a burst, the floor is 8 MiB
	// (gcfloor.Hold), which leaves the memory of idle sessions as it was
	// (README, Performance).
	defaultGCHeapFloor = 32 << 20
)

func defaultServeConfig() serveConfig {
	return serveConfig{
		listen:              "127.0.0.1:8080",
		stream:              bridge.StreamProgress,
		path:                "/",
		logLevel:            slog.LevelInfo,
		logFormat:           "text",
		publisherReceives:   true,
		upstreamMetrics:     true,
		forwardClient:       true,
		forwardSession:      true,
		schemaRefresh:       bridge.DefaultSchemaRefresh,
		shutdownGrace:       defaultShutdownGrace,
		procs:               defaultProcs,
		gcHeapFloor:         defaultGCHeapFloor,
		maxSessions:         bridge.DefaultMaxSessions,
		maxUpstreamCalls:    bridge.DefaultMaxUpstreamCalls,
		sendQueue:           defaultSendQueue,
		maxFrameSize:        defaultMaxFrameSize,
		maxCallsInFlight:    defaultMaxCallsInFlight,
		collectLimit:        defaultCollectLimit,
		maxResultSize:       bridge.DefaultMaxResultSize,
		maxWaiting:          bridge.DefaultMaxWaitingResults,
		maxSubscriptions:    defaultMaxSubscriptions,
		maxFeedStreams:      defaultMaxFeedStreams,
		maxEventSize:        defaultMaxEventSize,
		eventQueue:          defaultEventQueue,
		json:                bridge.JSONOptions{EmitUnpopulated: true},
		upstreamMaxRecvSize: defaultUpstreamMaxRecvSize,
		upstreamWindow:      defaultUpstreamWindow,
		noReadTimeout:       defaultNoReadTimeout,
		pingInterval:        defaultPingInterval,
		pongTimeout:         defaultPongTimeout,
		retry:               bridge.RetryPolicy{Backoff: defaultRetryBackoff},
		retryAttempts:       defaultRetryAttempts,
		traceSampleRatio:    1,
	}
}

// bearerTokensEnv is the variable of -bearer-token, comma-separated:
// unlike flags, it does not show in ps.
const bearerTokensEnv = "BRIDGE_BEARER_TOKENS"

// parseServeFlags parses the settings of serve from args, the environment
// and the -config file. It reports errors and usage on stderr itself; it
// returns flag.ErrHelp for -h.
func parseServeFlags(args []string, stderr io.Writer) (serveConfig, error) {
	return loadServeConfig(args, os.Environ(), stderr)
}

// newServeFlagSet returns the flags of serve, which set cfg. cfg holds the
// defaults (defaultServeConfig); every flag checks its value in Set.
func newServeFlagSet(cfg *serveConfig, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("bridge", flag.ContinueOnError)
	fs.SetOutput(stderr)
	// The flag package prints the usage after each error too; the caller
	// prints it for -h alone (serveUsage), and after an error the hint.
	fs.Usage = func() {}
	return defineServeFlags(fs, cfg)
}

// settingsHint follows an error in the settings of serve: a line of the
// error, not 160 lines of usage after it.
const settingsHint = "(bridge -h lists the settings; see Configuration in the README)"

// serveUsage prints the usage of serve: what -h prints.
func serveUsage(fs *flag.FlagSet) {
	fmt.Fprint(fs.Output(), `usage: bridge [serve] [flags]
       `+callUsageLine+`

bridge serves the methods of a gRPC server to WAMP v1 clients over WebSocket.
With no -upstream it serves a built-in demo clock (demo.v1.ClockService).

Every flag but -config and -print-config is also an environment variable,
BRIDGE_ and the name in upper case with _ for - (BRIDGE_MAX_SESSIONS;
-bearer-token is BRIDGE_BEARER_TOKENS), and a key of the -config YAML file
(max-sessions: 100); -config is also BRIDGE_CONFIG.
The command line wins over the environment, which wins over the file.
Sizes are bytes, or an integer with KiB, MiB or GiB.

flags of serve:
`)
	fs.PrintDefaults()
}

// defineServeFlags defines the flags of serve on fs, which set cfg.
func defineServeFlags(fs *flag.FlagSet, cfg *serveConfig) *flag.FlagSet {
	fs.StringVar(&cfg.configFile, "config", "", "YAML `file` of settings, keyed by flag name; the environment and the command line override it")
	fs.BoolVar(&cfg.printConfig, "print-config", false, "print the effective settings as YAML that -config reads, with their sources, and exit")
	fs.StringVar(&cfg.listen, "listen", cfg.listen, "`address` to serve WebSocket, /healthz, /readyz, /procedures and /metrics on")
	fs.Var(stringFlag{&cfg.upstream, checkTarget}, "upstream", "gRPC `target` to bridge, as grpc.NewClient takes it (localhost:50051, dns:///name:port);\nempty: the built-in demo clock")
	fs.StringVar(&cfg.descriptorSet, "descriptor-set", "", "binary FileDescriptorSet `file` describing the upstream; empty: gRPC server reflection")
	fs.Var(streamFlag{&cfg.stream}, "stream", "`mode` of server streams for connections without ?stream=: progress, last or collect")
	fs.Var(stringFlag{&cfg.path, func(v string) error {
		if !strings.HasPrefix(v, "/") {
			return fmt.Errorf("%q must start with /", v)
		}
		return nil
	}}, "path", "`path` of the WebSocket endpoint")
	fs.Var(&listFlag{add: func(s string) error {
		f, err := bridge.ParseFeed(s)
		if err != nil {
			return err
		}
		cfg.feeds = append(cfg.feeds, f)
		return nil
	}}, "feed", "gRPC-fed `topic`, as 'TOPIC PROCEDURE [JSON]': while a client is subscribed to TOPIC, every message\nof the server stream PROCEDURE(JSON) is published to it; TOPIC may hold one {field} placeholder; repeatable\n(in $BRIDGE_FEED one per line)")
	fs.StringVar(&cfg.nats, "nats", "", "NATS server `URL` (nats://host:4222) that fans PUBLISH out across bridge replicas;\nempty: in-process")
	fs.BoolVar(&cfg.publisherReceives, "publisher-receives", true, "whether a bare PUBLISH reaches its own publisher when subscribed (excludeMe overrides it)")
	fs.Var(durationFlag{&cfg.schemaRefresh, 0, "0 reloads only on SIGHUP and UNIMPLEMENTED"}, "schema-refresh",
		"`period` of reloading the upstream's schema (reflection, or the -descriptor-set file when it changed);\n0: only on SIGHUP and when a method answers UNIMPLEMENTED")
	fs.Var(durationFlag{&cfg.shutdownGrace, 0, "0 cancels the calls in flight at once"}, "shutdown-grace",
		"on SIGINT/SIGTERM, how long calls in flight may go on (new calls are refused);\nthen they end with CALLERROR UNAVAILABLE and every connection closes with 1001")
	fs.Var(&listFlag{add: func(v string) error {
		uri, m, ok := strings.Cut(v, "=")
		if !ok || uri == "" || m == "" {
			return fmt.Errorf("want URI=METHOD, got %q", v)
		}
		if cfg.aliases == nil {
			cfg.aliases = make(map[string]string)
		}
		if old, dup := cfg.aliases[uri]; dup && old != m {
			return fmt.Errorf("alias %q given twice: %s and %s", uri, old, m)
		}
		cfg.aliases[uri] = m
		return nil
	}}, "alias", "extra procedure `URI=METHOD` for a method given by full name (pkg.Service.Method) or gRPC path; repeatable")
	fs.Var(&listFlag{add: func(v string) error {
		if v == "" {
			return errors.New("empty pattern")
		}
		if _, err := path.Match(v, ""); err != nil {
			return fmt.Errorf("pattern %q: %w", v, err)
		}
		cfg.expose = append(cfg.expose, v)
		return nil
	}}, "expose", "expose only methods whose full name matches `pattern` (glob such as demo.v1.ClockService.* or *.Get*,\nor a service full name); repeatable; default: all")
	fs.Var(&listFlag{add: func(v string) error {
		if v == "" {
			return errors.New("empty origin: want scheme://host[:port] or *")
		}
		cfg.allowOrigins = append(cfg.allowOrigins, v)
		return nil
	}}, "allow-origin", "web `origin` (scheme://host[:port]) whose pages may connect, or * for any; repeatable;\ndefault: pages of the bridge's own host only")
	fs.Var(&listFlag{add: func(v string) error {
		switch v {
		case "":
			return errors.New("empty token")
		case redacted:
			return errors.New(redacted + " is what -print-config shows for a secret, not a token: give the token, or set it in " +
				bearerTokensEnv + " and remove the setting")
		}
		cfg.bearerTokens = append(cfg.bearerTokens, v)
		return nil
	}}, "bearer-token", "require `token` as Authorization: Bearer or ?access_token= on the handshake and GET /procedures; repeatable;\nbetter in $"+bearerTokensEnv+" (comma-separated), which ps does not show; default: no token required")
	fs.Var(&listFlag{
		dflt: []string{"authorization"},
		add: func(v string) error {
			if cfg.forwardHeaders == nil {
				cfg.forwardHeaders = []string{}
			}
			if v != "" {
				cfg.forwardHeaders = append(cfg.forwardHeaders, v)
			}
			return nil
		},
		clear: func() { cfg.forwardHeaders = []string{} },
	}, "forward-header", "handshake `header` forwarded as gRPC metadata on every call; repeatable; an empty value forwards none;\ndefault: authorization")
	fs.BoolVar(&cfg.forwardClient, "forward-client-address", true, "send the client's address, appended to the handshake's X-Forwarded-For, as x-forwarded-for\nmetadata on every call; false sends none, which spares every call some CPU")
	fs.BoolVar(&cfg.forwardSession, "forward-session-id", true, "send the session id of the WELCOME as wamp-session-id metadata on every call;\nfalse sends none, which spares every call some CPU")
	fs.Var(cappedIntFlag{intFlag{&cfg.procs, 0, "0 leaves the Go runtime's choice"}, maxProcs,
		"it bounds the threads running Go code at once, and each costs the system a thread and memory"}, "procs",
		"most `CPUs` that run the bridge's code at once (GOMAXPROCS); 0: the Go runtime's choice\n(all CPUs, or the container's CPU limit); the default 1 suits a sidecar;\nan explicit $GOMAXPROCS is kept unless -procs is given")
	fs.Var(sizeFlag{&cfg.gcHeapFloor, 0, ""}, "gc-heap-floor",
		"least heap `size` at which the garbage collector starts a cycle: GOGC is raised while twice the live heap\nis smaller; at most 8MiB while sessions open in a burst; 0: GOGC alone; GOMEMLIMIT still caps it; GOGC=off turns it off")
	fs.Var(intFlag{&cfg.maxSessions, 0, "0 means unlimited"}, "max-sessions",
		"most WebSocket `sessions` served at once; a handshake beyond it gets HTTP 503; 0: unlimited")
	fs.Var(intFlag{&cfg.maxUpstreamCalls, 0, "0 means unlimited"}, "max-upstream-calls",
		"most `calls` running on the upstream at once, all sessions and fed topics together; a call beyond it\nis refused with RESOURCE_EXHAUSTED; 0: unlimited")
	fs.Var(durationFlag{&cfg.upstreamKeepalive, 0, "0 turns keep-alive pings off"}, "upstream-keepalive",
		"`period` of gRPC keep-alive pings to the upstream while calls are active (at least 10s);\n0: none; the upstream must allow it (grpc-go servers refuse pings more often than every 5m by default)")
	addTLSFlags(fs, &cfg.tls)

	// Limits of a session and of publish/subscribe.
	fs.Var(cappedIntFlag{intFlag{&cfg.sendQueue, 1, ""}, maxSendQueue,
		"every session allocates room for them (8 bytes a frame) when it opens"}, "send-queue",
		"`frames` that may wait for a slow WebSocket before its calls stop reading from the upstream")
	fs.Var(sizeFlag{&cfg.maxFrameSize, 1, ""}, "max-frame-size",
		"largest frame a client may send, in `bytes`; a larger one closes the session with 1009")
	fs.Var(intFlag{&cfg.maxCallsInFlight, 1, ""}, "max-calls-in-flight",
		"`calls` one session may run at once; more are refused with RESOURCE_EXHAUSTED")
	fs.Var(sizeFlag{&cfg.maxResultSize, 0, "0 means unlimited"}, "max-result-size",
		"largest JSON of one response message, in `bytes`; a response that renders larger fails its call\nwith RESOURCE_EXHAUSTED; 0: unlimited")
	fs.Var(sizeFlag{&cfg.maxWaiting, 0, "0 means unlimited"}, "max-waiting-results",
		"most `bytes` of calls' results (CALLRESULT, CALLERROR) that may wait for a slow client; a client further\nbehind is disconnected with 1008 (streams' progress frames wait for room instead); 0: unlimited")
	fs.Var(sizeFlag{&cfg.collectLimit, 1, ""}, "collect-limit",
		"largest CALLRESULT of a stream in collect mode, in `bytes`, and most that one connection's collect calls\nhold together; the call that would go past it fails with RESOURCE_EXHAUSTED")
	fs.Var(intFlag{&cfg.maxFeedStreams, 1, ""}, "max-feed-streams",
		"upstream `streams` that topics fed by -feed run at once; a topic wanted beyond it waits for one to end")
	fs.Var(intFlag{&cfg.maxSubscriptions, 1, ""}, "max-subscriptions",
		"`topics` one session may subscribe to; a SUBSCRIBE beyond it is dropped")
	fs.Var(sizeFlag{&cfg.maxEventSize, 1, ""}, "max-event-size",
		"largest event of a PUBLISH, in `bytes`; a larger one is dropped")
	fs.Var(intFlag{&cfg.eventQueue, 1, ""}, "event-queue",
		"EVENT `frames` that may wait for a slow WebSocket; a subscriber whose queue is full is disconnected with 1008")
	fs.BoolVar(&cfg.json.UseProtoNames, "json-use-proto-names", false, "JSON field names as in the .proto instead of lowerCamelCase")
	fs.BoolVar(&cfg.json.EmitUnpopulated, "json-emit-unpopulated", true, "emit fields that hold their default value in results")
	fs.BoolVar(&cfg.json.UseEnumNumbers, "json-use-enum-numbers", false, "enums as numbers instead of names in results")
	fs.BoolVar(&cfg.json.DiscardUnknown, "json-discard-unknown", false, "ignore unknown fields in arguments instead of refusing the call")
	fs.BoolVar(&cfg.upstreamMetrics, "upstream-metrics", true, "go-grpc-middleware's grpc_client_* metrics of the calls to the upstream on /metrics;\nfalse leaves them out, and with them a metrics update per message of a stream")
	fs.Var(sizeFlag{&cfg.upstreamMaxRecvSize, 1, ""}, "upstream-max-recv-size",
		"largest message the upstream may send, in `bytes`; a larger one fails the call with RESOURCE_EXHAUSTED")
	fs.Var(sizeFlag{&cfg.upstreamMaxSendSize, 0, "0 means gRPC's default"}, "upstream-max-send-size",
		"largest message sent to the upstream, in `bytes`; a larger request is not sent and fails the call with RESOURCE_EXHAUSTED;\n0: gRPC's default (2 GiB)")
	fs.Var(windowFlag{&cfg.upstreamWindow}, "upstream-window",
		"HTTP/2 flow-control window of each call to the upstream, in `bytes` (the connection's is 4 times it):\nhow much a stream may send ahead of a slow client; 0: gRPC's own, which starts at 64KiB and grows\nby estimating the bandwidth with a ping per burst of data")

	// Timeouts of a session.
	fs.Var(durationFlag{&cfg.noReadTimeout, time.Millisecond, ""}, "no-read-timeout",
		"a client that does not read its frames for this `long` is disconnected (the time one write may block)")
	fs.Var(durationFlag{&cfg.pingInterval, time.Millisecond, ""}, "ping-interval",
		"`period` of the WebSocket pings the bridge sends")
	fs.Var(durationFlag{&cfg.pongTimeout, time.Millisecond, ""}, "pong-timeout",
		"a client that answers no ping for this `long` after its last pong is disconnected (data frames it sends do not count;\non Linux over plain TCP, one that keeps taking data stays, up to 4 times this long); longer than -ping-interval")

	// Deadlines and retries of calls, by method.
	methodDurations := func(p *[]bridge.MethodDuration) *listFlag {
		return &listFlag{add: func(v string) error {
			r, err := bridge.ParseMethodDuration(v)
			if err != nil {
				return err
			}
			*p = append(*p, r)
			return nil
		}}
	}
	fs.Var(methodDurations(&cfg.callTimeout), "call-timeout",
		"deadline `PATTERN=DURATION` (or DURATION for every method) of calls whose client set none;\nthe first matching pattern applies; repeatable; default: none")
	fs.Var(methodDurations(&cfg.maxCallTimeout), "max-call-timeout",
		"longest deadline `PATTERN=DURATION` a call may have; repeatable; default: none")
	fs.Var(methodDurations(&cfg.streamIdleTimeout), "stream-idle-timeout",
		"longest silence `PATTERN=DURATION` of the upstream in a server stream (back-pressure does not count);\nrepeatable; default: none")
	fs.Var(&listFlag{add: func(v string) error {
		if v == "" {
			return errors.New("empty pattern")
		}
		if _, err := path.Match(v, ""); err != nil {
			return fmt.Errorf("pattern %q: %w", v, err)
		}
		cfg.retry.Methods = append(cfg.retry.Methods, v)
		return nil
	}}, "retry-method", "retry failed calls of the methods matching `pattern` (safe to run twice), unary and server-streaming,\nwhile the client has seen nothing of them; repeatable; default: none")
	fs.Var(intFlag{&cfg.retryAttempts, 2, "the first attempt counts, so 2 is one retry"}, "retry-attempts", "most `attempts` of a retried call, the first included")
	fs.Var(&listFlag{
		dflt: []string{"UNAVAILABLE"},
		add: func(v string) error {
			c, err := bridge.ParseRetryCode(v)
			if err != nil {
				return err
			}
			cfg.retry.Codes = append(cfg.retry.Codes, c)
			return nil
		},
	}, "retry-codes", "gRPC status `code` retried (UNAVAILABLE, RESOURCE_EXHAUSTED, ...); repeatable; default: UNAVAILABLE")
	fs.Var(durationFlag{&cfg.retry.Backoff, time.Millisecond, ""}, "retry-backoff",
		"`wait` before the second attempt, doubling for each further one (10% jitter, at most 5s)")
	fs.StringVar(&cfg.traceEndpoint, "trace-endpoint", "", "OTLP/gRPC collector `URL` (http://host:4317 plaintext, https:// TLS) that receives a span per upstream call;\nthe trace context goes upstream as traceparent; empty: no tracing")
	fs.StringVar(&cfg.debugListen, "debug-listen", "", "`address` (such as 127.0.0.1:6060) of a separate listener serving Go's profiles at /debug/pprof/;\nkeep it on loopback or a private network; empty: none")
	fs.Var(ratioFlag{&cfg.traceSampleRatio}, "trace-sample-ratio", "`fraction` of traces sampled, from 0 to 1; a sampled parent wins")

	fs.Var(levelFlag{&cfg.logLevel}, "log-level", "log `level`: debug, info, warn or error")
	fs.Var(choiceFlag{&cfg.logFormat, []string{"text", "json"}}, "log-format", "log `format`: text (log/slog's key=value) or json (one object per line)")
	return fs
}

// Largest values of -procs and -send-queue: beyond them the process would
// exhaust its threads, or a session's queue alone take megabytes.
const (
	maxProcs     = 1024
	maxSendQueue = 1 << 16
)

// checkTarget refuses an -upstream that grpc.NewClient would take but
// never connect to, which would leave the bridge retrying for ever. It
// follows gRPC's parsing: a scheme with a resolver in this binary (dns,
// passthrough, unix, ...) picks it; any other scheme:// is refused (a URL
// such as http://, or a resolver not linked in, as xds); anything else
// goes to the DNS resolver. The addresses of dns and passthrough are then
// read as they do (see checkHostPort); the other resolvers' are left to
// them.
func checkTarget(v string) error {
	if v == "" {
		return nil // the demo
	}
	scheme, endpoint := "dns", v
	if u, err := url.Parse(v); err == nil && u.Scheme != "" && resolver.Get(u.Scheme) != nil {
		scheme, endpoint = u.Scheme, resolver.Target{URL: *u}.Endpoint()
	} else if scheme, _, ok := strings.Cut(v, "://"); ok {
		switch strings.ToLower(scheme) {
		case "http", "https", "ws", "wss", "grpc", "grpcs":
			return fmt.Errorf("%q is a URL: %s; for TLS add -upstream-tls", v, targetWant)
		}
		return fmt.Errorf("%q: this binary has no gRPC resolver for the scheme %q: %s", v, scheme, targetWant)
	}
	switch scheme {
	case "dns":
		return checkHostPort(v, endpoint, false)
	case "passthrough":
		if strings.HasPrefix(endpoint, "unix:") {
			return nil // gRPC dials it as a socket
		}
		return checkHostPort(v, endpoint, true)
	}
	return nil
}

// targetWant tells what -upstream takes, in its errors.
const targetWant = "a gRPC target is host:port or dns:///host:port (unix:PATH for a socket)"

// checkHostPort checks the address of the target v as gRPC's DNS resolver
// reads it (its parseTarget): an IP address, or host:port, or a host alone
// (port 443), the host empty for localhost; then the dialer (net.Dial)
// takes the port, a number or a service name (https) as net.LookupPort
// reads it. needPort is for passthrough, which hands the address to the
// dialer as it is. A host that is not an IP address must be a name that a
// resolver could know: letters, digits, '-', '.' and '_' (see badHostRune).
func checkHostPort(v, addr string, needPort bool) error {
	if addr == "" {
		return fmt.Errorf("%q: no address after the scheme: %s", v, targetWant)
	}
	var host, port string
	if _, err := netip.ParseAddr(addr); err == nil {
		host = addr
	} else if h, p, err := net.SplitHostPort(addr); err == nil {
		if p == "" {
			return fmt.Errorf("%q: the port is missing after the colon: %s", v, targetWant)
		}
		host, port = h, p
	} else if h, _, err := net.SplitHostPort(addr + ":443"); err == nil {
		host = h
	} else {
		return fmt.Errorf("%q: %s (an IPv6 address with a port goes in brackets: [::1]:50051)", v, targetWant)
	}
	if port == "" && needPort {
		return fmt.Errorf("%q: the port is missing: passthrough hands the address to the dialer as it is, which wants host:port (passthrough:///%s)", v, net.JoinHostPort(host, "50051"))
	}
	if _, err := netip.ParseAddr(host); err != nil {
		if bad, ok := badHostRune(host); ok {
			return fmt.Errorf("%q: the host %q has %q, which no host name or IP address has (a host name has letters, digits, '-', '.' and '_'): %s", v, host, bad, targetWant)
		}
	}
	if port != "" {
		if n, err := net.LookupPort("tcp", port); err != nil || n == 0 {
			what := "nor a known service name (such as https)"
			if strings.ContainsAny(port, "/?#") {
				what = "(no path goes after the port)"
			}
			return fmt.Errorf("%q: the port %q is not a number from 1 to 65535 %s: %s", v, port, what, targetWant)
		}
	}
	return nil
}

// badHostRune returns the first character of host that no host name has,
// if any: a name that DNS or the hosts file can hold (hosts(5)) has ASCII
// letters, digits, '-', '.' and '_' (which Go's resolver accepts too);
// letters of other scripts are left to the resolver, which may know an
// internationalised name. Spaces, slashes and the other punctuation are
// no host's: an address or a URL put where the host goes.
func badHostRune(host string) (rune, bool) {
	for _, r := range host {
		switch {
		case 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z', '0' <= r && r <= '9', r == '-', r == '.', r == '_':
		case r >= utf8.RuneSelf && (unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r)):
		default:
			return r, true
		}
	}
	return 0, false
}

// check checks what no single setting can: the combinations, and the URL
// settings, whose errors must not quote a password as the flag package
// would (see redactURL). from tells where each setting comes from.
func (cfg *serveConfig) check(from map[string]source) error {
	for _, u := range []struct{ name, value string }{{"nats", cfg.nats}, {"trace-endpoint", cfg.traceEndpoint}} {
		if err := checkNotRedacted(u.name, u.value); err != nil {
			return fmt.Errorf("-%s (%s): %w", u.name, sourceOf(from, u.name), err)
		}
	}
	if v := cfg.traceEndpoint; v != "" {
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("-trace-endpoint (%s): want http://host:port (plaintext) or https://host:port (TLS) of an OTLP/gRPC collector, got %q",
				sourceOf(from, "trace-endpoint"), redactURL(v))
		}
	}
	if cfg.pongTimeout <= cfg.pingInterval {
		return fmt.Errorf("-pong-timeout %v (%s) must be longer than -ping-interval %v (%s): a client answering every ping would be disconnected",
			cfg.pongTimeout, sourceOf(from, "pong-timeout"), cfg.pingInterval, sourceOf(from, "ping-interval"))
	}
	return cfg.tls.check(cfg.upstream)
}

func sourceOf(from map[string]source, name string) string {
	if s, ok := from[name]; ok {
		return s.String()
	}
	return "default"
}

// serveMain runs `bridge serve` and returns the exit status.
func serveMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, err := parseServeFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		return exitUsage
	}
	if cfg.printConfig {
		if err := writeConfig(stdout, cfg.settings); err != nil {
			fmt.Fprintf(stderr, "error: -print-config: %v\n", err)
			return exitFailure
		}
		return exitOK
	}
	if err := serve(ctx, cfg, stderr); err != nil {
		// Not "bridge: %v": the errors of package bridge carry that prefix.
		fmt.Fprintf(stderr, "error: %v\n", err)
		return exitFailure
	}
	return exitOK
}

// newLogger returns the logger of serve: log/slog's key=value text, or
// with format "json" one JSON object per line, whose durations are
// strings as in the text ("1.5ms"), not slog's bare nanoseconds.
func newLogger(w io.Writer, format string, level slog.Level) *slog.Logger {
	hopts := &slog.HandlerOptions{Level: level}
	if format != "json" {
		return slog.New(slog.NewTextHandler(w, hopts))
	}
	hopts.ReplaceAttr = func(_ []string, a slog.Attr) slog.Attr {
		if a.Value.Kind() == slog.KindDuration {
			a.Value = slog.StringValue(a.Value.Duration().String())
		}
		return a
	}
	return slog.New(slog.NewJSONHandler(w, hopts))
}

// serve serves the bridge until ctx is cancelled, then shuts down: the HTTP
// server stops accepting, the handler drains its sessions for
// cfg.shutdownGrace (see bridge.Handler.Shutdown) and closes them with 1001,
// the upstream connection closes, and the demo clock, if any, stops. It
// returns an error when it cannot start, when serving fails, or when the
// shutdown fails; the grace running out is not an error.
func serve(ctx context.Context, cfg serveConfig, stderr io.Writer) error {
	logger := newLogger(stderr, cfg.logFormat, cfg.logLevel)
	if n := procsToSet(cfg.procs, cfg.procsSet, os.Getenv("GOMAXPROCS") != ""); n > 0 {
		setGOMAXPROCS(n)
		logger.Debug("set GOMAXPROCS", "procs", n)
	}
	defer startGCFloor(uint64(cfg.gcHeapFloor))()

	// Listen first, so that a busy port fails before anything starts and
	// the banner shows the real address when the port is 0.
	var lc net.ListenConfig
	lis, err := lc.Listen(ctx, "tcp", cfg.listen)
	if err != nil {
		return fmt.Errorf("flag -listen: %w", err)
	}
	defer lis.Close() // Serve closes it too; this covers the early returns
	serverTLS, err := cfg.tls.serverTLS(logger)
	if err != nil {
		return err
	}
	upstreamCreds, err := cfg.tls.upstreamCredentials()
	if err != nil {
		return err
	}

	target, upstreamDesc := cfg.upstream, cfg.upstream
	if target == "" {
		addr, stopDemo, err := bridge.StartDemo(ctx)
		if err != nil {
			return fmt.Errorf("start the demo clock: %w", err)
		}
		defer stopDemo()
		target, upstreamDesc = addr, "built-in demo clock at "+addr
	}
	// One registry for GET /metrics: the bridge's metrics, the upstream
	// client's gRPC metrics, and the Go and process collectors.
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	var dopts []grpc.DialOption
	if cfg.upstreamMetrics {
		// The stream interceptor updates a counter per message received,
		// 11% of the bridge's CPU on a busy stream (README, Performance):
		// the price of -upstream-metrics.
		clientMetrics := grpcprom.NewClientMetrics(grpcprom.WithClientHandlingTimeHistogram())
		reg.MustRegister(clientMetrics)
		dopts = append(dopts,
			grpc.WithChainUnaryInterceptor(clientMetrics.UnaryClientInterceptor()),
			grpc.WithChainStreamInterceptor(clientMetrics.StreamClientInterceptor()),
		)
	}
	if upstreamCreds != nil {
		dopts = append(dopts, upstreamCreds)
	}
	callOpts := []grpc.CallOption{grpc.MaxCallRecvMsgSize(int(cfg.upstreamMaxRecvSize))}
	if cfg.upstreamMaxSendSize > 0 {
		callOpts = append(callOpts, grpc.MaxCallSendMsgSize(int(cfg.upstreamMaxSendSize)))
	}
	dopts = append(dopts, grpc.WithDefaultCallOptions(callOpts...))
	if w := int32(cfg.upstreamWindow); w > 0 {
		// Static windows, which also turn off gRPC's bandwidth estimation.
		dopts = append(dopts, grpc.WithInitialWindowSize(w), grpc.WithInitialConnWindowSize(4*w))
	}
	if cfg.traceEndpoint != "" {
		traceOpt, stopTracing, err := newTracing(ctx, cfg.traceEndpoint, cfg.traceSampleRatio)
		if err != nil {
			return err
		}
		// Flushes the spans of the last calls; the collector gets the grace
		// of a shutdown, no more.
		defer func() {
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), traceFlushTimeout)
			defer cancel()
			if err := stopTracing(sctx); err != nil {
				logger.Warn("flushing trace spans failed", "endpoint", redactURL(cfg.traceEndpoint), "timeout", traceFlushTimeout, "error", err)
			}
		}()
		dopts = append(dopts, traceOpt)
	}
	retry := cfg.retry
	retry.Attempts = uint(cfg.retryAttempts)
	retryOpts, err := bridge.RetryDialOptions(retry)
	if err != nil {
		return err
	}
	ka := keepaliveParams{every: cfg.upstreamKeepalive, timeout: upstreamKeepaliveTimeout}
	cc, err := newUpstreamConn(target, ka, logger, retryOpts, dopts...)
	if err != nil {
		return fmt.Errorf("flag -upstream: %w", err)
	}
	defer cc.Close()

	opts := []bridge.Option{
		bridge.WithStreamMode(cfg.stream),
		bridge.WithPath(cfg.path),
		bridge.WithLogger(logger),
		bridge.WithFeeds(cfg.feeds...),
		bridge.WithPublisherReceives(cfg.publisherReceives),
		bridge.WithSchemaRefresh(cfg.schemaRefresh),
		bridge.WithAliases(cfg.aliases),
		bridge.WithExpose(cfg.expose...),
		bridge.WithAllowedOrigins(cfg.allowOrigins...),
		bridge.WithBearerTokens(cfg.bearerTokens...),
		bridge.WithMaxSessions(cfg.maxSessions),
		bridge.WithMaxUpstreamCalls(cfg.maxUpstreamCalls),
		bridge.WithMetricsRegistry(reg),
		bridge.WithSendQueue(cfg.sendQueue),
		bridge.WithMaxMessageSize(cfg.maxFrameSize),
		bridge.WithMaxCallsInFlight(cfg.maxCallsInFlight),
		bridge.WithCollectLimit(int(cfg.collectLimit)),
		bridge.WithMaxResultSize(int(cfg.maxResultSize)),
		// The limits of cc's calls, set above: the handler cannot read them.
		bridge.WithUpstreamMessageLimits(int(cfg.upstreamMaxSendSize), int(cfg.upstreamMaxRecvSize)),
		bridge.WithMaxWaitingResults(cfg.maxWaiting),
		bridge.WithMaxSubscriptions(cfg.maxSubscriptions),
		bridge.WithMaxFeedStreams(cfg.maxFeedStreams),
		bridge.WithMaxEventSize(int(cfg.maxEventSize)),
		bridge.WithEventQueue(cfg.eventQueue),
		bridge.WithJSONOptions(cfg.json),
		bridge.WithWriteTimeout(cfg.noReadTimeout),
		bridge.WithPingInterval(cfg.pingInterval),
		bridge.WithPongTimeout(cfg.pongTimeout),
		bridge.WithCallTimeout(cfg.callTimeout...),
		bridge.WithMaxCallTimeout(cfg.maxCallTimeout...),
		bridge.WithStreamIdleTimeout(cfg.streamIdleTimeout...),
		bridge.WithForwardedFor(cfg.forwardClient),
		bridge.WithSessionIDMetadata(cfg.forwardSession),
	}
	if cfg.forwardHeaders != nil {
		opts = append(opts, bridge.WithForwardHeaders(cfg.forwardHeaders...))
	}
	if cfg.descriptorSet != "" {
		opts = append(opts, bridge.WithDescriptorSetFile(cfg.descriptorSet))
	}
	if cfg.nats != "" {
		opts = append(opts, bridge.WithNATS(cfg.nats))
	}
	h, err := bridge.NewHandler(cc, opts...)
	if err != nil {
		return err
	}

	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          httpErrorLog(logger),
	}
	scheme := "ws://"
	if serverTLS != nil {
		srv.TLSConfig = serverTLS
		lis = tls.NewListener(lis, serverTLS)
		scheme = "wss://"
	}
	url := scheme + dialAddr(lis.Addr()) + cfg.path
	also := ""
	if cfg.debugListen != "" {
		pprofURL, stopDebug, err := startDebug(ctx, cfg.debugListen, logger)
		if err != nil {
			return err
		}
		defer stopDebug()
		also = "; pprof: " + pprofURL
	}
	banner := fmt.Sprintf("bridge: serving WAMP v1 on %s (upstream: %s%s)\n", url, upstreamDesc, also)
	if cfg.upstream == "" {
		banner += fmt.Sprintf("bridge: try: go run ./cmd/bridge call %s demo.v1.ClockService.GetProgressiveTime '{\"count\":3,\"interval\":\"0.2s\"}'\n", url)
	}
	if cfg.logFormat == "json" {
		// Every line of stderr is a JSON object.
		logger.Info("serving WAMP v1", "url", url, "upstream", upstreamDesc+also)
	} else {
		_, _ = io.WriteString(stderr, banner) // one write: log lines do not come between
	}

	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	// SIGHUP reloads the upstream's schema, e.g. after redeploying it.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	var serveErr error
	for running := true; running; {
		select {
		case <-hup:
			logger.Info("SIGHUP: reloading the upstream schema")
			h.RefreshSchema()
		case <-ctx.Done():
			logger.Info("shutting down", "grace", cfg.shutdownGrace)
			running = false
		case serveErr = <-h.Err():
			running = false
		case serveErr = <-served:
			// Serve never returns nil, and ErrServerClosed only after Shutdown.
			serveErr = fmt.Errorf("serve on %s: %w", lis.Addr(), serveErr)
			running = false
		}
	}

	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.shutdownGrace)
	defer cancel()
	var errs []error
	// http.Server.Shutdown stops accepting and waits for plain HTTP
	// requests; it neither closes nor waits for the hijacked WebSockets,
	// which the handler's Shutdown closes with 1001.
	if err := srv.Shutdown(sctx); err != nil {
		errs = append(errs, fmt.Errorf("shut down the HTTP server: %w", err))
		_ = srv.Close()
	}
	// The end of the grace is no failure: the calls still in flight get
	// CALLERROR UNAVAILABLE and their sessions close with 1001.
	if err := h.Shutdown(sctx); errors.Is(err, context.DeadlineExceeded) {
		logger.Info("shutdown grace ended: cancelled the calls still in flight", "grace", cfg.shutdownGrace)
	} else if err != nil {
		errs = append(errs, err)
	}
	if serveErr == nil {
		<-served // ErrServerClosed
	}
	return errors.Join(append([]error{serveErr}, errs...)...)
}

// newUpstreamConn returns the client connection to the upstream, with
// insecure credentials (unless extra holds grpc.WithTransportCredentials,
// which then wins: serve adds it for -upstream-tls) and, when logger logs at
// debug level, go-grpc-middleware logging of every call at that level, so
// that a normal run stays quiet and pays nothing for it. Failed calls reach the WAMP
// client as CALLERROR; the bridge logs its own failures.
//
// Its load balancer is round_robin ([bridge.RoundRobinServiceConfig]): a
// target resolving to several addresses, such as dns:///name:port over
// the replicas of a headless service, gets a subchannel to each and calls
// spread over the ready ones. When ka.every is positive, the connection
// pings the upstream after ka.every without traffic, while calls are
// active only (PermitWithoutStream false), and drops a transport whose
// ping goes unanswered for ka.timeout (serve: upstreamKeepaliveTimeout):
// its calls fail with UNAVAILABLE instead of waiting on a dead path. It is
// off by default: a grpc-go server's default enforcement policy (MinTime
// 5m) answers pings more frequent than that with GOAWAY "too_many_pings".
//
// outer are dial options whose interceptors run before the logging ones
// (serve gives the retry interceptors, so that every attempt is logged and
// counted); extra are further dial options, whose interceptors (serve adds
// the go-grpc-middleware Prometheus client metrics) run after them.
func newUpstreamConn(target string, ka keepaliveParams, logger *slog.Logger, outer []grpc.DialOption, extra ...grpc.DialOption) (*grpc.ClientConn, error) {
	l := grpcLogger(logger.With("component", "upstream"))
	lopts := []logging.Option{
		logging.WithLogOnEvents(logging.StartCall, logging.FinishCall),
		logging.WithLevels(func(codes.Code) logging.Level { return logging.LevelDebug }),
	}
	dopts := append(slices.Clip(outer),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultServiceConfig(bridge.RoundRobinServiceConfig),
	)
	// The interceptors do their work (fields, timing) before the logger
	// decides to drop the line: install them only when their level logs.
	if logger.Enabled(context.Background(), slog.LevelDebug) {
		dopts = append(dopts,
			grpc.WithChainUnaryInterceptor(logging.UnaryClientInterceptor(l, lopts...)),
			grpc.WithChainStreamInterceptor(logging.StreamClientInterceptor(l, lopts...)),
		)
	}
	if ka.every > 0 {
		dopts = append(dopts, grpc.WithKeepaliveParams(grpckeepalive.ClientParameters{
			Time:                ka.every,
			Timeout:             ka.timeout,
			PermitWithoutStream: false,
		}))
	}
	return grpc.NewClient(target, append(dopts, extra...)...)
}

// keepaliveParams are the gRPC keep-alive settings of the upstream
// connection (see newUpstreamConn). grpc-go raises every to at least 10s.
type keepaliveParams struct {
	every   time.Duration // ping after this long without traffic; 0: never
	timeout time.Duration // close the transport when a ping is unanswered this long
}

// httpErrorLog returns the log of the HTTP server's own errors, as
// warnings. A failed TLS handshake is a client's doing, one line each: the
// first tlsErrorsLogged are logged and then one a minute, saying so, so
// that clients cannot flood the log.
func httpErrorLog(l *slog.Logger) *log.Logger {
	tlsErrors := &rate.Sometimes{First: tlsErrorsLogged, Interval: time.Minute}
	var logged atomic.Int64
	return log.New(writerFunc(func(p []byte) (int, error) {
		msg := strings.TrimSuffix(string(p), "\n")
		if !strings.HasPrefix(msg, "http: TLS handshake error") {
			l.Warn(msg)
			return len(p), nil
		}
		tlsErrors.Do(func() {
			if logged.Add(1) == tlsErrorsLogged {
				msg += " (further TLS handshake errors: at most one a minute)"
			}
			l.Warn(msg)
		})
		return len(p), nil
	}), "", 0)
}

// tlsErrorsLogged is how many failed TLS handshakes are logged before the
// log of them slows to one a minute.
const tlsErrorsLogged = 10

// writerFunc is an io.Writer made of a function.
type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// grpcLogger adapts a slog.Logger to the logging interface of
// go-grpc-middleware, whose levels are slog's numbers.
func grpcLogger(l *slog.Logger) logging.Logger {
	return logging.LoggerFunc(func(ctx context.Context, lvl logging.Level, msg string, fields ...any) {
		l.Log(ctx, slog.Level(lvl), msg, fields...)
	})
}

// dialAddr returns an address a client on this machine can dial to reach
// the listener: a wildcard host (":8080", "[::]:8080") becomes localhost.
func dialAddr(a net.Addr) string {
	tcp, ok := a.(*net.TCPAddr)
	if !ok || !tcp.IP.IsUnspecified() {
		return a.String()
	}
	return net.JoinHostPort("localhost", strconv.Itoa(tcp.Port))
}

// setGOMAXPROCS sets how many CPUs run Go code at once; tests replace it,
// since serve runs inside their process.
var setGOMAXPROCS = runtime.GOMAXPROCS

// startGCFloor keeps the garbage collector's heap goal at or above a floor
// until the function it returns is called (package gcfloor).
var startGCFloor = gcfloor.Start

// procsToSet returns the GOMAXPROCS that serve sets, 0 for none: -procs,
// unless it is 0 (the runtime's choice) or only the default while the
// environment gives GOMAXPROCS, which the runtime has applied already.
func procsToSet(procs int, set, envGOMAXPROCS bool) int {
	if procs <= 0 || (!set && envGOMAXPROCS) {
		return 0
	}
	return procs
}
