package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path"
	"strconv"
	"strings"
	"syscall"
	"time"

	grpcprom "github.com/grpc-ecosystem/go-grpc-middleware/providers/prometheus"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/logging"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	grpckeepalive "google.golang.org/grpc/keepalive"

	"github.com/wampbridge/grpcwamp/bridge"
)

const (
	// readHeaderTimeout bounds how long a client may take to send the
	// request head of the WebSocket handshake (or of /healthz).
	readHeaderTimeout = 10 * time.Second
	// defaultShutdownGrace is the default of -shutdown-grace: how long
	// calls in flight may go on after SIGINT/SIGTERM.
	defaultShutdownGrace = 10 * time.Second
	// upstreamKeepaliveTimeout is how long a keep-alive ping to the
	// upstream may go unanswered before the transport is closed.
	upstreamKeepaliveTimeout = 10 * time.Second
)

// serveConfig is the parsed command line of `bridge serve`.
type serveConfig struct {
	listen        string
	upstream      string // empty: the built-in demo clock
	descriptorSet string // empty: server reflection
	stream        bridge.StreamMode
	path          string
	logLevel      slog.Level

	feeds             []bridge.Feed
	nats              string // empty: in-process publish/subscribe
	publisherReceives bool

	schemaRefresh time.Duration // 0: reload only on SIGHUP and UNIMPLEMENTED
	shutdownGrace time.Duration // calls in flight may end within it on SIGINT/SIGTERM

	aliases map[string]string // -alias URI=METHOD
	expose  []string          // -expose PATTERN

	allowOrigins   []string // -allow-origin; empty: same host only
	bearerTokens   []string // -bearer-token, else $BRIDGE_BEARER_TOKENS; empty: none required
	forwardHeaders []string // -forward-header; nil: the default (authorization)

	maxSessions       int           // -max-sessions; 0: unlimited
	upstreamKeepalive time.Duration // -upstream-keepalive; 0: no keep-alive pings

	tls tlsConfig // -tls-cert, -tls-key, -upstream-tls, -upstream-ca, ...
}

// bearerTokensEnv holds the bearer tokens, comma-separated, when no
// -bearer-token flag is given: unlike flags, it does not show in ps.
const bearerTokensEnv = "BRIDGE_BEARER_TOKENS"

// splitTokens splits the value of BRIDGE_BEARER_TOKENS.
func splitTokens(v string) []string {
	var tokens []string
	for t := range strings.SplitSeq(v, ",") {
		if t = strings.TrimSpace(t); t != "" {
			tokens = append(tokens, t)
		}
	}
	return tokens
}

// parseServeFlags parses the serve flags. It reports flag errors and usage
// on stderr itself; it returns flag.ErrHelp for -h.
func parseServeFlags(args []string, stderr io.Writer) (serveConfig, error) {
	cfg := serveConfig{stream: bridge.StreamProgress, publisherReceives: true, maxSessions: bridge.DefaultMaxSessions}
	fs := flag.NewFlagSet("bridge", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `usage: bridge [serve] [flags]
       bridge call [-stream MODE] [-timeout D] [-ca FILE] URL PROCEDURE [ARG...]

bridge serves the methods of a gRPC server to WAMP v1 clients over WebSocket.
With no -upstream it serves a built-in demo clock (demo.v1.ClockService).

flags of serve:
`)
		fs.PrintDefaults()
	}
	fs.StringVar(&cfg.listen, "listen", "127.0.0.1:8080", "`address` to serve WebSocket, /healthz and /readyz on")
	fs.StringVar(&cfg.upstream, "upstream", "", "gRPC `target` to bridge, as grpc.NewClient takes it (localhost:50051, dns:///name:port);\nempty: the built-in demo clock")
	fs.StringVar(&cfg.descriptorSet, "descriptor-set", "", "binary FileDescriptorSet `file` describing the upstream; empty: gRPC server reflection")
	fs.Func("stream", "`mode` of server streams for connections without ?stream=: progress (the default), last or collect",
		func(s string) error {
			m, err := bridge.ParseStreamMode(s)
			cfg.stream = m
			return err
		})
	fs.StringVar(&cfg.path, "path", "/", "`path` of the WebSocket endpoint")
	fs.Func("feed", "gRPC-fed `topic`, as 'TOPIC PROCEDURE [JSON]': while a client is subscribed to TOPIC, every message\nof the server stream PROCEDURE(JSON) is published to it; TOPIC may hold one {field} placeholder; repeatable",
		func(s string) error {
			f, err := bridge.ParseFeed(s)
			cfg.feeds = append(cfg.feeds, f)
			return err
		})
	fs.StringVar(&cfg.nats, "nats", "", "NATS server `URL` (nats://host:4222) that fans PUBLISH out across bridge replicas;\nempty: in-process")
	fs.BoolVar(&cfg.publisherReceives, "publisher-receives", true, "whether a bare PUBLISH reaches its own publisher when subscribed (excludeMe overrides it)")
	fs.DurationVar(&cfg.schemaRefresh, "schema-refresh", bridge.DefaultSchemaRefresh,
		"`period` of reloading the upstream's schema (reflection, or the -descriptor-set file when it changed);\n0: only on SIGHUP and when a method answers UNIMPLEMENTED")
	fs.DurationVar(&cfg.shutdownGrace, "shutdown-grace", defaultShutdownGrace,
		"on SIGINT/SIGTERM, how long calls in flight may go on (new calls are refused);\nthen they end with CALLERROR UNAVAILABLE and every connection closes with 1001")
	fs.Func("alias", "extra procedure `URI=METHOD` for a method given by full name (pkg.Service.Method) or gRPC path; repeatable",
		func(v string) error {
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
		})
	fs.Func("expose", "expose only methods whose full name matches `pattern` (glob such as demo.v1.ClockService.* or *.Get*,\nor a service full name); repeatable; default: all",
		func(v string) error {
			if _, err := path.Match(v, ""); err != nil {
				return fmt.Errorf("pattern %q: %w", v, err)
			}
			cfg.expose = append(cfg.expose, v)
			return nil
		})
	fs.Func("allow-origin", "web `origin` (scheme://host[:port]) whose pages may connect, or * for any; repeatable;\ndefault: pages of the bridge's own host only",
		func(v string) error {
			cfg.allowOrigins = append(cfg.allowOrigins, v)
			return nil
		})
	fs.Func("bearer-token", "require `token` as Authorization: Bearer or ?access_token= on the handshake; repeatable;\ndefault: $"+bearerTokensEnv+" (comma-separated), else no token required",
		func(v string) error {
			if v == "" {
				return errors.New("empty token")
			}
			cfg.bearerTokens = append(cfg.bearerTokens, v)
			return nil
		})
	fs.Func("forward-header", "handshake `header` forwarded as gRPC metadata on every call; repeatable; an empty value forwards none;\ndefault: authorization",
		func(v string) error {
			if cfg.forwardHeaders == nil {
				cfg.forwardHeaders = []string{}
			}
			if v != "" {
				cfg.forwardHeaders = append(cfg.forwardHeaders, v)
			}
			return nil
		})
	fs.IntVar(&cfg.maxSessions, "max-sessions", bridge.DefaultMaxSessions,
		"most WebSocket `sessions` served at once; a handshake beyond it gets HTTP 503; 0: unlimited")
	fs.DurationVar(&cfg.upstreamKeepalive, "upstream-keepalive", 0,
		"`period` of gRPC keep-alive pings to the upstream while calls are active (at least 10s);\n0: none; the upstream must allow it (grpc-go servers refuse pings more often than every 5m by default)")
	addTLSFlags(fs, &cfg.tls)
	fs.TextVar(&cfg.logLevel, "log-level", slog.LevelInfo, "log `level`: debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		err := fmt.Errorf("unexpected argument %q", fs.Arg(0))
		fmt.Fprintf(stderr, "%v\n", err)
		fs.Usage()
		return cfg, err
	}
	if !strings.HasPrefix(cfg.path, "/") {
		err := fmt.Errorf("flag -path: %q must start with /", cfg.path)
		fmt.Fprintf(stderr, "%v\n", err)
		fs.Usage()
		return cfg, err
	}
	if cfg.shutdownGrace < 0 {
		err := fmt.Errorf("flag -shutdown-grace: %v is negative; 0 cancels the calls in flight at once", cfg.shutdownGrace)
		fmt.Fprintf(stderr, "%v\n", err)
		fs.Usage()
		return cfg, err
	}
	if cfg.maxSessions < 0 {
		err := fmt.Errorf("flag -max-sessions: %d is negative; 0 means unlimited", cfg.maxSessions)
		fmt.Fprintf(stderr, "%v\n", err)
		fs.Usage()
		return cfg, err
	}
	if cfg.upstreamKeepalive < 0 {
		err := fmt.Errorf("flag -upstream-keepalive: %v is negative; 0 turns keep-alive pings off", cfg.upstreamKeepalive)
		fmt.Fprintf(stderr, "%v\n", err)
		fs.Usage()
		return cfg, err
	}
	if err := cfg.tls.check(cfg.upstream); err != nil {
		fmt.Fprintf(stderr, "%v\n", err)
		fs.Usage()
		return cfg, err
	}
	return cfg, nil
}

// serveMain runs `bridge serve` and returns the exit status.
func serveMain(ctx context.Context, args []string, stderr io.Writer) int {
	cfg, err := parseServeFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		return exitUsage
	}
	if len(cfg.bearerTokens) == 0 {
		cfg.bearerTokens = splitTokens(os.Getenv(bearerTokensEnv))
	}
	if err := serve(ctx, cfg, stderr); err != nil {
		// Not "bridge: %v": the errors of package bridge carry that prefix.
		fmt.Fprintf(stderr, "error: %v\n", err)
		return exitFailure
	}
	return exitOK
}

// serve serves the bridge until ctx is cancelled, then shuts down: the HTTP
// server stops accepting, the handler drains its sessions for
// cfg.shutdownGrace (see bridge.Handler.Shutdown) and closes them with 1001,
// the upstream connection closes, and the demo clock, if any, stops. It
// returns an error when it cannot start, when serving fails, or when the
// shutdown fails; the grace running out is not an error.
func serve(ctx context.Context, cfg serveConfig, stderr io.Writer) error {
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: cfg.logLevel}))

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
	clientMetrics := grpcprom.NewClientMetrics(grpcprom.WithClientHandlingTimeHistogram())
	reg.MustRegister(clientMetrics)
	dopts := []grpc.DialOption{
		grpc.WithChainUnaryInterceptor(clientMetrics.UnaryClientInterceptor()),
		grpc.WithChainStreamInterceptor(clientMetrics.StreamClientInterceptor()),
	}
	if upstreamCreds != nil {
		dopts = append(dopts, upstreamCreds)
	}
	cc, err := newUpstreamConn(target, cfg.upstreamKeepalive, logger, dopts...)
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
		bridge.WithMetricsRegistry(reg),
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
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	scheme := "ws://"
	if serverTLS != nil {
		srv.TLSConfig = serverTLS
		lis = tls.NewListener(lis, serverTLS)
		scheme = "wss://"
	}
	url := scheme + dialAddr(lis.Addr()) + cfg.path
	banner := fmt.Sprintf("bridge: serving WAMP v1 on %s (upstream: %s)\n", url, upstreamDesc)
	if cfg.upstream == "" {
		banner += fmt.Sprintf("bridge: try: go run ./cmd/bridge call %s demo.v1.ClockService.GetProgressiveTime '{\"count\":3,\"interval\":\"0.2s\"}'\n", url)
	}
	_, _ = io.WriteString(stderr, banner) // one write: log lines do not come between

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
// which then wins: serve adds it for -upstream-tls) and go-grpc-middleware
// logging of every call at debug level, so that a normal run stays quiet. Failed calls reach the WAMP
// client as CALLERROR; the bridge logs its own failures.
//
// Its load balancer is round_robin ([bridge.RoundRobinServiceConfig]): a
// target resolving to several addresses, such as dns:///name:port over
// the replicas of a headless service, gets a subchannel to each and calls
// spread over the ready ones. When keepalive is positive, the connection
// pings the upstream after keepalive without traffic, while calls are
// active only (PermitWithoutStream false), and drops a transport whose
// ping goes unanswered for upstreamKeepaliveTimeout. It is off by default:
// a grpc-go server's default enforcement policy (MinTime 5m) answers pings
// more frequent than that with GOAWAY "too_many_pings".
//
// extra are further dial options; interceptors among them (serve adds the
// go-grpc-middleware Prometheus client metrics) run after the logging ones.
func newUpstreamConn(target string, keepalive time.Duration, logger *slog.Logger, extra ...grpc.DialOption) (*grpc.ClientConn, error) {
	l := grpcLogger(logger.With("component", "upstream"))
	lopts := []logging.Option{
		logging.WithLogOnEvents(logging.StartCall, logging.FinishCall),
		logging.WithLevels(func(codes.Code) logging.Level { return logging.LevelDebug }),
	}
	dopts := []grpc.DialOption{
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultServiceConfig(bridge.RoundRobinServiceConfig),
		grpc.WithChainUnaryInterceptor(logging.UnaryClientInterceptor(l, lopts...)),
		grpc.WithChainStreamInterceptor(logging.StreamClientInterceptor(l, lopts...)),
	}
	if keepalive > 0 {
		dopts = append(dopts, grpc.WithKeepaliveParams(grpckeepalive.ClientParameters{
			Time:                keepalive,
			Timeout:             upstreamKeepaliveTimeout,
			PermitWithoutStream: false,
		}))
	}
	return grpc.NewClient(target, append(dopts, extra...)...)
}

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
