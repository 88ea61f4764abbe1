package session

import (
	"sync"
	"time"
)

// Workers runs the goroutines of calls for many sessions, reusing each
// goroutine for the calls that follow while calls keep coming.
//
// A call goes deep into gRPC's client, and a new goroutine starts with a
// small stack that the runtime grows, by copying it, several times in
// every call: about a tenth of the bridge's time under a unary load. A
// goroutine that runs call after call keeps the stack it grew. A worker
// that has waited for a call longer than the idle time exits, so that a
// burst leaves nothing behind for long.
//
// Workers is safe for concurrent use. The zero value is not usable; see
// [NewWorkers].
type Workers struct {
	idle  time.Duration
	tasks chan func() // unbuffered: a send succeeds only into a waiting worker
	quit  chan struct{}
	wg    sync.WaitGroup

	mu     sync.Mutex
	closed bool
}

// NewWorkers returns Workers whose idle goroutines exit after idle.
func NewWorkers(idle time.Duration) *Workers {
	return &Workers{idle: idle, tasks: make(chan func()), quit: make(chan struct{})}
}

// Go runs f on a waiting worker, or on a new one if none waits. After
// Close, f still runs, on a goroutine of its own.
func (w *Workers) Go(f func()) {
	select {
	case w.tasks <- f:
		return
	default:
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		w.wg.Go(f)
		return
	}
	w.wg.Go(func() {
		f()
		w.wait()
	})
}

// wait runs the tasks handed to this worker until it has been idle for
// w.idle or w is closed.
func (w *Workers) wait() {
	t := time.NewTimer(w.idle)
	defer t.Stop()
	for {
		select {
		case f := <-w.tasks:
			f()
			t.Reset(w.idle)
		case <-t.C:
			return
		case <-w.quit:
			return
		}
	}
}

// Close makes the waiting workers exit and waits until every goroutine of
// w has ended, those running calls included.
func (w *Workers) Close() {
	w.mu.Lock()
	if !w.closed {
		w.closed = true
		close(w.quit)
	}
	w.mu.Unlock()
	w.wg.Wait()
}
