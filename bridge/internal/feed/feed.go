package feed

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"golang.org/x/time/rate"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// permanent reports whether err, the end of a feed's stream, is one that
// restarting will not cure: the procedure does not exist or does not
// stream, or the request does not fit it.
func permanent(err error) bool {
	switch status.Code(err) {
	case codes.Unimplemented, codes.InvalidArgument, codes.FailedPrecondition:
		return true
	}
	return false
}

// Default backoff bounds between restarts of a stream.
const (
	DefaultMinBackoff = 100 * time.Millisecond
	DefaultMaxBackoff = 30 * time.Second
)

// Options configure a [Manager].
type Options struct {
	// Logger receives one line per stream that ended while its topic still
	// had subscribers. nil means slog.Default().
	Logger *slog.Logger
	// MinBackoff is the first delay bound before a stream is restarted
	// (DefaultMinBackoff when 0); it doubles after each stream that ended
	// without delivering a message, up to MaxBackoff (DefaultMaxBackoff
	// when 0). The delay is drawn uniformly from [0, bound] (full jitter).
	MinBackoff time.Duration
	MaxBackoff time.Duration
	// MaxStreams bounds the streams running at once, over all topics
	// (DefaultMaxStreams when 0). A topic that gains a subscriber while
	// that many run waits, and starts as soon as a stream ends for good,
	// in the order the topics came: each concrete topic of a pattern is a
	// stream of its own, and clients choose the topics.
	MaxStreams int
}

// DefaultMaxStreams is the default of Options.MaxStreams.
const DefaultMaxStreams = 1024

// Manager runs the upstream streams of fed topics: one per concrete topic
// with local subscribers. Its methods are safe for concurrent use.
type Manager struct {
	exact    map[string]*rule
	patterns []*rule
	rules    []*rule // every binding, in the order given to New
	caller   Caller
	pub      Publisher
	logger   *slog.Logger
	min, max time.Duration

	base    context.Context // parent of every stream's context; Close cancels it
	stop    context.CancelFunc
	wg      sync.WaitGroup
	mu      sync.Mutex
	closed  bool
	topics  map[string]*topicState // topics wanted or with a feeding goroutine
	running int                    // feeding goroutines; at most maxRuns
	maxRuns int
	waiting []string // wanted topics without a goroutine, oldest first
	// limitLog lets the line about the limit through once a minute.
	limitLog rate.Sometimes
}

// topicState is the feeding goroutine of one concrete topic. Its fields are
// guarded by Manager.mu.
type topicState struct {
	want   bool               // the topic has local subscribers
	cancel context.CancelFunc // cancels the goroutine's current context; nil while waiting
	rule   *rule
}

// New returns a Manager feeding bindings through c into p. It starts
// nothing: streams start on [Manager.Interest].
//
// A topic is looked up among the exact bindings first, then among the
// patterns in order: the first one that matches wins. New refuses two
// bindings with the same topic string, but does not look for other
// overlaps (such as "a.{x}" and "{y}.b"): order decides them.
func New(bindings []Binding, c Caller, p Publisher, o Options) (*Manager, error) {
	if c == nil || p == nil {
		return nil, errors.New("feed: New needs a Caller and a Publisher")
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	switch {
	case o.MinBackoff < 0:
		return nil, fmt.Errorf("feed: MinBackoff %v is negative", o.MinBackoff)
	case o.MaxBackoff < 0:
		return nil, fmt.Errorf("feed: MaxBackoff %v is negative", o.MaxBackoff)
	case o.MaxStreams < 0:
		return nil, fmt.Errorf("feed: MaxStreams %d is negative", o.MaxStreams)
	}
	if o.MaxStreams == 0 {
		o.MaxStreams = DefaultMaxStreams
	}
	if o.MaxBackoff == 0 {
		o.MaxBackoff = max(DefaultMaxBackoff, o.MinBackoff)
	}
	if o.MinBackoff == 0 {
		o.MinBackoff = min(DefaultMinBackoff, o.MaxBackoff)
	}
	if o.MaxBackoff < o.MinBackoff {
		return nil, fmt.Errorf("feed: MaxBackoff %v is below MinBackoff %v", o.MaxBackoff, o.MinBackoff)
	}
	m := &Manager{
		exact:    make(map[string]*rule),
		caller:   c,
		pub:      p,
		logger:   o.Logger,
		min:      o.MinBackoff,
		max:      o.MaxBackoff,
		topics:   make(map[string]*topicState),
		maxRuns:  o.MaxStreams,
		limitLog: rate.Sometimes{Interval: time.Minute},
	}
	seen := make(map[string]bool)
	for _, b := range bindings {
		r, err := compile(b)
		if err != nil {
			return nil, err
		}
		if seen[b.Topic] {
			return nil, fmt.Errorf("%w: topic %q is bound twice", ErrInvalidBinding, b.Topic)
		}
		seen[b.Topic] = true
		m.rules = append(m.rules, r)
		if r.pattern {
			m.patterns = append(m.patterns, r)
		} else {
			m.exact[b.Topic] = r
		}
	}
	m.base, m.stop = context.WithCancel(context.Background())
	return m, nil
}

// lookup returns the binding that feeds topic, or nil.
func (m *Manager) lookup(topic string) *rule {
	if r, ok := m.exact[topic]; ok {
		return r
	}
	for _, r := range m.patterns {
		if _, ok := r.match(topic); ok {
			return r
		}
	}
	return nil
}

// Interest starts (on) or stops (!on) the stream of topic, as the broker's
// OnInterest reports that the topic gained its first or lost its last local
// subscriber. Calls for one topic must come in order. Topics no binding
// matches are ignored, as are calls after [Manager.Close]. It does not
// block and does not call the Caller or the Publisher.
//
// At most one stream per topic runs at any time: a stream stopped by
// Interest(topic, false) is replaced after Interest(topic, true) only once
// its call has returned.
func (m *Manager) Interest(topic string, on bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return
	}
	st, ok := m.topics[topic]
	if !on {
		switch {
		case !ok || !st.want:
		case st.cancel == nil: // waiting: it never started
			delete(m.topics, topic)
		default:
			st.want = false
			st.cancel()
		}
		return
	}
	if ok {
		// The goroutine is running, or winding down after a cancel: it
		// starts a fresh stream when it sees want again.
		st.want = true
		return
	}
	r := m.lookup(topic)
	if r == nil {
		return
	}
	st = &topicState{want: true, rule: r}
	m.topics[topic] = st
	if m.running >= m.maxRuns {
		m.waiting = append(m.waiting, topic)
		// Clients choose the topics: the line is not repeated for each.
		m.limitLog.Do(func() {
			m.logger.Warn("feed stream limit reached: topics wait for other topics' streams to end; raise -max-feed-streams if this is expected",
				"topic", topic, "procedure", r.Procedure, "max_feed_streams", m.maxRuns, "waiting", len(m.waiting))
		})
		return
	}
	m.startLocked(topic, st)
}

// startLocked starts the feeding goroutine of topic; m.mu is held.
func (m *Manager) startLocked(topic string, st *topicState) {
	var ctx context.Context
	ctx, st.cancel = context.WithCancel(m.base)
	m.running++
	m.wg.Add(1)
	go m.run(ctx, topic, st.rule, st)
}

// startWaitingLocked starts the oldest waiting topic that is still
// wanted, if a stream may start; m.mu is held.
func (m *Manager) startWaitingLocked() {
	for m.running < m.maxRuns && len(m.waiting) > 0 && !m.closed {
		topic := m.waiting[0]
		m.waiting = m.waiting[1:]
		// Gone (no longer wanted), or wanted again and started meanwhile.
		if st, ok := m.topics[topic]; ok && st.cancel == nil {
			m.startLocked(topic, st)
		}
	}
	if len(m.waiting) == 0 {
		m.waiting = nil // let the backing array go
	}
}

// run feeds topic until no subscriber wants it any more.
func (m *Manager) run(ctx context.Context, topic string, r *rule, st *topicState) {
	defer m.wg.Done()
	for {
		m.feed(ctx, topic, r)
		m.mu.Lock()
		st.cancel()
		if !st.want || m.closed {
			delete(m.topics, topic)
			m.running--
			m.startWaitingLocked()
			m.mu.Unlock()
			return
		}
		// Interest came back while the cancelled stream wound down.
		ctx, st.cancel = context.WithCancel(m.base)
		m.mu.Unlock()
	}
}

// A feed logs the first restartsLogged restarts of its streams, and then
// one every restartsInterval: a pattern's topics are the clients' choice,
// and each failing stream restarts, so the lines must not grow with them.
const (
	restartsLogged   = 10
	restartsInterval = 10 * time.Second
)

// feed runs the topic's stream, restarting it with backoff, until ctx ends.
func (m *Manager) feed(ctx context.Context, topic string, r *rule) {
	bound := m.min
	for {
		delivered := 0
		args, err := r.args(topic)
		if err == nil {
			err = m.caller.Call(ctx, r.Procedure, args, func(msg json.RawMessage) error {
				if err := ctx.Err(); err != nil {
					return err
				}
				m.pub.DeliverLocal(topic, msg)
				delivered++
				return nil
			})
		}
		if ctx.Err() != nil {
			return
		}
		if delivered > 0 {
			bound = m.min
		}
		delay := rand.N(bound + 1)
		if err == nil {
			err = errors.New("stream ended")
		}
		r.restarts.Do(func() {
			level, msg := slog.LevelWarn, "feed stream ended, restarting"
			if permanent(err) {
				level, msg = slog.LevelError, "feed stream failed, restarting, but the failure looks permanent: check the feed's procedure and request (-feed)"
			}
			if r.logged.Add(1) == restartsLogged {
				msg += fmt.Sprintf(" (further restarts of this feed: one line every %v at most)", restartsInterval)
			}
			m.logger.Log(ctx, level, msg, "procedure", r.Procedure, "topic", topic,
				"error", err, "messages", delivered, "retry_in", delay)
		})
		bound = min(2*bound, m.max)
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// Active returns the sorted concrete topics whose stream is wanted: running,
// waiting to restart, about to start, or waiting for a free stream
// (Options.MaxStreams).
func (m *Manager) Active() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var topics []string
	for topic, st := range m.topics {
		if st.want {
			topics = append(topics, topic)
		}
	}
	slices.Sort(topics)
	return topics
}

// Close cancels every stream and returns when their goroutines have ended.
// Interest after Close does nothing. Close may be called more than once.
func (m *Manager) Close() {
	m.mu.Lock()
	m.closed = true
	for _, st := range m.topics {
		st.want = false
	}
	m.mu.Unlock()
	m.stop()
	m.wg.Wait()
}
