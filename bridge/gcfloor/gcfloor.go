// Package gcfloor keeps the garbage collector's heap goal at or above a
// floor, so that a process whose live heap is small does not collect
// after every few megabytes of allocation.
//
// With GOGC=100 the runtime starts a collection once the heap has grown by
// about its live size since the last one, and no sooner than at 4 MiB. A
// bridge with a few sessions has a live heap of a few MiB, while grpc-go's
// client allocates about 6 KB per call: at tens of thousands of calls per
// second it collects many times a second and spends 15 to 20% of its CPU
// doing so. The floor raises GOGC after each collection, just enough that
// the goal of the next one is the floor, while the live heap is small;
// once the goal GOGC gives is above the floor, GOGC is back at its
// configured value. The memory limit (GOMEMLIMIT, [debug.SetMemoryLimit])
// applies on top: near it, the runtime collects sooner whatever GOGC says.
//
// The price, besides the memory up to the floor: with collections
// deferred, objects that live long share their spans with more garbage
// allocated beside them, and keep those spans in use after it is
// collected, until the runtime fills them again. [Hold] avoids most of
// it: a process calls it when it starts to keep objects that live long
// (the bridge, when it opens a session), and once many such calls come
// between two collections the floor is at most [HeldFloor] until the
// collection after next, so that those objects fill the room the
// collections free as they go.
//
// GOGC is process-wide state: the Go collector's go_gc_gogc_percent
// metric shows the value in force.
package gcfloor

import (
	"math"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"sync/atomic"
)

// The runtime/metrics samples the tuner reads, in this order.
var sampleNames = [...]string{
	"/gc/heap/live:bytes",    // heap marked live by the last collection
	"/gc/scan/stack:bytes",   // stacks scanned by it
	"/gc/scan/globals:bytes", // globals scanned by it
}

// heapMinimum is the runtime's smallest heap goal at GOGC=100; it scales
// with GOGC (runtime/mgcpacer.go, defaultHeapMinimum).
const heapMinimum = 4 << 20

// maxPercent bounds the GOGC the tuner sets.
const maxPercent = 10000

// Percent returns the GOGC that makes the goal of the next collection the
// floor, or as near below it as the runtime's rules allow, and never less
// than base: base when the goal it gives is at the floor already.
//
// The runtime's goal for GOGC=p is the larger of live + (live+roots)·p/100,
// where roots are the stacks and globals the last collection scanned, and
// its minimum heap, 4 MiB·p/100. Percent returns the largest p for which
// neither exceeds the floor.
func Percent(floor, live, roots uint64, base int) int {
	p := float64(floor) / heapMinimum * 100
	if floor <= live {
		p = 0
	} else if scan := live + roots; scan > 0 {
		p = min(p, float64(floor-live)/float64(scan)*100)
	}
	p = min(math.Floor(p), maxPercent)
	if p <= float64(base) {
		return base
	}
	return int(p)
}

// HeldFloor bounds the floor from the [HoldAfter]th call of [Hold] since
// a collection until the collection after the next one ends. It is twice
// the runtime's least heap goal: 1 000 sessions opened in a burst under it
// keep as much memory as under GOGC alone, where a floor of 32 MiB costs
// each of them a fifth more.
const HeldFloor = 8 << 20

// HoldAfter is how many calls of Hold between two collections lower the
// floor. A few objects that live long, spread over a cycle, cost a few
// spans; lowering the floor for them would cost more: the runtime returns
// to the system the memory above the lower goal, and takes it again, page
// by page, once the floor is back. A session opened every 200 ms under
// load cost the bridge about one page fault per call that way.
const HoldAfter = 16

// tuner is the running floor: one per process, since GOGC is.
type tuner struct {
	floor   uint64
	base    int
	current int
	stopped bool
	// live and roots are the last collection's, as tune read them.
	live, roots uint64
}

// holds counts the calls of Hold since the tuner last ran, after a
// collection, which then keeps the floor at HeldFloor for one more cycle
// if they reached HoldAfter.
var holds atomic.Int64

var (
	mu     sync.Mutex
	active *tuner
	// finalized, when set (by tests), is called at the end of every run of
	// a tuner's finalizer, stopped or not. Guarded by mu.
	finalized func()
)

// Start keeps the heap goal at or above floor bytes until stop is called,
// which puts GOGC back to its value at Start. It does nothing (and stop
// does nothing) when floor is 0, when GOGC is off, or when a floor is
// running already: GOGC belongs to the whole process, so the first one
// wins.
func Start(floor uint64) (stop func()) {
	mu.Lock()
	defer mu.Unlock()
	base := configuredGOGC()
	if floor == 0 || base < 0 || active != nil {
		return func() {}
	}
	t := &tuner{floor: floor, base: base, current: base}
	active = t
	t.tune() // for the last collection, if there was one
	arm(t)
	return func() {
		mu.Lock()
		defer mu.Unlock()
		if t.stopped {
			return
		}
		t.stopped = true
		active = nil
		debug.SetGCPercent(t.base)
	}
}

// arm sets a finalizer on a fresh object that the next collection finds
// unreachable: it runs after that collection, tunes, and arms again.
func arm(t *tuner) {
	sentinel := new([16]byte) // not tiny: a tiny object may share a block and outlive the cycle
	runtime.SetFinalizer(sentinel, func(*[16]byte) {
		mu.Lock()
		defer mu.Unlock()
		if finalized != nil {
			defer finalized()
		}
		if t.stopped {
			return
		}
		t.tune()
		arm(t)
	})
}

// Hold says that the caller is about to allocate objects that live long,
// as the bridge does for each session it opens. With the collections at
// the floor's pace, many of them would spread over more memory than they
// fill (see the package comment): the HoldAfter-th call since the last
// collection lowers the floor to HeldFloor, if it is higher, at once and
// until the collection after the next one ends. It costs an atomic add,
// and does nothing without a running floor.
func Hold() {
	if holds.Add(1) != HoldAfter {
		return
	}
	mu.Lock()
	defer mu.Unlock()
	if t := active; t != nil && !t.stopped {
		t.set(min(t.floor, HeldFloor))
	}
}

// set sets GOGC for floor and the last collection. Called with mu held.
func (t *tuner) set(floor uint64) {
	if p := Percent(floor, t.live, t.roots, t.base); p != t.current {
		debug.SetGCPercent(p)
		t.current = p
	}
}

// tune sets GOGC for the last collection's live heap, at HeldFloor if Hold
// was called HoldAfter times since it last ran. Called with mu held.
func (t *tuner) tune() {
	var s [len(sampleNames)]metrics.Sample
	for i, name := range sampleNames {
		s[i].Name = name
	}
	metrics.Read(s[:])
	var v [len(sampleNames)]uint64
	for i := range s {
		if s[i].Value.Kind() != metrics.KindUint64 {
			return // not in this runtime: leave GOGC alone
		}
		v[i] = s[i].Value.Uint64()
	}
	t.live, t.roots = v[0], v[1]+v[2]
	floor := t.floor
	if holds.Swap(0) >= HoldAfter {
		floor = min(floor, HeldFloor)
	}
	t.set(floor)
}

// configuredGOGC returns GOGC as set now (GOGC in the environment or
// [debug.SetGCPercent]), negative when collection is off.
func configuredGOGC() int {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 100
	}
	// The runtime keeps GOGC as an int32 and reports GOGC=off (-1) as its
	// bits sign-extended.
	return int(int32(s[0].Value.Uint64()))
}
