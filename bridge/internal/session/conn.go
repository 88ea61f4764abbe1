package session

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// Conn is an upgraded WebSocket connection whose writes can be batched.
type Conn struct {
	ws    *websocket.Conn
	batch *batchConn
}

// Upgrade upgrades an HTTP request to a WebSocket whose writes the session
// writer can batch.
//
// gorilla/websocket writes every frame straight to the network connection,
// one system call per frame, which caps throughput of a busy stream. Upgrade
// therefore hands gorilla a network connection that, while the writer has a
// batch open, collects writes in a pooled buffer and sends them in one write
// when the batch ends; the writer frames its text messages into that buffer
// itself. Outside a batch (the handshake, pongs written by the reader)
// writes go straight through. Since gorilla then writes only control
// frames, u may well have a WriteBufferPool, so that no connection holds a
// write buffer.
func Upgrade(u *websocket.Upgrader, w http.ResponseWriter, r *http.Request, h http.Header) (*Conn, error) {
	hw := &hijackWriter{ResponseWriter: w}
	ws, err := u.Upgrade(hw, r, h)
	if err != nil {
		return nil, err
	}
	return &Conn{ws: ws, batch: hw.conn}, nil
}

// ReadBufferSize is the read buffer the bridge's upgrader gives each
// connection: gorilla/websocket's least, where 0 would keep the hijacked
// HTTP connection's buffer of 4 KiB for the connection's life; frames
// larger than that are read straight into the message. Either way gorilla
// reads through the connection Upgrade hands it (v1.5.3 resets the
// hijacked reader onto it), which the pong watch (see pongs.go) and the
// close grace need: were the reads to go straight to the network
// connection, the watch would silently be off. TestUpgradeReadsThroughConn
// checks both sizes.
const ReadBufferSize = 256

// readAheadSize is the size of the read-ahead buffers (see readAhead).
const readAheadSize = 4 << 10

// readAhead holds what one read of the network brought in beyond what
// gorilla's read buffer (ReadBufferSize) asked for. On a TCP socket a read
// smaller than readAheadSize takes a pooled readAhead only once the socket
// is readable, reads what it holds, and the reads that follow are served
// from it until it has been taken, when it goes back to the pool: a busy
// client's frames come in with one system call per readAheadSize bytes
// rather than one per ReadBufferSize bytes, while an idle session, whose
// reader waits for the socket, holds no buffer.
type readAhead struct {
	b    [readAheadSize]byte
	r, w int // the bytes not yet taken are b[r:w]
}

var readAheads = sync.Pool{New: func() any { return new(readAhead) }}

// take copies what p has room for out of a, and gives a back to the pool
// once it has all been taken; it reports whether a is still held.
func (a *readAhead) take(p []byte) (n int, held bool) {
	n = copy(p, a.b[a.r:a.w])
	a.r += n
	if a.r == a.w {
		readAheads.Put(a)
		return n, false
	}
	return n, true
}

// WebSocket returns the underlying connection.
func (c *Conn) WebSocket() *websocket.Conn { return c.ws }

// hijackWriter wraps the ResponseWriter so that gorilla's Hijack gets the
// batching connection.
type hijackWriter struct {
	http.ResponseWriter
	conn *batchConn
}

func (h *hijackWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, brw, err := http.NewResponseController(h.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, fmt.Errorf("session: hijack: %w", err)
	}
	h.conn = &batchConn{Conn: c}
	return h.conn, brw, nil
}

func (h *hijackWriter) Unwrap() http.ResponseWriter { return h.ResponseWriter }

// maxBatchBuffer bounds the batch buffer: a batch larger than this is
// written out in pieces, so a burst of large frames costs memory in
// proportion to this, not to the frames.
const maxBatchBuffer = 64 << 10

// batchBuffers holds the buffers of batches: a connection holds one only
// while a batch is open, so an idle connection holds none.
var batchBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 4<<10); return &b }}

// batchConn is a net.Conn whose writes are collected while a batch is open.
// Writes may come from the writer goroutine and, for control frames, from
// the reader; the mutex serialises them.
//
// The writer frames its text messages itself ([batchConn.writeText]),
// straight into the batch buffer: gorilla would copy each message into a
// write buffer of its own first, held by every connection. Gorilla still
// writes the handshake and the control frames (ping, pong, close), each in
// one Write call, which the mutex keeps whole.
//
// Every connection holds one, so its fields are ordered, and the write
// deadline kept in nanoseconds, to fit the 128-byte size class.
type batchConn struct {
	net.Conn

	mu       sync.Mutex
	buf      []byte        // the open batch's frames; nil outside a batch
	bufp     *[]byte       // the pooled slice buf came from
	timeout  time.Duration // each network write's deadline, from its start; 0: none
	deadline int64         // the write deadline last set on Conn, in Unix nanoseconds; 0: none
	watch    *progressWatch

	// ctrl counts the bytes written through Write, from the handshake
	// on: the control frames, never the data messages (writeText). Of
	// them, ctrlPending have not reached the kernel yet: they wait in the
	// batch buffer, or a Write of them runs. Both grow before the bytes
	// reach the kernel, so that the pong watch (see pongs.go), which
	// reads them without mu, never counts a byte of a control frame as
	// one of data.
	ctrl atomic.Uint64

	// The reader's deadline (see pongs.go); rmu guards these fields and
	// the setting of the read deadline. It is never held during I/O.
	rmu        sync.Mutex
	pongWindow time.Duration // the pong watch's look window; 0: no watch
	dataRef    int64         // bytes of data the client had taken at most, at the last look
	// readUntil is, in Unix nanoseconds, the latest the reader's deadline
	// may be: while watched, the cap of the watch (pongWatchCap after the
	// last pong); once ending, the deadline endReadBy set.
	readUntil int64

	ctrlPending atomic.Uint32
	// unlooked bounds the bytes the socket's send queue holds: what it
	// held when last looked at, plus what was written since (at most
	// MaxUint16). See watchLocked.
	unlooked  uint16
	batching  bool
	readState readState

	// ahead holds bytes read from the network that the reader has yet to
	// take, or is nil. Only the reader uses it.
	ahead *readAhead
}

// Write writes p, which gorilla/websocket sends: the handshake's response
// and the control frames.
func (c *batchConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.batching {
		if err := c.reserveLocked(len(p)); err != nil {
			return 0, err
		}
		if len(p) <= maxBatchBuffer {
			c.countControl(len(p)) // until the flush
			c.buf = append(c.buf, p...)
			return len(p), nil
		}
		// The buffer is empty: reserveLocked flushed it.
	}
	c.countControl(len(p))
	n, err := c.Conn.Write(p)
	c.wroteLocked(n)
	c.ctrlPending.Store(0)
	return n, err
}

// countControl counts n bytes of control frames about to be written.
func (c *batchConn) countControl(n int) {
	c.ctrlPending.Add(uint32(n))
	c.ctrl.Add(uint64(n))
}

// SetWriteDeadline sets the write deadline unless it is set already:
// gorilla sets it before each frame it writes.
func (c *batchConn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.setDeadlineLocked(t)
}

// SetDeadline sets both deadlines, keeping track of the write deadline.
func (c *batchConn) SetDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.deadline = unixNano(t)
	return c.Conn.SetDeadline(t)
}

func (c *batchConn) setDeadlineLocked(t time.Time) error {
	if n := unixNano(t); n != c.deadline {
		c.deadline = n
		return c.Conn.SetWriteDeadline(t)
	}
	return nil
}

// unixNano returns t in Unix nanoseconds, 0 for the zero time (no deadline).
func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// reserveLocked makes room for n more bytes in the batch buffer, flushing
// it when they would not fit, and growing it, to maxBatchBuffer at most,
// so that the appends that follow never grow it themselves; when n alone
// exceeds maxBatchBuffer the buffer is left empty for the caller to write
// past it.
func (c *batchConn) reserveLocked(n int) error {
	if len(c.buf)+n > maxBatchBuffer {
		if err := c.flushLocked(); err != nil {
			return err
		}
	}
	if n > maxBatchBuffer {
		return nil
	}
	if c.buf == nil {
		c.bufp = batchBuffers.Get().(*[]byte)
		c.buf = (*c.bufp)[:0]
	}
	if need := len(c.buf) + n; need > cap(c.buf) {
		// Grown here, never past maxBatchBuffer: append would grow a
		// buffer of 57344 bytes to 73728, which end then drops rather
		// than pool, so that every full batch of a busy stream would
		// grow a new buffer from 4 KiB, a dozen allocations.
		b := make([]byte, len(c.buf), min(max(2*cap(c.buf), need), maxBatchBuffer))
		copy(b, c.buf)
		c.buf = b
	}
	return nil
}

// writeText writes p as one unmasked, uncompressed text message (RFC 6455
// section 5.2, as gorilla writes it) into the open batch.
func (c *batchConn) writeText(p []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if n := textHeaderLen(len(p)) + len(p); c.batching && n <= maxBatchBuffer {
		if err := c.reserveLocked(n); err != nil {
			return err
		}
		c.buf = appendTextHeader(c.buf, len(p))
		c.buf = append(c.buf, p...)
		return nil
	}
	// Too big for the batch buffer: what it holds goes first, then the
	// message, the mutex keeping a pong from slipping in between. The
	// message goes in pieces of at most maxBatchBuffer, each under a
	// deadline of its own, so that a client reading a large message
	// steadily is not taken for one that reads nothing.
	if err := c.flushLocked(); err != nil {
		return err
	}
	// The header goes out from the batch buffer, which the flush has
	// emptied; outside a batch, which the session never writes in, from
	// one of its own.
	var h []byte
	if c.batching {
		if err := c.reserveLocked(maxTextHeader); err != nil {
			return err
		}
		h = appendTextHeader(c.buf[:0], len(p))
	} else {
		h = appendTextHeader(make([]byte, 0, maxTextHeader), len(p))
	}
	if err := c.sendLocked(h); err != nil {
		return err
	}
	for len(p) > 0 {
		n := min(len(p), maxBatchBuffer)
		if err := c.setDeadlineLocked(c.writeDeadline()); err != nil {
			return err
		}
		if err := c.sendLocked(p[:n]); err != nil {
			return err
		}
		p = p[n:]
	}
	return nil
}

// maxTextHeader is the longest header of a message the bridge sends.
const maxTextHeader = 10

// textHeaderLen returns the length of the header of a text message of n
// bytes.
func textHeaderLen(n int) int {
	switch {
	case n <= 125:
		return 2
	case n <= 0xffff:
		return 4
	}
	return maxTextHeader
}

// appendTextHeader appends the header of a text message of n bytes to b:
// FIN, the opcode, no mask, and the length.
func appendTextHeader(b []byte, n int) []byte {
	b = append(b, 0x80|websocket.TextMessage)
	switch {
	case n <= 125:
		return append(b, byte(n))
	case n <= 0xffff:
		return append(b, 126, byte(n>>8), byte(n))
	}
	b = append(b, 127)
	return binary.BigEndian.AppendUint64(b, uint64(n))
}

// sendLocked writes p to the network under the deadline set, which a
// progress watch moves while the client takes data (see progressWatch).
func (c *batchConn) sendLocked(p []byte) error {
	if w := c.watchLocked(len(p)); w != nil {
		defer w.stop()
	}
	n, err := c.Conn.Write(p)
	c.wroteLocked(n)
	return err
}

// writeDeadline is the deadline of a network write starting now.
func (c *batchConn) writeDeadline() time.Time {
	if c.timeout > 0 {
		return time.Now().Add(c.timeout)
	}
	return time.Time{}
}

// begin opens a batch. Each network write of the batch must be done within
// timeout of its start (0: no deadline): the deadline bounds one write, not
// the batch, which goes on for as long as frames keep coming, so a client
// that reads slowly but steadily is never taken for one that reads nothing.
func (c *batchConn) begin(timeout time.Duration) {
	c.mu.Lock()
	c.batching = true
	c.timeout = timeout
	c.mu.Unlock()
}

// end closes the batch, writes what it collected in one write, and gives
// the buffer back.
func (c *batchConn) end() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	err := c.flushLocked()
	c.batching = false
	if c.bufp != nil {
		if cap(c.buf) <= maxBatchBuffer {
			*c.bufp = c.buf[:0]
			batchBuffers.Put(c.bufp)
		}
		c.buf, c.bufp = nil, nil
	}
	return err
}

func (c *batchConn) flushLocked() error {
	if !c.batching {
		return nil
	}
	// Set before every network write of the batch: it bounds that write
	// (or, from writeText, the message written past the buffer), and a
	// pong written meanwhile may have set a deadline of its own.
	if err := c.setDeadlineLocked(c.writeDeadline()); err != nil {
		return err
	}
	if len(c.buf) == 0 {
		return nil
	}
	err := c.sendLocked(c.buf)
	c.buf = c.buf[:0]
	c.ctrlPending.Store(0) // the control frames of the batch are in the kernel now
	return err
}
