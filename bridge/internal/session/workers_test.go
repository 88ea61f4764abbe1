package session

import (
	"runtime"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// goroutineID returns an identifier of the calling goroutine: the
// address of a variable on its stack would move when the stack grows, so
// the runtime's number is read from its stack trace header instead.
func goroutineID() string {
	b := make([]byte, 64)
	b = b[:runtime.Stack(b, false)]
	// "goroutine 123 [running]:..."
	for i := len("goroutine "); i < len(b); i++ {
		if b[i] == ' ' {
			return string(b[len("goroutine "):i])
		}
	}
	return string(b)
}

// TestWorkersReuse checks that calls one after another run on one
// goroutine, and that calls at the same time get one each.
func TestWorkersReuse(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := NewWorkers(time.Minute)
		defer w.Close()
		ids := make(chan string, 3)
		for range 3 {
			w.Go(func() { ids <- goroutineID() })
			synctest.Wait() // the worker ran the call and waits for the next
		}
		first := <-ids
		for range 2 {
			if id := <-ids; id != first {
				t.Errorf("calls in turn ran on goroutines %s and %s, want one worker reused", first, id)
			}
		}

		// Two calls at once: the second cannot wait for the first.
		release := make(chan struct{})
		var running sync.WaitGroup
		running.Add(2)
		for range 2 {
			w.Go(func() {
				ids <- goroutineID()
				running.Done()
				<-release
			})
		}
		running.Wait()
		if a, b := <-ids, <-ids; a == b {
			t.Errorf("two calls at once both ran on goroutine %s", a)
		}
		close(release)
	})
}

// TestWorkersIdle checks that a worker exits once it has waited for a call
// longer than the idle time, and not before.
func TestWorkersIdle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const idle = 5 * time.Second
		w := NewWorkers(idle)
		defer w.Close()
		exited := make(chan struct{})
		w.Go(func() {})
		synctest.Wait()
		go func() { w.wg.Wait(); close(exited) }()

		time.Sleep(idle - time.Millisecond) // fake time, in the bubble
		synctest.Wait()
		select {
		case <-exited:
			t.Fatalf("the worker exited before it had been idle for %v", idle)
		default:
		}
		time.Sleep(time.Millisecond)
		synctest.Wait()
		select {
		case <-exited:
		default:
			t.Fatalf("the worker did not exit after being idle for %v", idle)
		}
	})
}

// TestWorkersClose checks that Close waits for running calls and stops
// the waiting workers, and that a call after Close still runs.
func TestWorkersClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := NewWorkers(time.Hour)
		release := make(chan struct{})
		done := make(chan struct{})
		w.Go(func() {}) // leaves a worker waiting
		w.Go(func() { <-release; close(done) })
		synctest.Wait()
		closed := make(chan struct{})
		go func() { w.Close(); close(closed) }()
		synctest.Wait()
		select {
		case <-closed:
			t.Fatal("Close returned while a call was running")
		default:
		}
		close(release)
		<-closed
		<-done

		ran := make(chan struct{})
		w.Go(func() { close(ran) })
		<-ran
		w.Close() // waits for that call's goroutine too
	})
}
