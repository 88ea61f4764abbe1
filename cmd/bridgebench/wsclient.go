package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/gorilla/websocket"
)

// Frame prefixes the client recognises without decoding JSON. The bridge
// writes compact JSON (PROTOCOL.md §2 shapes, no spaces).
var (
	prefixWelcome    = []byte(`[0,`)
	prefixCallResult = []byte(`[3,"`)
	prefixCallError  = []byte(`[4,"`)
	prefixProgress   = []byte(`[1000,"`)
)

// Procedures of the benchmark's upstream.
const (
	procUnary  = "bench.v1.BenchService.Unary"
	procStream = "bench.v1.BenchService.Stream"
)

// handshakeTimeout bounds a WebSocket handshake and the WELCOME after it.
const handshakeTimeout = 30 * time.Second

// A wsClient is a WAMP v1 session with the bridge, read cheaply: frames
// land in one reused buffer and are told apart by their prefix. One
// goroutine may read and another write at the same time.
type wsClient struct {
	conn *websocket.Conn
	buf  []byte
}

// dialWAMP opens a session offering the subprotocol "wamp" and reads its
// WELCOME. bufSize is the size of the read and write buffers of the
// connection (small for the many idle sessions of the memory figure).
func dialWAMP(ctx context.Context, url string, bufSize int) (*wsClient, error) {
	d := websocket.Dialer{
		Subprotocols:     []string{"wamp"},
		HandshakeTimeout: handshakeTimeout,
		ReadBufferSize:   bufSize,
		WriteBufferSize:  bufSize,
	}
	conn, resp, err := d.DialContext(ctx, url, nil)
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("dial %s: %w (HTTP %s)", url, err, resp.Status)
		}
		return nil, fmt.Errorf("dial %s: %w", url, err)
	}
	c := &wsClient{conn: conn}
	_ = conn.SetReadDeadline(time.Now().Add(handshakeTimeout))
	f, err := c.read()
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("read WELCOME: %w", err)
	}
	if !bytes.HasPrefix(f, prefixWelcome) {
		conn.Close()
		return nil, fmt.Errorf("first frame is not WELCOME: %s", clip(f))
	}
	_ = conn.SetReadDeadline(time.Time{})
	return c, nil
}

// read returns the next message; it stays valid until the next read.
func (c *wsClient) read() ([]byte, error) {
	_, r, err := c.conn.NextReader()
	if err != nil {
		return nil, err
	}
	c.buf = c.buf[:0]
	for {
		if len(c.buf) == cap(c.buf) {
			c.buf = append(c.buf, 0)[:len(c.buf)]
		}
		n, err := r.Read(c.buf[len(c.buf):cap(c.buf)])
		c.buf = c.buf[:len(c.buf)+n]
		if err == io.EOF {
			return c.buf, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// send writes one text message.
func (c *wsClient) send(frame []byte) error {
	return c.conn.WriteMessage(websocket.TextMessage, frame)
}

// close closes the connection without a closing handshake.
func (c *wsClient) close() error { return c.conn.Close() }

// appendUnaryCall appends `[2,"u<seq>","bench.v1.BenchService.Unary",{"seq":<seq>}]`.
func appendUnaryCall(b []byte, seq int64) []byte {
	b = append(b, `[2,"u`...)
	b = strconv.AppendInt(b, seq, 10)
	b = append(b, `","`+procUnary+`",{"seq":`...)
	b = strconv.AppendInt(b, seq, 10)
	return append(b, "}]"...)
}

// appendCallID appends `"u<seq>",`, what follows the type id of the
// frames answering appendUnaryCall(seq).
func appendCallID(b []byte, seq int64) []byte {
	b = append(b, `"u`...)
	b = strconv.AppendInt(b, seq, 10)
	return append(b, `",`...)
}

// unexpected returns an error for a frame the benchmark did not expect.
func unexpected(what string, f []byte) error {
	if bytes.HasPrefix(f, prefixCallError) {
		return fmt.Errorf("%s: CALLERROR: %s", what, clip(f))
	}
	return fmt.Errorf("%s: unexpected frame %s", what, clip(f))
}

// clip returns f for an error message, shortened to 300 bytes.
func clip(f []byte) string {
	if len(f) > 300 {
		return string(f[:300]) + "..."
	}
	return string(f)
}
