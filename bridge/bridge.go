// Package bridge serves gRPC methods to WAMP v1 clients over WebSocket.
//
// A [Handler] upgrades WebSocket requests at its path and serves each
// connection as a WAMP v1 session: a CALL becomes a gRPC call of the method
// the procedure names, found at run time by server reflection or from a
// descriptor set, and each message of a server stream becomes a
// CALL_PROGRESS_RESULT. The same handler serves /healthz, /readyz and
// /metrics (Prometheus).
//
// The wire contract is described in the README of this repository.
package bridge

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"google.golang.org/grpc"

	"github.com/wampbridge/grpcwamp/bridge/gcfloor"
	"github.com/wampbridge/grpcwamp/bridge/internal/broker"
	"github.com/wampbridge/grpcwamp/bridge/internal/feed"
	"github.com/wampbridge/grpcwamp/bridge/internal/invoke"
	"github.com/wampbridge/grpcwamp/bridge/internal/session"
	"github.com/wampbridge/grpcwamp/bridge/internal/transcode"
	"github.com/wampbridge/grpcwamp/bridge/internal/upstream"
)

// Subprotocol is the WebSocket subprotocol of WAMP v1.
const Subprotocol = "wamp"

// ServerIdent is the server identity sent in WELCOME.
const ServerIdent = "grpcwamp/0.1"

// Handler is an http.Handler serving the bridge. Create it with
// [NewHandler] and stop it with [Handler.Shutdown].
type Handler struct {
	cfg      config
	up       *upstream.Upstream
	core     *invoke.Core
	upgrader websocket.Upgrader
	stats    *session.Stats
	broker   *broker.Broker
	feeds    *feed.Manager
	bstats   *broker.Stats
	sec      *security
	metrics  *metrics

	fatal chan error // fatal schema errors; see Err

	ctx     context.Context // the upstream loop; cancelled by Shutdown once the sessions have ended
	cancel  context.CancelFunc
	runDone chan struct{}

	mu       sync.Mutex
	closing  bool
	sessions sync.WaitGroup
	active   int // WebSocket sessions admitted and not yet ended; see WithMaxSessions
	// Shutdown's signals to the sessions, made by shutdownSignals.
	drain    chan struct{}      // closed by Shutdown: drain
	force    context.Context    // cancelled when Shutdown's ctx ends
	forceEnd context.CancelFunc // cancels force
	shutDone chan struct{}      // closed when everything has ended
	// workers run the calls of every session; Shutdown stops them once
	// the sessions have ended.
	workers *session.Workers
}

// workerIdle is how long a goroutine that ran a call waits for the next
// before it exits (see session.Workers).
const workerIdle = 5 * time.Second

// NewHandler returns a handler bridging the upstream behind cc. It starts
// resolving the upstream's methods at once, in the background: the handler
// serves /healthz at once, and /readyz and calls once the methods are
// known. A descriptor set that cannot be read is an error here.
func NewHandler(cc *grpc.ClientConn, opts ...Option) (*Handler, error) {
	cfg := defaultConfig()
	for _, o := range opts {
		o(&cfg)
	}
	switch {
	case !strings.HasPrefix(cfg.path, "/"):
		return nil, fmt.Errorf("bridge: WebSocket path %q must start with /, such as /ws", cfg.path)
	case cfg.path == "/healthz" || cfg.path == "/readyz" || cfg.path == proceduresPath || cfg.path == metricsPath:
		return nil, fmt.Errorf("bridge: WebSocket path %q is taken by an endpoint of the bridge (/healthz, /readyz, /procedures, /metrics): choose another, such as /ws", cfg.path)
	}
	naming := upstream.Naming{Aliases: cfg.aliases, Expose: cfg.expose}
	if err := naming.Validate(); err != nil {
		return nil, fmt.Errorf("bridge: %w", err)
	}
	if err := cfg.timeouts.Validate(); err != nil {
		return nil, fmt.Errorf("bridge: %w", err)
	}
	sec, err := newSecurity(cfg)
	if err != nil {
		return nil, err
	}
	fatal := make(chan error, 1)
	var src upstream.Source
	if cfg.descriptorSet != "" {
		src = upstream.WithNaming(upstream.NewFileSource(cfg.descriptorSet), naming)
		if _, err := src.Load(context.Background()); err != nil {
			return nil, fmt.Errorf("bridge: %w", err)
		}
	} else {
		src = upstream.WithNaming(upstream.NewReflectionSource(cc), naming)
	}
	src = &fatalSource{Source: src, fatal: fatal}
	up := upstream.New(cc, src, cfg.logger)
	jo := transcode.Options{
		UseProtoNames:   cfg.json.UseProtoNames,
		EmitUnpopulated: cfg.json.EmitUnpopulated,
		UseEnumNumbers:  cfg.json.UseEnumNumbers,
		DiscardUnknown:  cfg.json.DiscardUnknown,
	}
	core := invoke.New(up, jo, cfg.logger)
	core.SetTimeouts(cfg.timeouts)
	core.SetMaxCalls(cfg.maxUpstreamCalls)
	core.SetMaxResult(cfg.maxResultSize)
	recv := cfg.upstreamMaxRecv
	if recv == 0 {
		recv = defaultUpstreamMaxRecv
	}
	core.SetUpstreamLimits(cfg.upstreamMaxSend, recv)
	bstats := new(broker.Stats)
	stats := new(session.Stats)
	met, err := newMetrics(cfg.metricsRegistry, stats, bstats, core.Running)
	if err != nil {
		return nil, err
	}
	b, feeds, err := newBroker(cfg, feed.CoreCaller(core), bstats)
	if err != nil {
		return nil, err
	}
	watchSchema(up, cfg, b, feeds)
	ctx, cancel := context.WithCancel(context.Background())
	h := &Handler{
		cfg:    cfg,
		up:     up,
		core:   core,
		broker: b,
		feeds:  feeds,
		bstats: bstats,
		upgrader: websocket.Upgrader{
			Subprotocols: []string{Subprotocol},
			Error:        handshakeError,
			CheckOrigin:  sec.checkOrigin, // admit has answered a refusal already
			// The session frames its data messages itself (see
			// session.Upgrade); with a pool gorilla holds no write buffer
			// per connection for the control frames it writes.
			WriteBufferPool: new(sync.Pool),
			// Gorilla's least read buffer. Reads must go through the
			// connection session.Upgrade hands gorilla, or the pong
			// watch is silently off: they do with this size and with
			// 0, and a test checks it (see session.ReadBufferSize).
			ReadBufferSize: session.ReadBufferSize,
		},
		sec:     sec,
		stats:   stats,
		metrics: met,
		ctx:     ctx,
		cancel:  cancel,
		runDone: make(chan struct{}),
		fatal:   fatal,
		workers: session.NewWorkers(workerIdle),
	}
	go func() {
		defer close(h.runDone)
		up.Run(ctx)
	}()
	return h, nil
}

// Ready reports whether the upstream is connected and its methods known.
func (h *Handler) Ready() bool { return h.up.Ready() }

// ServeHTTP serves the WebSocket endpoint, /healthz, /readyz, /procedures
// and /metrics (Prometheus).
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/healthz":
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	case "/readyz":
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if !h.up.Ready() {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintln(w, "not ready:", h.up.NotReadyReason())
			return
		}
		fmt.Fprintln(w, "ready")
	case proceduresPath:
		h.serveProcedures(w, r)
	case metricsPath:
		h.metrics.ServeHTTP(w, r)
	case h.cfg.path:
		h.serveWebSocket(w, r)
	default:
		http.NotFound(w, r)
	}
}

func (h *Handler) serveWebSocket(w http.ResponseWriter, r *http.Request) {
	if !websocket.IsWebSocketUpgrade(r) {
		w.Header().Set("Upgrade", "websocket")
		http.Error(w, "this is a WAMP v1 WebSocket endpoint: connect with a WebSocket client offering the subprotocol \"wamp\"",
			http.StatusUpgradeRequired)
		return
	}
	if offered := websocket.Subprotocols(r); len(offered) > 0 && !slices.Contains(offered, Subprotocol) {
		http.Error(w, fmt.Sprintf("unsupported WebSocket subprotocols %q: this endpoint speaks %q (WAMP v1); WAMP v2 is not served yet",
			offered, Subprotocol), http.StatusBadRequest)
		return
	}
	mode := h.cfg.streamMode
	if q := r.URL.Query().Get("stream"); q != "" {
		m, err := ParseStreamMode(q)
		if err != nil {
			http.Error(w, fmt.Sprintf("query parameter stream=%q: want progress, last or collect", q), http.StatusBadRequest)
			return
		}
		mode = m
	}
	md, ok := h.admit(w, r)
	if !ok {
		return
	}
	h.mu.Lock()
	if h.closing {
		h.mu.Unlock()
		http.Error(w, "the bridge is shutting down: reconnect to another replica", http.StatusServiceUnavailable)
		return
	}
	if limit := h.cfg.maxSessions; limit > 0 && h.active >= limit {
		h.mu.Unlock()
		http.Error(w, fmt.Sprintf("too many WebSocket sessions: this bridge serves at most %d at once (max sessions); try again later", limit),
			http.StatusServiceUnavailable)
		return
	}
	h.active++
	h.sessions.Add(1)
	h.shutdownSignals()
	drain, force := h.drain, h.force
	h.mu.Unlock()
	ended := func() {
		h.mu.Lock()
		h.active--
		h.mu.Unlock()
		h.sessions.Done()
	}

	conn, err := session.Upgrade(&h.upgrader, w, r, nil)
	if err != nil {
		ended()
		return // the upgrader has answered the request
	}
	cfg := session.Config{
		Mode:             sessionModes[mode],
		SendQueue:        h.cfg.sendQueue,
		MaxMessageSize:   h.cfg.maxMessageSize,
		MaxCallsInFlight: h.cfg.maxCallsInFlight,
		CollectLimit:     h.cfg.collectLimit,
		MaxWaiting:       h.cfg.maxWaiting,
		ServerIdent:      ServerIdent,
		Logger:           h.cfg.logger,
		Stats:            h.stats,
		EventQueue:       h.cfg.eventQueue,
		Broker:           h.broker,
		Drain:            drain,
		Metadata:         md,
		NoSessionID:      !h.cfg.sessionIDMetadata,
		Metrics:          h.metrics.hooks,
		WriteTimeout:     h.cfg.writeTimeout,
		PingInterval:     h.cfg.pingInterval,
		PongTimeout:      h.cfg.pongTimeout,
		Remote:           r.RemoteAddr,
		Workers:          h.workers,
	}
	// The session runs on a goroutine of its own, its reader, and the
	// handler returns: net/http then lets go of what it keeps for the
	// request (its write buffer, the request, the handler's grown stack),
	// which every idle session would otherwise hold.
	remote := r.RemoteAddr
	// The session's objects live long: under a heap floor, those of many
	// sessions opened at once would spread over more memory than they
	// fill (see gcfloor.Hold).
	gcfloor.Hold()
	go func() {
		defer ended()
		err := session.Serve(force, conn, h.core, cfg)
		if err != nil && !errors.Is(err, context.Canceled) {
			h.cfg.logger.Debug("session ended", "remote", remote, "cause", err)
		}
	}()
}

// Shutdown shuts the handler down gracefully. New WebSocket requests get
// 503 from then on. Every session drains: a new CALL is refused at once with
// CALLERROR UNAVAILABLE, calls in flight go on, and a session whose calls
// have all ended is closed with 1001 "going away" (its subscriptions last
// until then). When ctx ends (the grace period), every call still in flight
// is cancelled and answered with one CALLERROR UNAVAILABLE, written before
// the close frame, and every session is closed with 1001. Shutdown returns
// when all sessions have ended and the upstream loop has stopped; the error
// wraps ctx.Err() when the grace ran out. It does not close the gRPC
// connection, which the caller owns. Calling it again waits for the same
// shutdown.
func (h *Handler) Shutdown(ctx context.Context) error {
	h.mu.Lock()
	h.shutdownSignals()
	if !h.closing {
		h.closing = true
		close(h.drain)
		go func() {
			h.sessions.Wait()
			h.workers.Close()
			h.forceEnd()
			h.cancel()
			h.feeds.Close()
			h.broker.Close()
			<-h.runDone
			close(h.shutDone)
		}()
	}
	h.mu.Unlock()
	select {
	case <-h.shutDone:
		return nil
	default:
	}
	select {
	case <-h.shutDone:
		return nil
	case <-ctx.Done():
	}
	h.forceEnd()
	<-h.shutDone
	return fmt.Errorf("bridge: shutdown: %w", ctx.Err())
}

// shutdownSignals makes the channels Shutdown signals the sessions with;
// h.mu is held.
func (h *Handler) shutdownSignals() {
	if h.drain == nil {
		h.drain = make(chan struct{})
		h.force, h.forceEnd = context.WithCancel(h.ctx)
		h.shutDone = make(chan struct{})
	}
}

func handshakeError(w http.ResponseWriter, _ *http.Request, status int, reason error) {
	http.Error(w, "WebSocket handshake failed: "+reason.Error(), status)
}

// sessionModes maps the public stream modes to the session's.
var sessionModes = map[StreamMode]session.Mode{
	StreamProgress: session.Progress,
	StreamLast:     session.Last,
	StreamCollect:  session.Collect,
}

// Err returns a channel delivering the first fatal schema error: a naming
// conflict (two methods, or an alias and a method, claiming one procedure
// URI, or an alias naming no method) found when the schema loads. With a
// descriptor set, [NewHandler] reports these itself; with reflection the
// upstream may be down at start, so they surface at the first successful
// load (later reloads that conflict keep the previous schema). The bridge
// keeps retrying and stays not ready, but the caller should stop: cmd/bridge
// exits non-zero printing the error. The channel is never closed.
func (h *Handler) Err() <-chan error { return h.fatal }

// fatalSource reports a naming conflict on fatal, once, as well as
// returning it, until the first successful load: a conflict appearing in a
// later reload only keeps the previous schema (the reload's own error
// path), rather than stopping a running bridge.
type fatalSource struct {
	upstream.Source
	fatal  chan error
	loaded atomic.Bool
}

func (s *fatalSource) Load(ctx context.Context) (*upstream.Catalog, error) {
	c, err := s.Source.Load(ctx)
	if err == nil {
		s.loaded.Store(true)
	}
	if err != nil && !s.loaded.Load() && errors.Is(err, upstream.ErrConflict) {
		select {
		case s.fatal <- fmt.Errorf("bridge: %w", err):
		default:
		}
	}
	return c, err
}
