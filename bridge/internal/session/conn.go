package session

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"sync"

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
// batch open, collects writes in a buffer and sends them in one write when
// the batch ends. Outside a batch (the handshake, pongs written by the
// reader) writes go straight through.
func Upgrade(u *websocket.Upgrader, w http.ResponseWriter, r *http.Request, h http.Header) (*Conn, error) {
	hw := &hijackWriter{ResponseWriter: w}
	ws, err := u.Upgrade(hw, r, h)
	if err != nil {
		return nil, err
	}
	return &Conn{ws: ws, batch: hw.conn}, nil
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

// batchConn is a net.Conn whose writes are collected while a batch is open.
// Writes may come from the writer goroutine and, for control frames, from
// the reader; the mutex serialises them.
type batchConn struct {
	net.Conn

	mu       sync.Mutex
	batching bool
	buf      []byte
}

func (c *batchConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.batching {
		return c.Conn.Write(p)
	}
	if len(c.buf)+len(p) > maxBatchBuffer {
		if err := c.flushLocked(); err != nil {
			return 0, err
		}
		if len(p) > maxBatchBuffer {
			return c.Conn.Write(p)
		}
	}
	c.buf = append(c.buf, p...)
	return len(p), nil
}

// begin opens a batch.
func (c *batchConn) begin() {
	c.mu.Lock()
	c.batching = true
	c.mu.Unlock()
}

// end closes the batch and writes what it collected in one write.
func (c *batchConn) end() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.batching = false
	return c.flushLocked()
}

func (c *batchConn) flushLocked() error {
	if len(c.buf) == 0 {
		return nil
	}
	_, err := c.Conn.Write(c.buf)
	c.buf = c.buf[:0]
	return err
}
