package session

import (
	"errors"
	"os"
	"time"
)

// The pong watch keeps a client that reads slowly but steadily from being
// taken for one that answers no ping. The reader's deadline is the pong
// timeout, which each pong moves; but a ping waits behind what the two
// kernels' socket buffers hold, a few MiB, read at the client's pace, so a
// client reading a stream slowly receives each ping late, and can answer
// it too late however promptly it answers.
//
// So where the watch can look at the socket, the deadline a pong sets is a
// look window short of the pong timeout. When it passes, the watch notes
// how many bytes of data the client's kernel has acknowledged, and sets
// the deadline to the end of the pong timeout; when that passes, the
// session ends as before unless the client's kernel has acknowledged data
// since, in which case the deadline moves one look window on, and so on.
// A pong puts everything back.
//
// Only data counts, never the bytes of the control frames (pings, pongs,
// the handshake before them, counted in batchConn.ctrl): a client whose
// application is stuck, or answers no ping, still has a kernel that
// acknowledges the pings, and it must still be closed after the pong
// timeout. What the kernel acknowledges is counted from its start
// (tcp_info's bytes_acked) and the send queue (SIOCOUTQ), which together
// bound the data acknowledged from both sides: at least everything
// acknowledged less every byte of control frames, at most everything
// acknowledged less the control frames known to be out of the queue. The
// client has taken data when the least it can have taken now exceeds the
// most it can have taken at the last look. A client that reads nothing
// stops acknowledging once its receive buffer is full, so it is closed
// too, at most two look windows after that (its writes, meanwhile, time
// out as reading nothing).
//
// The watch keeps a session at most pongWatchCap pong timeouts after its
// last pong (or, before the first pong, after the start of the session):
// then it ends as answering no ping whatever the client's kernel takes.
// Without the cap, a client whose application is frozen (stuck, stopped)
// would stay for as long as its kernel has room in its receive buffer,
// which at a slow stream's pace is minutes or hours, and the no-read
// timeout would not find it since the bridge's writes never wait.
//
// The watch needs Linux and a plain TCP connection: TLS adds bytes of its
// own to each frame, which would blur the count. Elsewhere, and when the
// look window would be shorter than minLookWindow, the deadline is the
// pong timeout, as it was. A client that answers its pings in time never
// reaches the look, so an idle session costs nothing more: the watch's
// state is a few fields of batchConn and the read deadline's timer, which
// every session has.

// pongWatchCap is how many pong timeouts after its last pong (or its
// start) the watch keeps a session at most: a frozen client stays at most
// 4 minutes under the default pong timeout of 1 minute, three more than a
// client that takes no data. A client that reads steadily answers each
// ping about (ping interval + B/rate) after its last pong, B being what
// the socket buffers hold ahead of the ping: four timeouts (240 s by
// default, 215 s past a ping interval of 25 s) leave a client whose
// buffers hold 8 MB room to read as slowly as about 40 KB/s, where two
// would need 100 KB/s and the pong timeout alone, before the watch,
// about 240 KB/s.
const pongWatchCap = 4

// minLookWindow is the shortest look window: below it the pong timeout is
// not watched. A look costs two system calls and a new deadline, a late
// client's reader looks once a window, and TCP's own timers (delayed
// acknowledgements of 40 to 200 ms, a least retransmission timeout of
// 200 ms) make a shorter window often see no acknowledgement from a
// client that reads. The watch thus needs a pong timeout of at least
// 400 ms, and one at least 200 ms longer than the ping interval.
const minLookWindow = 100 * time.Millisecond

// readState says what the reader's deadline is.
type readState uint8

const (
	readPongTimeout readState = iota // the pong timeout, with no watch
	readLook                         // a look window short of the pong timeout
	readPongDue                      // the pong timeout, or a look window past the last look
	// The states from here on are the session's last: nothing moves the
	// deadline to a later time.
	readEnding // the deadline endReadBy set, readUntil
	readEnded  // readEnding, after a read that timed out before readUntil
	readCapped // the watch's cap has passed: the read failed, the session ends
)

// pongLookWindow returns the look window of a session that pings every
// interval and waits timeout for a pong: a quarter of the timeout, or less
// when pings are so rare that a client answering each at once could
// reach the look; 0 (no watch) when that is shorter than minLookWindow.
func pongLookWindow(interval, timeout time.Duration) time.Duration {
	if w := min(timeout/4, (timeout-interval)/2); w >= minLookWindow {
		return w
	}
	return 0
}

// watchPongs sets the reader's first deadline: the pong timeout, watched
// with the given look window (0: not watched) where the connection allows.
// It is called before the reader and the writer start, and makes no system
// call: a socket whose acknowledgements cannot be read after all (a
// kernel that refuses TCP_INFO) is watched as not taking data.
func (c *batchConn) watchPongs(timeout, window time.Duration) error {
	if !acksVisible(c.Conn) {
		window = 0
	}
	c.rmu.Lock()
	c.pongWindow = window
	c.rmu.Unlock()
	return c.pong(timeout)
}

// pong moves the reader's deadline to the pong timeout from now, unless
// the session is ending (endReadBy). The reader calls it on each pong.
func (c *batchConn) pong(timeout time.Duration) error {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	now := time.Now()
	switch {
	case c.readState >= readEnding:
		return nil
	case c.pongWindow > 0:
		c.readState = readLook
		c.readUntil = now.Add(pongWatchCap * timeout).UnixNano()
		return c.Conn.SetReadDeadline(now.Add(timeout - c.pongWindow))
	}
	c.readState = readPongTimeout
	return c.Conn.SetReadDeadline(now.Add(timeout))
}

// endReadBy makes t the reader's last deadline: neither a pong nor the
// watch moves it afterwards.
func (c *batchConn) endReadBy(t time.Time) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	if c.readState != readCapped { // the reader has failed already: keep its reason
		c.readState = readEnding
	}
	c.readUntil = t.UnixNano()
	c.Conn.SetReadDeadline(t)
}

// pongCapped reports whether the watch's cap ended the reader: the client
// kept taking data, but answered no ping for pongWatchCap pong timeouts.
func (c *batchConn) pongCapped() bool {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	return c.readState == readCapped
}

// Read reads from the connection, ahead of p when it can (see readAhead);
// when the read deadline passes, the pong watch decides whether the reader
// goes on waiting. Only the session's reader calls it.
func (c *batchConn) Read(p []byte) (int, error) {
	if a := c.ahead; a != nil {
		n, held := a.take(p)
		if !held {
			c.ahead = nil
		}
		return n, nil
	}
	for {
		n, err := c.readOnce(p)
		if n > 0 || err == nil || !errors.Is(err, os.ErrDeadlineExceeded) || !c.lookAtPongDeadline() {
			return n, err
		}
	}
}

// readOnce reads from the network once: into a read-ahead buffer when p
// is smaller than one and the connection is a TCP socket, else into p.
func (c *batchConn) readOnce(p []byte) (int, error) {
	if len(p) < readAheadSize {
		if a, n, ok, err := readAheadFrom(c.Conn); ok {
			if a == nil {
				return 0, err
			}
			a.r, a.w = 0, n
			m, held := a.take(p)
			if held {
				c.ahead = a
			}
			return m, err
		}
	}
	return c.Conn.Read(p)
}

// lookAtPongDeadline is called by the reader when its deadline has
// passed; it reports whether the reader is to read again: the watch has
// moved the deadline, the client having taken data since the last look,
// or the deadline that passed was one set before endReadBy's.
func (c *batchConn) lookAtPongDeadline() bool {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	switch c.readState {
	case readLook:
		_, hi, ok := c.dataAcked()
		if !ok {
			c.readState = readPongTimeout // the rest of the pong timeout, unwatched
		} else {
			c.readState, c.dataRef = readPongDue, hi
		}
	case readPongDue:
		lo, hi, ok := c.dataAcked()
		if !ok || lo <= c.dataRef {
			return false
		}
		if time.Now().UnixNano() >= c.readUntil {
			c.readState = readCapped
			return false
		}
		c.dataRef = hi
	case readEnding:
		// The writer ended the session just as an earlier deadline (a
		// look's) passed: the reader waits for the client's close frame
		// until readUntil, as it would have. Once only, so that a wall
		// clock set back cannot make the reader spin on a deadline the
		// runtime's monotonic clock has seen pass.
		if time.Now().UnixNano() >= c.readUntil {
			return false
		}
		c.readState = readEnded
		return c.Conn.SetReadDeadline(time.Unix(0, c.readUntil)) == nil
	default:
		return false
	}
	// One look window on, never past the cap.
	next := min(time.Now().Add(c.pongWindow).UnixNano(), c.readUntil)
	return c.Conn.SetReadDeadline(time.Unix(0, next)) == nil
}

// dataAcked returns how many bytes of data (all but what ctrl counts) the
// client's kernel has acknowledged: at least lo, at most hi.
func (c *batchConn) dataAcked() (lo, hi int64, ok bool) {
	// The control frames in the kernel by now: read before the socket,
	// so that none is counted that may not be there yet.
	done := int64(c.ctrl.Load()) - int64(c.ctrlPending.Load())
	acked, queued, ok := ackedAndQueued(c.Conn)
	if !ok {
		return 0, 0, false
	}
	// Every control frame that may be in the kernel by now: read after.
	started := int64(c.ctrl.Load())
	// The kernel has acknowledged every control frame at most, and those
	// outside its queue at least.
	return acked - started, acked - max(0, done-queued), true
}
