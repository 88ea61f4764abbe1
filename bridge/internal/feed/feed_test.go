package feed

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// fast restarts streams at once: tests assert that a restart happens, not
// when.
var fast = Options{Logger: slog.New(slog.DiscardHandler), MinBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond}

func newManager(t *testing.T, bindings ...Binding) (*Manager, *fakeCaller, *fakePublisher) {
	t.Helper()
	c, p := newFakeCaller(t), newFakePublisher()
	m, err := New(bindings, c, p, fast)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(m.Close)
	return m, c, p
}

func TestExactBinding(t *testing.T) {
	t.Parallel()
	m, c, p := newManager(t, Binding{Topic: "clock.ticks", Procedure: "demo.v1.ClockService.GetProgressiveTime", Request: json.RawMessage(`{"count":100}`)})

	// Nothing runs before the first interest. (An eager stream whose
	// goroutine has not reached the Caller yet would go unseen here:
	// TestNoCallWithoutInterest is the deterministic check.)
	if got := m.Active(); len(got) != 0 {
		t.Errorf("Active() before any interest = %q, want none", got)
	}
	if n := c.callCount(); n != 0 {
		t.Errorf("%d calls before any interest, want 0", n)
	}
	c.noCall(t)

	m.Interest("clock.ticks", true)
	s := c.next(t)
	if s.procedure != "demo.v1.ClockService.GetProgressiveTime" {
		t.Errorf("procedure %q", s.procedure)
	}
	if got := s.request(t); !reflect.DeepEqual(got, map[string]any{"count": 100.0}) {
		t.Errorf("request %v, want {count: 100}", got)
	}
	if got := m.Active(); !slices.Equal(got, []string{"clock.ticks"}) {
		t.Errorf("Active() = %q, want [clock.ticks]", got)
	}
	// More interest (another replica's bookkeeping would not send it, but a
	// repeated true must not start a second stream).
	m.Interest("clock.ticks", true)

	for i := range 3 {
		s.push(t, fmt.Sprintf(`{"i":%d}`, i))
	}
	for i := range 3 {
		p.expect(t, "clock.ticks", fmt.Sprintf(`{"i":%d}`, i))
	}

	m.Interest("clock.ticks", false)
	<-s.ctx.Done()
	<-s.done
	if got := m.Active(); len(got) != 0 {
		t.Errorf("Active() after Interest(false) = %q, want none", got)
	}

	m.Interest("clock.ticks", true)
	s2 := c.next(t)
	if s2.ctx.Err() != nil {
		t.Errorf("new stream's context already done: %v", s2.ctx.Err())
	}
	s2.push(t, `{"again":true}`)
	p.expect(t, "clock.ticks", `{"again":true}`)
	p.none(t)

	// One call per period of interest, and none besides: Close has waited
	// for every feeding goroutine.
	m.Close()
	if n := c.callCount(); n != 2 {
		t.Errorf("%d calls over two periods of interest, want 2", n)
	}
}

// TestNoCallWithoutInterest: a Manager calls upstream only for a topic
// that has had interest. Over a whole lifetime without any (New, Interest
// in unbound topics, Close), no call is made: Close waits for every
// goroutine the Manager started, so a stream started eagerly would have
// reached the Caller by then.
func TestNoCallWithoutInterest(t *testing.T) {
	t.Parallel()
	m, c, _ := newManager(t,
		Binding{Topic: "clock.ticks", Procedure: "p.Clock.Ticks", Request: json.RawMessage(`{"count":100}`)},
		Binding{Topic: "ticker.{symbol}", Procedure: "p.Ticker.Watch"},
	)
	m.Interest("other", true)
	if got := m.Active(); len(got) != 0 {
		t.Errorf("Active() = %q, want none", got)
	}
	m.Close()
	if n := c.callCount(); n != 0 {
		t.Errorf("%d upstream calls without interest in a bound topic, want 0", n)
	}
	c.noCall(t)
}

func TestEmptyRequestHasNoArguments(t *testing.T) {
	t.Parallel()
	m, c, _ := newManager(t, Binding{Topic: "t", Procedure: "p.S.M"})
	m.Interest("t", true)
	if s := c.next(t); s.args != nil {
		t.Errorf("args %s, want none", s.args)
	}
}

func TestPatternBinding(t *testing.T) {
	t.Parallel()
	m, c, p := newManager(t,
		Binding{Topic: "ticker.{symbol}", Procedure: "p.Ticker.Watch", Request: json.RawMessage(`{"depth":2,"symbol":"ignored"}`)},
		Binding{Topic: "ticker.SPECIAL", Procedure: "p.Ticker.Special"},
	)
	m.Interest("ticker.AAPL", true)
	m.Interest("ticker.MSFT", true)
	streams := map[string]*fakeStream{}
	for range 2 {
		s := c.next(t)
		if s.procedure != "p.Ticker.Watch" {
			t.Fatalf("procedure %q, want p.Ticker.Watch", s.procedure)
		}
		req := s.request(t)
		sym, _ := req["symbol"].(string)
		if want := map[string]any{"depth": 2.0, "symbol": sym}; !reflect.DeepEqual(req, want) {
			t.Errorf("request %v, want %v", req, want)
		}
		streams[sym] = s
	}
	if streams["AAPL"] == nil || streams["MSFT"] == nil {
		t.Fatalf("streams for %v, want AAPL and MSFT", slices.Sorted(maps.Keys(streams)))
	}
	if got, want := joinTopics(m.Active()), "ticker.AAPL,ticker.MSFT"; got != want {
		t.Errorf("Active() = %q, want %q", got, want)
	}

	streams["MSFT"].push(t, `"m"`)
	p.expect(t, "ticker.MSFT", `"m"`)
	streams["AAPL"].push(t, `"a"`)
	p.expect(t, "ticker.AAPL", `"a"`)

	// Stopping one leaves the other running.
	m.Interest("ticker.AAPL", false)
	<-streams["AAPL"].done
	if streams["MSFT"].ctx.Err() != nil {
		t.Error("stopping ticker.AAPL cancelled ticker.MSFT")
	}

	// An exact binding wins over a matching pattern.
	m.Interest("ticker.SPECIAL", true)
	if s := c.next(t); s.procedure != "p.Ticker.Special" || s.args != nil {
		t.Errorf("ticker.SPECIAL called %s with %s, want p.Ticker.Special without arguments", s.procedure, s.args)
	}
}

func TestNonMatchingTopic(t *testing.T) {
	t.Parallel()
	m, c, _ := newManager(t,
		Binding{Topic: "ticker.{symbol}", Procedure: "p.Ticker.Watch"},
		Binding{Topic: "clock", Procedure: "p.Clock.Ticks"},
	)
	for _, topic := range []string{"ticker.", "ticker", "clock.x", "other"} {
		m.Interest(topic, true)
		m.Interest(topic, false)
		m.Interest(topic, true)
	}
	if got := m.Active(); len(got) != 0 {
		t.Errorf("Active() = %q, want none", got)
	}
	// Interest starts goroutines before it returns and none was started.
	c.noCall(t)
}

func TestRestartAfterFailure(t *testing.T) {
	t.Parallel()
	m, c, p := newManager(t, Binding{Topic: "t", Procedure: "p.S.M", Request: json.RawMessage(`{"a":1}`)})
	m.Interest("t", true)

	s := c.next(t)
	s.push(t, `1`)
	p.expect(t, "t", `1`)
	s.finish(t, status.Error(codes.Unavailable, "upstream went away"))

	s = c.next(t)
	if got := s.request(t); !reflect.DeepEqual(got, map[string]any{"a": 1.0}) {
		t.Errorf("restarted with %v, want the same request", got)
	}
	// An OK end while subscribers remain restarts it too.
	s.finish(t, nil)
	s = c.next(t)
	s.finish(t, errors.New("not a status"))
	s = c.next(t)
	s.push(t, `2`)
	p.expect(t, "t", `2`)
	if got := m.Active(); !slices.Equal(got, []string{"t"}) {
		t.Errorf("Active() = %q, want [t]", got)
	}

	m.Interest("t", false)
	<-s.done
}

func TestStopWhileBackingOff(t *testing.T) {
	t.Parallel()
	c, p := newFakeCaller(t), newFakePublisher()
	// A long backoff: the stream is stopped while waiting to restart.
	m, err := New([]Binding{{Topic: "t", Procedure: "p.S.M"}}, c, p,
		Options{Logger: slog.New(slog.DiscardHandler), MinBackoff: time.Hour, MaxBackoff: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	m.Interest("t", true)
	s := c.next(t)
	s.finish(t, status.Error(codes.Internal, "boom"))
	m.Interest("t", false)
	m.Interest("t", true)
	// The old goroutine leaves its backoff and starts a fresh stream at
	// once, with no backoff: it is a new subscription.
	s = c.next(t)
	s.push(t, `"x"`)
	p.expect(t, "t", `"x"`)
}

func TestRapidToggleOneStreamPerTopic(t *testing.T) {
	t.Parallel()
	topics := []string{"a", "ticker.X", "ticker.Y"}
	m, c, _ := newManager(t,
		Binding{Topic: "a", Procedure: "p.S.A"},
		Binding{Topic: "ticker.{sym}", Procedure: "p.S.T"},
	)
	// The fake fails the test if two streams of one topic run at once.
	var wg sync.WaitGroup
	for _, topic := range topics {
		wg.Go(func() {
			for range 300 {
				m.Interest(topic, true)
				m.Interest(topic, false)
			}
			m.Interest(topic, true)
		})
	}
	wg.Wait()

	// Every stream but the last of each topic was cancelled before Interest
	// returned; the last one (one per topic) stays.
	live := map[string]*fakeStream{}
	for len(live) < len(topics) {
		s := c.next(t)
		if s.ctx.Err() != nil {
			continue
		}
		key := streamKey(s.procedure, s.args)
		if live[key] != nil {
			t.Fatalf("two live streams for %s", key)
		}
		live[key] = s
	}
	if got, want := joinTopics(m.Active()), "a,ticker.X,ticker.Y"; got != want {
		t.Errorf("Active() = %q, want %q", got, want)
	}
	m.Close()
	for _, s := range live {
		if s.ctx.Err() == nil {
			t.Errorf("stream of %s %s not cancelled by Close", s.procedure, s.args)
		}
	}
}

func TestClose(t *testing.T) {
	t.Parallel()
	c, p := newFakeCaller(t), newFakePublisher()
	m, err := New([]Binding{{Topic: "a", Procedure: "p.S.A"}, {Topic: "b.{x}", Procedure: "p.S.B"}}, c, p, fast)
	if err != nil {
		t.Fatal(err)
	}
	m.Interest("a", true)
	m.Interest("b.1", true)
	s1, s2 := c.next(t), c.next(t)

	m.Close()
	for _, s := range []*fakeStream{s1, s2} {
		if s.ctx.Err() == nil {
			t.Errorf("stream of %s %s not cancelled by Close", s.procedure, s.args)
		}
		select {
		case <-s.done:
		default:
			t.Errorf("call of %s still running after Close", s.procedure)
		}
	}
	if got := m.Active(); len(got) != 0 {
		t.Errorf("Active() after Close = %q, want none", got)
	}

	m.Interest("a", true)
	m.Interest("b.2", true)
	if got := m.Active(); len(got) != 0 {
		t.Errorf("Active() after Interest after Close = %q, want none", got)
	}
	c.noCall(t)
	m.Close() // a second Close is harmless
}

func TestBackoffBounds(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in       Options
		min, max time.Duration
	}{
		{Options{}, DefaultMinBackoff, DefaultMaxBackoff},
		{Options{MaxBackoff: 10 * time.Millisecond}, 10 * time.Millisecond, 10 * time.Millisecond},
		{Options{MinBackoff: time.Minute}, time.Minute, time.Minute},
		{Options{MinBackoff: time.Second, MaxBackoff: 2 * time.Second}, time.Second, 2 * time.Second},
	} {
		m, err := New(nil, newFakeCaller(t), newFakePublisher(), tt.in)
		if err != nil {
			t.Fatalf("New(%+v): %v", tt.in, err)
		}
		if m.min != tt.min || m.max != tt.max {
			t.Errorf("New(%+v): backoff %v..%v, want %v..%v", tt.in, m.min, m.max, tt.min, tt.max)
		}
		m.Close()
	}
}

// levelHandler hands the level and message of every record to records.
type levelHandler struct{ records chan string }

func (h levelHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h levelHandler) Handle(_ context.Context, r slog.Record) error {
	h.records <- r.Level.String() + " " + r.Message
	return nil
}
func (h levelHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h levelHandler) WithGroup(string) slog.Handler      { return h }

// loggedManager returns a Manager of one binding of topic to p.S.M on a
// fake caller, fast, logging into the returned handler.
func loggedManager(t *testing.T, topic string) (*Manager, *fakeCaller, levelHandler) {
	t.Helper()
	logs := levelHandler{records: make(chan string, 100)}
	opts := fast
	opts.Logger = slog.New(logs)
	c := newFakeCaller(t)
	m, err := New([]Binding{{Topic: topic, Procedure: "p.S.M"}}, c, newFakePublisher(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return m, c, logs
}

// TestRestartLogLevel: a stream that fails in a way restarting will not
// cure (no such procedure, a request that does not fit, a method that does
// not stream) is logged as an error pointing at the binding; others are
// warnings. Both are restarted.
func TestRestartLogLevel(t *testing.T) {
	t.Parallel()
	m, c, logs := loggedManager(t, "t")
	defer m.Close()
	m.Interest("t", true)
	for _, tc := range []struct {
		err  error
		want string
	}{
		{status.Error(codes.Unavailable, "upstream went away"), "WARN feed stream ended, restarting"},
		{status.Error(codes.Unimplemented, "no such procedure"), "ERROR feed stream failed, restarting, but the failure looks permanent: check the feed's procedure and request (-feed)"},
		{status.Error(codes.InvalidArgument, "bad request"), "ERROR feed stream failed"},
		{status.Error(codes.FailedPrecondition, "does not stream"), "ERROR feed stream failed"},
		{nil, "WARN feed stream ended, restarting"},
	} {
		c.next(t).finish(t, tc.err)
		if got := <-logs.records; !strings.HasPrefix(got, tc.want) {
			t.Errorf("stream ended with %v: logged %q, want %q", tc.err, got, tc.want)
		}
	}
	c.next(t) // restarted after each
	m.Interest("t", false)
}

// TestRestartLogsLimited: a feed logs the first restartsLogged restarts of
// its streams, the last of them saying so, and then one every
// restartsInterval, however many of its topics fail: a pattern's topics
// are the clients' choice.
func TestRestartLogsLimited(t *testing.T) {
	t.Parallel()
	m, c, logs := loggedManager(t, "t.{text}")
	defer m.Close()
	const topics, failures = 5, 6 // 30 restarts, well within restartsInterval
	for i := range topics {
		m.Interest(fmt.Sprintf("t.%d", i), true)
	}
	for range topics * failures {
		c.next(t).finish(t, status.Error(codes.Unimplemented, "no such procedure"))
	}
	for i := range topics {
		m.Interest(fmt.Sprintf("t.%d", i), false)
	}
	m.Close() // no stream logs after this
	var lines []string
	for len(logs.records) > 0 {
		lines = append(lines, <-logs.records)
	}
	if len(lines) != restartsLogged {
		t.Fatalf("%d restarts logged %d lines, want %d:\n%s", topics*failures, len(lines), restartsLogged, strings.Join(lines, "\n"))
	}
	if !strings.Contains(lines[restartsLogged-1], "further restarts of this feed: one line every 10s at most") {
		t.Errorf("line %d does not say the lines slow down: %s", restartsLogged, lines[restartsLogged-1])
	}
}

// TestMaxStreams: at most Options.MaxStreams streams run at once. A topic
// wanted beyond that waits, counts as active, and starts when a stream
// ends for good, oldest first; one that loses its subscribers while it
// waits never starts.
func TestMaxStreams(t *testing.T) {
	t.Parallel()
	c, p := newFakeCaller(t), newFakePublisher()
	o := fast
	o.MaxStreams = 2
	m, err := New([]Binding{{Topic: "ticker.{symbol}", Procedure: "p.Ticker.Watch"}}, c, p, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	symbol := func(s *fakeStream) string { sym, _ := s.request(t)["symbol"].(string); return sym }

	for _, sym := range []string{"A", "B", "C", "D", "E"} {
		m.Interest("ticker."+sym, true)
	}
	streams := map[string]*fakeStream{}
	for range 2 {
		s := c.next(t)
		streams[symbol(s)] = s
	}
	if streams["A"] == nil || streams["B"] == nil {
		t.Fatalf("streams for %v, want A and B, the first two", slices.Sorted(maps.Keys(streams)))
	}
	c.noCall(t)
	if got, want := joinTopics(m.Active()), "ticker.A,ticker.B,ticker.C,ticker.D,ticker.E"; got != want {
		t.Errorf("Active() = %q, want %q: the waiting topics are wanted too", got, want)
	}

	// C loses its subscriber while it waits; A's ends: D starts, not C.
	m.Interest("ticker.C", false)
	m.Interest("ticker.A", false)
	if s := c.next(t); symbol(s) != "D" {
		t.Errorf("stream of %s started when A's ended, want D (C left while waiting)", symbol(s))
	} else {
		streams["D"] = s
	}
	// A stream that fails and restarts keeps its place: E still waits.
	streams["B"].finish(t, errors.New("boom"))
	streams["B"] = c.next(t)
	if symbol(streams["B"]) != "B" {
		t.Errorf("stream of %s after B failed, want B restarted", symbol(streams["B"]))
	}
	m.Interest("ticker.D", false)
	if s := c.next(t); symbol(s) != "E" {
		t.Errorf("stream of %s started when D's ended, want E", symbol(s))
	}
	c.noCall(t)
	p.none(t)
}
