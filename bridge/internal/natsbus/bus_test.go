package natsbus

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"go.uber.org/goleak"

	"github.com/wampbridge/grpcwamp/bridge/internal/broker"
)

// Ordering proofs. Several tests show that something did NOT arrive without
// waiting for an arbitrary time. They rely on two facts:
//
//   - The server forwards the messages of one publishing connection to a
//     subscribing connection in the order they were published, and the
//     client's read loop counts every message it reads (nc.Stats().InMsgs)
//     before handing it to a subscription. So when a later "marker" message
//     has been delivered, every message the server sent before it has been
//     counted: InMsgs tells exactly how many the server sent.
//   - One subscription delivers from one goroutine, in order. So once the
//     marker of a topic arrives, any earlier message of that topic has been
//     delivered or dropped.

// startServer runs an in-process NATS server on a random 127.0.0.1 port and
// returns its client URL.
func startServer(t *testing.T) string {
	t.Helper()
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatalf("nats server: %v", err)
	}
	go s.Start()
	t.Cleanup(func() {
		s.Shutdown()
		s.WaitForShutdown()
	})
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats server not ready after 10s")
	}
	return s.ClientURL()
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// replica is one bridge replica's bus with a recording deliver.
type replica struct {
	*Bus
	got chan broker.Envelope
}

func newReplica(t *testing.T, url, name string) *replica {
	t.Helper()
	b, err := New(url, Options{Name: name, Logger: testLogger(t).With("replica", name)})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	r := &replica{Bus: b, got: make(chan broker.Envelope, 64)}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	if err := b.Start(func(env broker.Envelope) { r.got <- env }); err != nil {
		t.Fatalf("Start: %v", err)
	}
	return r
}

// flush waits until the server has processed everything this replica sent,
// subscriptions included.
func (r *replica) flush(t *testing.T) {
	t.Helper()
	if err := r.nc.Flush(); err != nil {
		t.Fatalf("Flush: %v", err)
	}
}

func (r *replica) publish(t *testing.T, env broker.Envelope) {
	t.Helper()
	if err := r.Publish(env); err != nil {
		t.Fatalf("Publish: %v", err)
	}
}

// next returns the next delivered envelope. The timer only bounds a failing
// test; passing tests never wait for it.
func (r *replica) next(t *testing.T) broker.Envelope {
	t.Helper()
	timer := time.NewTimer(10 * time.Second)
	defer timer.Stop()
	select {
	case env := <-r.got:
		return env
	case <-timer.C:
		t.Fatal("no envelope delivered within 10s")
		return broker.Envelope{}
	}
}

// expect checks that the next delivered envelope is want.
func (r *replica) expect(t *testing.T, who string, want broker.Envelope) {
	t.Helper()
	if got := r.next(t); !reflect.DeepEqual(got, want) {
		t.Fatalf("%s: delivered %+v, want %+v", who, got, want)
	}
}

// expectNothingMore checks that nothing besides what was taken was delivered
// and that the connection has read exactly n messages in all.
func (r *replica) expectNothingMore(t *testing.T, who string, n uint64) {
	t.Helper()
	if got := r.nc.Stats().InMsgs; got != n {
		t.Errorf("%s: connection read %d messages, want %d", who, got, n)
	}
	if len(r.got) != 0 {
		t.Errorf("%s: %d unexpected envelopes delivered, first %+v", who, len(r.got), <-r.got)
	}
}

func event(topic, payload string) broker.Envelope {
	return broker.Envelope{Topic: topic, Event: json.RawMessage(payload)}
}

func TestPublishReachesEachInterestedReplicaOnce(t *testing.T) {
	t.Parallel()
	url := startServer(t)
	a, b := newReplica(t, url, "a"), newReplica(t, url, "b")
	const topic = "http://example.com/simple"
	a.Interest(topic, true)
	a.Interest(topic, true) // repeated: must not add a second subscription
	b.Interest(topic, true)
	b.flush(t) // a's own SUB precedes its PUB on its connection; b's must reach the server first

	env := broker.Envelope{
		Topic:       topic,
		Event:       json.RawMessage(`{"n":1,"s":"x"}`),
		Exclude:     []string{"s1", "s2"},
		Eligible:    []string{"s3"},
		HasEligible: true,
	}
	marker := event(topic, `"marker"`)
	a.publish(t, env)
	a.publish(t, marker)
	for _, r := range []struct {
		name string
		*replica
	}{{"a", a}, {"b", b}} {
		r.expect(t, r.name, env)
		r.expect(t, r.name, marker)
		// A duplicate of env would have been sent, and counted, before
		// the marker.
		r.expectNothingMore(t, r.name, 2)
	}
}

func TestPublishOrderPerTopic(t *testing.T) {
	t.Parallel()
	url := startServer(t)
	a, b := newReplica(t, url, "a"), newReplica(t, url, "b")
	const topic = "urn:ordered"
	b.Interest(topic, true)
	b.flush(t)
	const n = 50
	for i := range n {
		a.publish(t, event(topic, strings.Repeat("1", i+1)))
	}
	for i := range n {
		b.expect(t, "b", event(topic, strings.Repeat("1", i+1)))
	}
}

func TestReplicaWithoutInterestReceivesNothing(t *testing.T) {
	t.Parallel()
	url := startServer(t)
	a, b := newReplica(t, url, "a"), newReplica(t, url, "b")
	const other, mine = "urn:other", "urn:mine"
	b.Interest(mine, true)
	b.flush(t)

	a.publish(t, event(other, `1`))
	a.publish(t, event(mine, `2`))
	b.expect(t, "b", event(mine, `2`))
	// The server sent b only the second publication: the first, sent
	// earlier, would have been counted before it.
	b.expectNothingMore(t, "b", 1)
	// a has no interest in either topic: its own publications do not come
	// back to it.
	a.flush(t)
	a.expectNothingMore(t, "a", 0)
}

func TestInterestOffStopsDelivery(t *testing.T) {
	t.Parallel()
	url := startServer(t)
	a, b := newReplica(t, url, "a"), newReplica(t, url, "b")
	const gone, kept = "urn:gone", "urn:kept"
	b.Interest(gone, true)
	b.Interest(kept, true)
	b.flush(t)
	a.publish(t, event(gone, `1`))
	b.expect(t, "b", event(gone, `1`))

	b.Interest(gone, false)
	b.Interest(gone, false) // repeated: harmless
	b.flush(t)              // the UNSUB has reached the server
	before := b.nc.Stats().InMsgs
	a.publish(t, event(gone, `2`))
	a.publish(t, event(kept, `3`))
	b.expect(t, "b", event(kept, `3`))
	b.expectNothingMore(t, "b", before+1)

	// Interest can come back.
	b.Interest(gone, true)
	b.flush(t)
	a.publish(t, event(gone, `4`))
	b.expect(t, "b", event(gone, `4`))
}

func TestTopicsMapToValidSubjects(t *testing.T) {
	t.Parallel()
	url := startServer(t)
	topics := map[string]string{
		"dots":         "http://example.com/a.b.c",
		"curie-like":   "event:a.b",
		"hash":         "http://example.com/simple#frag",
		"space":        "topic with spaces",
		"star":         "*",
		"gt":           ">",
		"wildcards":    "a.*.>",
		"control":      "tab\there\nnewline\r\x00nul",
		"unicode":      "urn:ünïcødé/事件/✓",
		"empty":        "",
		"only dots":    "..",
		"very long":    "http://example.com/" + strings.Repeat("long.topic/", 10_000),
		"json special": `"quoted\" \\ back`,
	}
	valid := regexp.MustCompile(`^grpcwamp\.events\.[0-9a-f]{64}$`)
	seen := make(map[string]string)
	for name, topic := range topics {
		subject := subjectFor(DefaultSubject, topic)
		if !valid.MatchString(subject) {
			t.Errorf("%s: subject %q is not one literal token under the prefix", name, subject)
		}
		if prev, dup := seen[subject]; dup {
			t.Errorf("%s and %s map to one subject %q", prev, name, subject)
		}
		seen[subject] = name
	}
	for name, topic := range topics {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			r := newReplica(t, url, name)
			r.Interest(topic, true)
			env := broker.Envelope{Topic: topic, Event: json.RawMessage(`{"topic":` + mustJSON(t, topic) + `}`)}
			r.publish(t, env)
			r.expect(t, name, env)
		})
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestForeignMessagesAreDropped(t *testing.T) {
	t.Parallel()
	url := startServer(t)
	r := newReplica(t, url, "r")
	const topic = "urn:mine"
	r.Interest(topic, true)
	subject := subjectFor(DefaultSubject, topic)
	// Not an envelope, an envelope of another topic on this topic's
	// subject (a hash collision, or a stray publisher), and one whose event
	// is not valid UTF-8 (a text frame carrying it would fail every
	// subscriber's connection).
	for _, data := range []string{`not json`, `{"t":"urn:other","e":1}`, "{\"t\":\"urn:mine\",\"e\":\"\xff\"}"} {
		if err := r.nc.Publish(subject, []byte(data)); err != nil {
			t.Fatal(err)
		}
	}
	r.publish(t, event(topic, `"marker"`))
	// Same subscription, same goroutine: the three earlier messages were
	// dropped before the marker was delivered.
	r.expect(t, "r", event(topic, `"marker"`))
	r.expectNothingMore(t, "r", 4)
}

func TestPublishTooLarge(t *testing.T) {
	t.Parallel()
	r := newReplica(t, startServer(t), "r")
	big := `"` + strings.Repeat("x", int(r.nc.MaxPayload())) + `"`
	err := r.Publish(event("urn:big", big))
	if !errors.Is(err, nats.ErrMaxPayload) {
		t.Fatalf("Publish of %d bytes: %v, want ErrMaxPayload", len(big), err)
	}
	for _, want := range []string{`"urn:big"`, "max_payload"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
	t.Log(err)
}

// closedPort returns a 127.0.0.1 port that nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

func TestNewUnreachable(t *testing.T) {
	t.Parallel()
	addr := closedPort(t)
	url := "nats://bridge:s3cret@" + addr
	b, err := New(url, Options{Logger: testLogger(t)})
	if err == nil {
		b.Close()
		t.Fatalf("New(%q) succeeded with nothing listening", url)
	}
	if !errors.Is(err, nats.ErrNoServers) {
		t.Errorf("error %v does not unwrap to nats.ErrNoServers", err)
	}
	msg := err.Error()
	for _, want := range []string{addr, "reachable", "NATS URL"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not mention %q", msg, want)
		}
	}
	if strings.Contains(msg, "s3cret") {
		t.Errorf("error %q reveals the password", msg)
	}
	t.Log(err)
}

func TestNewBadSubject(t *testing.T) {
	t.Parallel()
	for _, prefix := range []string{"a..b", ".a", "a.", "a.*", "a.>", "a b", "a.b*"} {
		// Checked before connecting: the URL does not matter.
		_, err := New("nats://127.0.0.1:1", Options{Subject: prefix})
		if err == nil || !strings.Contains(err.Error(), "subject prefix") {
			t.Errorf("New with subject %q: %v, want a subject prefix error", prefix, err)
		}
	}
}

func TestLifecycleMisuse(t *testing.T) {
	t.Parallel()
	r := newReplica(t, startServer(t), "r")
	if err := r.Start(func(broker.Envelope) {}); err == nil {
		t.Error("second Start succeeded")
	}
	if err := r.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := r.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := r.Publish(event("urn:x", `1`)); !errors.Is(err, ErrClosed) {
		t.Errorf("Publish after Close: %v, want ErrClosed", err)
	}
	r.Interest("urn:x", true) // ignored, must not panic
	r.Interest("urn:x", false)
	if !r.nc.IsClosed() {
		t.Error("connection not closed after Close")
	}
}

// TestCloseLeavesNoGoroutine is not parallel: parallel tests run after the
// sequential ones, so no other test's goroutines are around.
func TestCloseLeavesNoGoroutine(t *testing.T) {
	url := startServer(t)
	before := goleak.IgnoreCurrent()
	b, err := New(url, Options{Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan broker.Envelope, 1)
	if err := b.Start(func(env broker.Envelope) { got <- env }); err != nil {
		t.Fatal(err)
	}
	b.Interest("urn:a", true)
	b.Interest("urn:b", true)
	if err := b.Publish(event("urn:a", `1`)); err != nil {
		t.Fatal(err)
	}
	<-got
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	goleak.VerifyNone(t, before)
}
