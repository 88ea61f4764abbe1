package feed

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
)

// fakeStream is one call the fake Caller received. The test pushes messages
// on send, ends the call with an error (or nil for OK) on end, and sees the
// manager cancel it on ctx.
type fakeStream struct {
	procedure string
	args      []json.RawMessage
	ctx       context.Context
	send      chan json.RawMessage
	end       chan error
	done      chan struct{} // closed when Call has returned
}

// streamKey names a stream by its procedure and arguments: in these tests,
// one per topic.
func streamKey(procedure string, args []json.RawMessage) string {
	for _, a := range args {
		procedure += " " + string(a)
	}
	return procedure
}

// request returns the call's single argument decoded as an object.
func (s *fakeStream) request(t *testing.T) map[string]any {
	t.Helper()
	if len(s.args) != 1 {
		t.Fatalf("call of %s has %d arguments, want 1: %s", s.procedure, len(s.args), s.args)
	}
	var m map[string]any
	if err := json.Unmarshal(s.args[0], &m); err != nil {
		t.Fatalf("call of %s: argument %s: %v", s.procedure, s.args[0], err)
	}
	return m
}

// push hands msg to the stream, which emits it.
func (s *fakeStream) push(t *testing.T, msg string) {
	t.Helper()
	select {
	case s.send <- json.RawMessage(msg):
	case <-s.done:
		t.Fatalf("push %s: the call of %s has returned", msg, s.procedure)
	}
}

// finish ends the stream with err.
func (s *fakeStream) finish(t *testing.T, err error) {
	t.Helper()
	select {
	case s.end <- err:
	case <-s.done:
		t.Fatalf("finish: the call of %s has returned", s.procedure)
	}
	<-s.done
}

// fakeCaller records calls and fails the test if two calls with the same
// procedure and arguments (in these tests: the same topic) run at once.
type fakeCaller struct {
	t     testing.TB
	calls chan *fakeStream

	mu      sync.Mutex
	running map[string]int
	started int // calls of Call so far
}

func newFakeCaller(t testing.TB) *fakeCaller {
	return &fakeCaller{t: t, calls: make(chan *fakeStream), running: make(map[string]int)}
}

func (f *fakeCaller) Call(ctx context.Context, procedure string, args []json.RawMessage, emit func(json.RawMessage) error) error {
	key := streamKey(procedure, args)
	f.mu.Lock()
	f.started++
	f.running[key]++
	if n := f.running[key]; n > 1 {
		f.t.Errorf("%d concurrent streams of %s", n, key)
	}
	f.mu.Unlock()
	s := &fakeStream{
		procedure: procedure, args: args, ctx: ctx,
		send: make(chan json.RawMessage), end: make(chan error), done: make(chan struct{}),
	}
	defer func() {
		f.mu.Lock()
		f.running[key]--
		f.mu.Unlock()
		close(s.done)
	}()
	select {
	case f.calls <- s:
	case <-ctx.Done():
		return ctx.Err()
	}
	for {
		select {
		case msg := <-s.send:
			if err := emit(msg); err != nil {
				return err
			}
		case err := <-s.end:
			return err
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// callCount returns how many times Call has been called. Every call
// counts, including one whose context had already ended.
func (f *fakeCaller) callCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.started
}

// next returns the next call.
func (f *fakeCaller) next(t *testing.T) *fakeStream {
	t.Helper()
	select {
	case s := <-f.calls:
		return s
	case <-t.Context().Done():
		t.Fatal("no call")
		return nil
	}
}

// noCall fails the test if a call is waiting to be received. Only
// meaningful when no feeding goroutine can still be starting one.
func (f *fakeCaller) noCall(t *testing.T) {
	t.Helper()
	select {
	case s := <-f.calls:
		t.Errorf("unexpected call of %s with %s", s.procedure, s.args)
	default:
	}
}

type delivery struct {
	topic string
	event string
}

// fakePublisher records deliveries. Its buffer is larger than any test
// needs, so that DeliverLocal never blocks.
type fakePublisher struct{ got chan delivery }

func newFakePublisher() *fakePublisher { return &fakePublisher{got: make(chan delivery, 1000)} }

func (p *fakePublisher) DeliverLocal(topic string, event json.RawMessage) {
	p.got <- delivery{topic, string(event)}
}

// expect receives the next delivery and checks it.
func (p *fakePublisher) expect(t *testing.T, topic, event string) {
	t.Helper()
	select {
	case d := <-p.got:
		if d.topic != topic || d.event != event {
			t.Errorf("delivered %s to %q, want %s to %q", d.event, d.topic, event, topic)
		}
	case <-t.Context().Done():
		t.Fatalf("no delivery of %s to %q", event, topic)
	}
}

func (p *fakePublisher) none(t *testing.T) {
	t.Helper()
	select {
	case d := <-p.got:
		t.Errorf("unexpected delivery of %s to %q", d.event, d.topic)
	default:
	}
}

func joinTopics(ts []string) string { return strings.Join(ts, ",") }
