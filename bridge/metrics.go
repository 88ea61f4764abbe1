package bridge

import (
	"fmt"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	rpccode "google.golang.org/genproto/googleapis/rpc/code"
	"google.golang.org/grpc/codes"

	"github.com/wampbridge/grpcwamp/bridge/internal/broker"
	"github.com/wampbridge/grpcwamp/bridge/internal/session"
)

// metricsPath is where the handler serves its Prometheus metrics.
const metricsPath = "/metrics"

// unknownProcedure is the procedure label of calls whose procedure did not
// resolve to a method (or that were refused before resolving it): the raw
// name the client sent would make the label's cardinality unbounded.
const unknownProcedure = "unknown"

// WithMetricsRegistry registers the handler's metrics in reg, served at
// GET /metrics, so that a program can add its own (cmd/bridge adds the
// upstream client's gRPC metrics). The handler registers only its own
// metrics there. The default is a new registry per handler holding the
// handler's metrics and the Go and process collectors. Two handlers must
// not share one registry: their metrics would collide.
func WithMetricsRegistry(reg *prometheus.Registry) Option {
	return func(c *config) { c.metricsRegistry = reg }
}

// metrics are the Prometheus metrics of a handler.
type metrics struct {
	reg *prometheus.Registry
	http.Handler

	sessionsOpen   prometheus.Gauge
	sessionsTotal  prometheus.Counter
	callsInFlight  prometheus.Gauge
	callsTotal     *prometheus.CounterVec
	progressFrames prometheus.Counter
	queueDepth     prometheus.Histogram
	badFrames      *prometheus.CounterVec
	bytesIn        prometheus.Counter
	bytesOut       prometheus.Counter

	// Children resolved once: the hot path does no label lookup.
	badFrame map[string]prometheus.Counter
	hooks    *session.Metrics // shared by the sessions
}

// newMetrics registers the handler's metrics in reg (nil: a new registry
// with the Go and process collectors). The counters that the sessions and
// the broker keep already are read from stats and bstats at scrape time,
// and the upstream calls running from upstreamCalls.
func newMetrics(reg *prometheus.Registry, stats *session.Stats, bstats *broker.Stats, upstreamCalls func() int) (*metrics, error) {
	if reg == nil {
		reg = prometheus.NewRegistry()
		reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	m := &metrics{
		reg: reg,
		sessionsOpen: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "grpcwamp_sessions_open", Help: "WebSocket sessions open now.",
		}),
		sessionsTotal: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "grpcwamp_sessions_total", Help: "WebSocket sessions opened.",
		}),
		callsInFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "grpcwamp_calls_in_flight", Help: "WAMP calls running now.",
		}),
		callsTotal: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "grpcwamp_calls_total",
			Help: `WAMP calls answered, by procedure (the gRPC method's full name, or "unknown") and gRPC code.`,
		}, []string{"procedure", "code"}),
		progressFrames: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "grpcwamp_progress_frames_total", Help: "CALL_PROGRESS_RESULT frames sent.",
		}),
		queueDepth: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "grpcwamp_send_queue_depth",
			Help:    "Frames in a session's send queue, observed each time a call queues a frame.",
			Buckets: []float64{0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512},
		}),
		badFrames: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "grpcwamp_bad_frames_total", Help: "Frames from clients refused or ignored, by kind.",
		}, []string{"kind"}),
		bytesIn: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "grpcwamp_bytes_in_total", Help: "WebSocket payload bytes read from clients.",
		}),
		bytesOut: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "grpcwamp_bytes_out_total", Help: "WebSocket payload bytes written to clients.",
		}),
		badFrame: make(map[string]prometheus.Counter),
	}
	for _, k := range []string{session.BadFrameNotJSONArray, session.BadFrameBinary, session.BadFrameTooBig,
		session.BadFrameMalformed, session.BadFrameUnknownType} {
		m.badFrame[k] = m.badFrames.WithLabelValues(k)
	}
	stat := func(name, help string, f func() int64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help},
			func() float64 { return float64(f()) })
	}
	cs := []prometheus.Collector{
		m.sessionsOpen, m.sessionsTotal, m.callsInFlight, m.callsTotal, m.progressFrames,
		m.queueDepth, m.badFrames, m.bytesIn, m.bytesOut,
		stat("grpcwamp_slow_consumer_disconnects_total",
			"Sessions disconnected as too slow: a subscriber whose event queue was full, a client that read nothing for the no-read timeout, or one whose results waiting to be sent passed the max waiting results.",
			func() int64 {
				return bstats.SlowDisconnects.Load() + stats.NoReadDisconnects.Load() + stats.SlowDisconnects.Load()
			}),
		stat("grpcwamp_pubsub_dropped_total", "SUBSCRIBE and PUBLISH frames dropped (refused or not served).",
			stats.DroppedPubSub.Load),
		stat("grpcwamp_events_published_total", "Publications accepted by the broker.",
			bstats.Published.Load),
		stat("grpcwamp_events_delivered_total", "EVENT frames queued to subscribers.",
			bstats.Delivered.Load),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "grpcwamp_upstream_calls",
			Help: "Calls running on the upstream now, of every session and fed topic (bounded by the max upstream calls).",
		}, func() float64 { return float64(upstreamCalls()) }),
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("bridge: metrics registry: %w", err)
		}
	}
	m.hooks = m.sessionHooks()
	m.Handler = promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})
	return m, nil
}

// sessionHooks returns the session's hooks feeding m.
func (m *metrics) sessionHooks() *session.Metrics {
	return &session.Metrics{
		SessionStarted: func() {
			m.sessionsOpen.Inc()
			m.sessionsTotal.Inc()
		},
		SessionEnded: m.sessionsOpen.Dec,
		CallStarted:  m.callsInFlight.Inc,
		CallEnded: func(method string, code codes.Code, started bool) {
			if started {
				m.callsInFlight.Dec()
			}
			if method == "" {
				method = unknownProcedure
			}
			m.callsTotal.WithLabelValues(method, codeName(code)).Inc()
		},
		ProgressFrame: m.progressFrames.Inc,
		QueueDepth:    func(n int) { m.queueDepth.Observe(float64(n)) },
		BadFrame: func(kind string) {
			if c, ok := m.badFrame[kind]; ok {
				c.Inc()
			}
		},
		BytesIn:  func(n int) { m.bytesIn.Add(float64(n)) },
		BytesOut: func(n int) { m.bytesOut.Add(float64(n)) },
	}
}

// codeName returns the gRPC code as the metrics label spells it, the
// canonical name of google.rpc.Code: "OK", "CANCELLED", "DEADLINE_EXCEEDED".
func codeName(c codes.Code) string { return rpccode.Code(c).String() }
