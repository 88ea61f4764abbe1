package session

import (
	"fmt"
	"testing"
)

// TestEventQueueBound shows that the event queue refuses a frame once limit
// frames wait, keeps their order, and holds no memory once emptied of a
// burst.
func TestEventQueueBound(t *testing.T) {
	q := eventQueue{limit: 40, ready: make(chan struct{}, 1)}
	next := 0 // the next frame pop must return
	pop := func() {
		t.Helper()
		f, ok := q.pop()
		if want := fmt.Sprint(next); !ok || string(f) != want {
			t.Fatalf("pop = %q, %v; want %q", f, ok, want)
		}
		next++
	}
	pushed := 0
	for range 3 { // rounds that wrap the slice around
		for q.push([]byte(fmt.Sprint(pushed))) {
			pushed++
		}
		if n := pushed - next; n != q.limit {
			t.Fatalf("push refused with %d frames queued, want %d", n, q.limit)
		}
		for range 25 {
			pop()
		}
	}
	select {
	case <-q.ready:
	default:
		t.Fatal("no ready signal after pushes")
	}
	for next < pushed {
		pop()
	}
	if f, ok := q.pop(); ok {
		t.Fatalf("pop from an empty queue = %q", f)
	}
	if q.frames != nil {
		t.Errorf("an emptied queue keeps room for %d frames", cap(q.frames))
	}
}
