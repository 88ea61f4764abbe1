package session

import (
	"math"
	"net"
	"sync"
	"time"
)

// progressWatch extends the write deadline of a connection while a network
// write waits and the client is still taking data: the no-read timeout is
// for a client that reads nothing, and a client that reads slowly can wait
// far longer than that for the kernel to take a write. A TCP socket whose
// send buffer is full wakes its writer only once about half of the buffer
// has gone, which for a client reading 80 KB/s through a send buffer of a
// few MiB takes longer than the 10 s no-read timeout: such a client used
// to be disconnected while it read steadily.
//
// The watch reads how many bytes the socket's send queue holds (unsent, or
// not yet acknowledged) every quarter of the timeout while a write waits;
// each time it has shrunk, the client has taken some, and the deadline
// moves to a full timeout from then. A client that takes nothing is
// disconnected between three quarters of a timeout and a timeout after it
// stopped.
//
// A write after which the send queue holds less than watchFrom bytes
// takes no watch: it cannot wait long (the timeout still bounds it), and
// an idle session keeps no timer. On a plain TCP connection the queue
// holds at most what was written since it was last looked at, plus what
// it held then ([batchConn].unlooked), so that most small writes need no
// look either: a session answering calls one at a time looks once per
// watchFrom bytes written, not once per write.
type progressWatch struct {
	conn   net.Conn      // whose write deadline moves
	extend time.Duration // the timeout; the watch looks every quarter of it

	mu      sync.Mutex
	timer   *time.Timer
	running bool // a write waits; the timer's function may move the deadline
	last    int  // the send queue when last looked at
	moved   int  // deadlines moved, for tests
}

// watchFrom is the most the send queue may hold after a write that takes
// no watch: the smallest send buffer Linux gives a TCP socket.
const watchFrom = 16 << 10

// queueLen is sendQueueLen; tests count its calls.
var queueLen = sendQueueLen

// watchLocked returns the watch of a network write of n bytes that is
// about to start, starting c.watch if needed; nil when the write needs
// none. c.mu is held. The caller stops the watch once the write has
// returned, and counts the bytes written (see wroteLocked).
func (c *batchConn) watchLocked(n int) *progressWatch {
	if c.timeout <= 0 {
		return nil
	}
	if int(c.unlooked)+n < watchFrom {
		return nil
	}
	q, ok := queueLen(c.Conn)
	if !ok {
		return nil
	}
	if acksVisible(c.Conn) {
		c.unlooked = uint16(min(q, math.MaxUint16))
	}
	if q+n < watchFrom {
		return nil
	}
	if c.watch == nil {
		c.watch = &progressWatch{conn: c.Conn}
	}
	c.watch.start(q, c.timeout)
	return c.watch
}

// wroteLocked counts n bytes written to the network connection in
// c.unlooked; c.mu is held. Only a plain TCP connection counts: through
// TLS the send queue holds more than was written (each record's header
// and tag), so every write but the first looks.
func (c *batchConn) wroteLocked(n int) {
	if acksVisible(c.Conn) {
		c.unlooked = uint16(min(int(c.unlooked)+n, math.MaxUint16))
	} else {
		c.unlooked = watchFrom
	}
}

// start begins watching a network write that is about to start under
// timeout (> 0), with q bytes in the send queue.
func (w *progressWatch) start(q int, timeout time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.running, w.last, w.extend = true, q, timeout
	if w.timer == nil {
		w.timer = time.AfterFunc(timeout/4, w.look)
	} else {
		w.timer.Reset(timeout / 4)
	}
}

// stop ends the watch of the write, which has returned.
func (w *progressWatch) stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.running = false
	if w.timer != nil {
		w.timer.Stop()
	}
}

// deadlinesMoved returns how often the watch has moved a deadline.
func (w *progressWatch) deadlinesMoved() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.moved
}

// look runs on the timer while a write waits.
func (w *progressWatch) look() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.running {
		return
	}
	if q, ok := sendQueueLen(w.conn); ok && q < w.last {
		w.last = q
		w.moved++
		// A blocked Write sees the new deadline (net.Conn allows setting
		// it while a Write runs).
		w.conn.SetWriteDeadline(time.Now().Add(w.extend))
	}
	w.timer.Reset(w.extend / 4)
}
