package gcfloor

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const mib = 1 << 20

func TestPercent(t *testing.T) {
	for _, tc := range []struct {
		floor, live, roots uint64
		base, want         int
		situation          string
	}{
		{32 * mib, 0, 0, 100, 800, "no collection yet: the runtime's minimum heap, 4 MiB at 100, scaled to the floor"},
		{32 * mib, 1 * mib, 1 * mib, 100, 800, "small live heap: still the minimum heap's bound"},
		{32 * mib, 8 * mib, 4 * mib, 100, 200, "8 MiB live, 4 MiB of roots: 8 + 12·2 = 32"},
		{32 * mib, 10 * mib, 1 * mib, 100, 200, "(32-10)/11 = 2"},
		{32 * mib, 14 * mib, 2 * mib, 100, 112, "(32-14)/16 = 1.125, rounded down"},
		{32 * mib, 16 * mib, 0, 100, 100, "twice the live heap is the floor: GOGC as configured"},
		{32 * mib, 40 * mib, 1 * mib, 100, 100, "live heap above the floor"},
		{32 * mib, 8 * mib, 4 * mib, 300, 300, "a larger configured GOGC wins"},
		{1 << 40, 1 * mib, 0, 100, maxPercent, "bounded"},
		{0, 0, 0, 100, 100, "no floor"},
	} {
		if got := Percent(tc.floor, tc.live, tc.roots, tc.base); got != tc.want {
			t.Errorf("%s: Percent(%d, %d, %d, %d) = %d, want %d", tc.situation, tc.floor, tc.live, tc.roots, tc.base, got, tc.want)
		}
	}
}

// readUint64 reads one runtime/metrics sample.
func readUint64(t *testing.T, name string) uint64 {
	t.Helper()
	s := []metrics.Sample{{Name: name}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		t.Fatalf("runtime/metrics has no %s", name)
	}
	return s[0].Value.Uint64()
}

// watchFinalizer returns a channel that receives after each run of a
// tuner's finalizer, until the test ends; a run nobody waits for is
// dropped.
func watchFinalizer(t *testing.T) <-chan struct{} {
	ran := make(chan struct{}, 1)
	mu.Lock()
	finalized = func() {
		select {
		case ran <- struct{}{}:
		default: // a collection the test did not run
		}
	}
	mu.Unlock()
	t.Cleanup(func() {
		mu.Lock()
		finalized = nil
		mu.Unlock()
	})
	return ran
}

// startWatched starts a floor with GOGC at 100, and returns the channel of
// watchFinalizer and the floor's stop. The test's end stops the floor and
// puts GOGC back.
func startWatched(t *testing.T, floor uint64) (ran <-chan struct{}, stop func()) {
	prev := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(prev) }) // runs last
	ran = watchFinalizer(t)
	stop = Start(floor)
	t.Cleanup(stop)
	return ran, stop
}

// collect runs a collection and waits for a tuner's finalizer to have run
// after it.
func collect(ran <-chan struct{}) {
	runtime.GC()
	<-ran
}

// TestStart follows GOGC and the heap goal through collections, with a
// floor far above this test's live heap, a second Start and stop.
func TestStart(t *testing.T) {
	const floor = 256 * mib
	ran, stop := startWatched(t, floor)
	for range 2 {
		collect(ran)
		gogc := int(int32(readUint64(t, "/gc/gogc:percent")))
		live := readUint64(t, "/gc/heap/live:bytes")
		roots := readUint64(t, "/gc/scan/stack:bytes") + readUint64(t, "/gc/scan/globals:bytes")
		if want := Percent(floor, live, roots, 100); gogc != want || gogc <= 100 {
			t.Fatalf("GOGC %d after a collection with %d bytes live and %d of roots, want %d (above 100)", gogc, live, roots, want)
		}
		if goal := readUint64(t, "/gc/heap/goal:bytes"); goal > floor || goal <= floor/2 {
			t.Fatalf("heap goal %d bytes (GOGC %d), want at most the floor, %d, and more than half of it", goal, gogc, floor)
		}
	}

	// A second floor changes nothing: the first one runs.
	before := readUint64(t, "/gc/gogc:percent")
	Start(1 << 40)()
	collect(ran)
	if after := readUint64(t, "/gc/gogc:percent"); after != before {
		t.Errorf("GOGC %d after a second Start and its stop, want %d, the first floor's", after, before)
	}

	stop()
	stop() // twice is fine
	if gogc := readUint64(t, "/gc/gogc:percent"); gogc != 100 {
		t.Errorf("GOGC %d after stop, want 100, as at Start", gogc)
	}
	collect(ran) // the last finalizer runs and does not tune
	if gogc := readUint64(t, "/gc/gogc:percent"); gogc != 100 {
		t.Errorf("GOGC %d after stop and a collection, want 100", gogc)
	}
	select {
	case <-ran:
		t.Error("a finalizer ran again after stop: the tuner re-armed itself")
	default:
	}
}

// TestHold follows the heap goal through calls of Hold: fewer than
// HoldAfter between two collections change nothing; the HoldAfter-th
// lowers the goal to at most HeldFloor at once and through the next
// collection; after the one after it, the floor is back.
func TestHold(t *testing.T) {
	const floor = 256 * mib
	ran, stop := startWatched(t, floor)
	collect(ran)
	goal := func() uint64 { return readUint64(t, "/gc/heap/goal:bytes") }
	hold := func(n int) {
		for range n {
			Hold()
		}
	}
	if g := goal(); g <= HeldFloor {
		t.Fatalf("heap goal %d bytes before Hold, want above HeldFloor (%d)", g, HeldFloor)
	}
	hold(HoldAfter - 1)
	collect(ran) // the count starts again
	hold(HoldAfter - 1)
	if g := goal(); g <= HeldFloor {
		t.Fatalf("heap goal %d bytes after %d calls of Hold in each of two cycles, want above HeldFloor (%d): the floor", g, HoldAfter-1, HeldFloor)
	}
	Hold()
	if g := goal(); g > HeldFloor {
		t.Fatalf("heap goal %d bytes right after the %dth Hold, want at most HeldFloor (%d)", g, HoldAfter, HeldFloor)
	}
	hold(HoldAfter) // more: no change
	collect(ran)
	if g := goal(); g > HeldFloor {
		t.Fatalf("heap goal %d bytes after the collection that ended the hold's cycle, want at most HeldFloor (%d) for one more", g, HeldFloor)
	}
	collect(ran)
	if g := goal(); g <= HeldFloor || g > floor {
		t.Fatalf("heap goal %d bytes after the collection after next, want the floor back: above %d, at most %d", g, HeldFloor, floor)
	}
	stop()
	hold(HoldAfter) // without a running floor: GOGC stays as configured
	if gogc := readUint64(t, "/gc/gogc:percent"); gogc != 100 {
		t.Errorf("GOGC %d after calls of Hold without a floor, want 100", gogc)
	}
	collect(ran)
	holds.Store(0) // for the tests after this one
}

// TestStartOff: no floor, or GOGC=off, leave GOGC alone.
func TestStartOff(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	stop := Start(256 * mib)
	runtime.GC()
	if gogc := int(int32(readUint64(t, "/gc/gogc:percent"))); gogc != -1 {
		t.Errorf("GOGC %d with GOGC=off and a floor, want -1: off stays off", gogc)
	}
	stop()

	debug.SetGCPercent(150)
	stop = Start(0)
	runtime.GC()
	stop()
	if gogc := readUint64(t, "/gc/gogc:percent"); gogc != 150 {
		t.Errorf("GOGC %d with a floor of 0, want 150, as configured", gogc)
	}
}
