package session

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// countingConn counts the writes that reach the network.
type countingConn struct {
	net.Conn
	writes atomic.Int64
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(p)
}

// upgraded returns the server side of a WebSocket made by Upgrade, with its
// network writes counted, and the client side.
func upgraded(t *testing.T) (*Conn, *countingConn, *websocket.Conn) {
	t.Helper()
	return upgradedWith(t, &websocket.Upgrader{ReadBufferSize: ReadBufferSize})
}

// upgradedWith is upgraded with the upgrader u.
func upgradedWith(t *testing.T, u *websocket.Upgrader) (*Conn, *countingConn, *websocket.Conn) {
	t.Helper()
	conns := make(chan *Conn, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := Upgrade(u, w, r, nil)
		if err != nil {
			t.Errorf("Upgrade: %v", err)
			close(conns)
			return
		}
		conns <- c
	}))
	t.Cleanup(srv.Close)
	client, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { client.Close() })
	c, ok := <-conns
	if !ok {
		t.FailNow()
	}
	t.Cleanup(func() { c.ws.Close() })
	counter := &countingConn{Conn: c.batch.Conn}
	c.batch.Conn = counter
	return c, counter, client
}

// TestWriteBatchFlushesOnce shows that the writer sends every queued frame
// in one network write, and that each frame stays one WebSocket message.
func TestWriteBatchFlushesOnce(t *testing.T) {
	conn, counter, client := upgraded(t)
	const n = 20
	s := &session{cfg: withDefaults(Config{SendQueue: n}), conn: conn, queue: make(chan *frame, n)}
	for i := 1; i < n; i++ {
		s.queue <- &frame{b: fmt.Appendf(nil, `[1000,"c",%d]`, i)}
	}
	if err := s.writeBatch(t.Context(), &frame{b: []byte(`[1000,"c",0]`)}, nil); err != nil {
		t.Fatalf("writeBatch: %v", err)
	}
	if got := counter.writes.Load(); got != 1 {
		t.Errorf("network writes for %d queued frames = %d, want 1", n, got)
	}
	for i := range n {
		typ, data, err := client.ReadMessage()
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if want := fmt.Sprintf(`[1000,"c",%d]`, i); typ != websocket.TextMessage || string(data) != want {
			t.Fatalf("frame %d = %d %s, want text %s", i, typ, data, want)
		}
	}
}

// TestWriteBatchYields shows that the writer, while other calls run,
// yields once when the queues run dry and puts the frames queued during
// the yield (by call goroutines, on one processor) into the same network
// write; that it yields once per batch; and that with one call running,
// whose frame it has just taken, it does not yield at all.
func TestWriteBatchYields(t *testing.T) {
	conn, counter, client := upgraded(t)
	const n = 4
	s := &session{cfg: withDefaults(Config{SendQueue: n}), conn: conn, queue: make(chan *frame, n)}
	s.running.Store(n)
	yields := 0
	s.yield = func() {
		yields++
		if yields > 1 {
			return
		}
		for i := 1; i < n; i++ {
			s.queue <- &frame{b: fmt.Appendf(nil, `[3,"c%d",null]`, i)}
		}
	}
	if err := s.writeBatch(t.Context(), &frame{b: []byte(`[3,"c0",null]`)}, nil); err != nil {
		t.Fatalf("writeBatch: %v", err)
	}
	if yields != 1 {
		t.Errorf("yields = %d, want 1", yields)
	}
	if got := counter.writes.Load(); got != 1 {
		t.Errorf("network writes for a frame and %d queued during the yield = %d, want 1", n-1, got)
	}
	for i := range n {
		typ, data, err := client.ReadMessage()
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if want := fmt.Sprintf(`[3,"c%d",null]`, i); typ != websocket.TextMessage || string(data) != want {
			t.Fatalf("frame %d = %d %s, want text %s", i, typ, data, want)
		}
	}

	// A yield that brings nothing ends the batch with what it has.
	if err := s.writeBatch(t.Context(), &frame{b: []byte(`[3,"d",null]`)}, nil); err != nil {
		t.Fatalf("writeBatch: %v", err)
	}
	if yields != 2 {
		t.Errorf("yields after a second batch = %d, want 2", yields)
	}
	if got := counter.writes.Load(); got != 2 {
		t.Errorf("network writes after a second batch = %d, want 2", got)
	}
	if _, data, err := client.ReadMessage(); err != nil || string(data) != `[3,"d",null]` {
		t.Fatalf("second batch: read %s, %v; want [3,\"d\",null]", data, err)
	}

	s.running.Store(1)
	if err := s.writeBatch(t.Context(), &frame{b: []byte(`[3,"e",null]`)}, nil); err != nil {
		t.Fatalf("writeBatch: %v", err)
	}
	if yields != 2 {
		t.Errorf("yields with one call running = %d, want none (still 2)", yields)
	}
	if _, data, err := client.ReadMessage(); err != nil || string(data) != `[3,"e",null]` {
		t.Fatalf("third batch: read %s, %v; want [3,\"e\",null]", data, err)
	}
}

// TestWriterYield: the writer yields on one processor only.
func TestWriterYield(t *testing.T) {
	if writerYield(1) == nil {
		t.Error("writerYield(1) = nil, want runtime.Gosched")
	}
	for _, procs := range []int{2, 8} {
		if writerYield(procs) != nil {
			t.Errorf("writerYield(%d) != nil, want nil", procs)
		}
	}
}

// TestBatchConnWritesThroughOutsideBatch shows that writes outside a batch
// (the handshake, pongs from the reader) are not held back.
func TestBatchConnWritesThroughOutsideBatch(t *testing.T) {
	conn, counter, client := upgraded(t)
	if err := conn.ws.WriteMessage(websocket.TextMessage, []byte(`[0]`)); err != nil {
		t.Fatal(err)
	}
	if got := counter.writes.Load(); got != 1 {
		t.Errorf("network writes = %d, want 1", got)
	}
	if _, data, err := client.ReadMessage(); err != nil || string(data) != `[0]` {
		t.Fatalf("read %q, %v", data, err)
	}
}

// TestBatchConnBoundsBuffer shows that a batch larger than maxBatchBuffer
// is written in pieces instead of growing the buffer.
func TestBatchConnBoundsBuffer(t *testing.T) {
	conn, _, client := upgraded(t)
	big := []byte(`"` + strings.Repeat("x", maxBatchBuffer) + `"`)
	done := make(chan error, 1)
	go func() {
		for range 3 {
			if _, data, err := client.ReadMessage(); err != nil || len(data) != len(big) {
				done <- fmt.Errorf("read %d bytes, %v", len(data), err)
				return
			}
		}
		done <- nil
	}()
	conn.batch.begin(0)
	for range 3 {
		if err := conn.ws.WriteMessage(websocket.TextMessage, big); err != nil {
			t.Fatal(err)
		}
		if got := cap(conn.batch.buf); got > maxBatchBuffer {
			t.Fatalf("batch buffer capacity %d exceeds %d", got, maxBatchBuffer)
		}
	}
	if err := conn.batch.end(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestTruncateKeepsUTF8(t *testing.T) {
	for _, tc := range []struct {
		in   string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"abcdef", 3, "abc"},
		{"aé", 2, "a"}, // é is two bytes: not split
		{"ééé", 5, "éé"},
	} {
		if got := truncate(tc.in, tc.n); got != tc.want {
			t.Errorf("truncate(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
	}
}

// TestWriteTextFraming shows that the frames the writer builds itself read
// back as the same text messages, at every length encoding (7-bit, 16-bit
// and 64-bit) and past the batch buffer's bound.
func TestWriteTextFraming(t *testing.T) {
	conn, _, client := upgraded(t)
	sizes := []int{0, 1, 125, 126, 0xffff, 0x10000, maxBatchBuffer + 1}
	done := make(chan error, 1)
	go func() {
		for _, n := range sizes {
			typ, data, err := client.ReadMessage()
			if err != nil || typ != websocket.TextMessage || len(data) != n || strings.Trim(string(data), "x") != "" {
				done <- fmt.Errorf("message of %d bytes: read type %d, %d bytes, %v", n, typ, len(data), err)
				return
			}
		}
		done <- nil
	}()
	conn.batch.begin(time.Minute)
	for _, n := range sizes {
		if err := conn.batch.writeText([]byte(strings.Repeat("x", n))); err != nil {
			t.Fatal(err)
		}
	}
	if err := conn.batch.end(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if conn.batch.buf != nil {
		t.Error("the connection holds a batch buffer after the batch ended")
	}
}

// TestUpgradeReadsThroughConn: gorilla reads the frames of a connection
// that Upgrade made through batchConn, where the pong watch and the close
// grace live, with the bridge's ReadBufferSize and with 0, where gorilla
// reuses the hijacked HTTP connection's bufio.Reader (resetting it onto
// the connection Upgrade hands it). Were the reads to go straight to the
// network connection, the watch would silently be off. The probe: the
// network connection's read deadline has passed, while batchConn, ending,
// has the reader wait until its ending deadline, an hour on.
func TestUpgradeReadsThroughConn(t *testing.T) {
	for _, tc := range []struct {
		name string
		size int
	}{
		{"ReadBufferSize", ReadBufferSize},
		{"no ReadBufferSize", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _, client := upgradedWith(t, &websocket.Upgrader{ReadBufferSize: tc.size})
			c.batch.endReadBy(time.Now().Add(time.Hour))
			c.batch.Conn.SetReadDeadline(time.Now())
			if err := client.WriteMessage(websocket.TextMessage, []byte("[]")); err != nil {
				t.Fatal(err)
			}
			if _, _, err := c.ws.ReadMessage(); err != nil {
				t.Errorf("a read past batchConn: %v; want it through batchConn, which would have waited", err)
			}
		})
	}
}

// discardConn is a network connection that takes every write at once.
type discardConn struct{ net.Conn }

func (discardConn) Write(p []byte) (int, error) { return len(p), nil }

// TestBatchBufferGrowth: however full a batch gets, and whatever buffer
// the pool gave it, the batch buffer never grows past maxBatchBuffer, so
// that end gives it back to the pool: a buffer grown past it is dropped,
// and every full batch of a busy stream would grow a new one from 4 KiB.
// Messages (writeText) and control frames (Write) alike.
func TestBatchBufferGrowth(t *testing.T) {
	for _, start := range []int{0, 4 << 10, 40960, 57344} {
		for _, size := range []int{153, 1000, 4096, 30000} {
			for _, control := range []bool{false, true} {
				c := &batchConn{Conn: discardConn{}}
				c.begin(0)
				if start > 0 {
					b := make([]byte, 0, start)
					c.buf, c.bufp = b, &b
				}
				frame := make([]byte, size)
				for written := 0; written < 2*maxBatchBuffer; written += size {
					var err error
					if control {
						_, err = c.Write(frame)
					} else {
						err = c.writeText(frame)
					}
					if err != nil {
						t.Fatal(err)
					}
					if got := cap(c.buf); got > maxBatchBuffer {
						t.Fatalf("a buffer of %d bytes at first, frames of %d (control %v): capacity %d after %d bytes, over %d",
							start, size, control, got, written+size, maxBatchBuffer)
					}
				}
				if err := c.end(); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
}

// TestReadAheadOnlyTCP: a connection that is not a TCP socket (a pipe
// here; TLS, which buffers its own records) is read directly, p at a time.
func TestReadAheadOnlyTCP(t *testing.T) {
	server, client := net.Pipe()
	defer server.Close()
	defer client.Close()
	c := &batchConn{Conn: server}
	go client.Write([]byte("0123456789"))
	p := make([]byte, 4)
	n, err := c.Read(p)
	if err != nil || string(p[:n]) != "0123" || c.ahead != nil {
		t.Errorf("Read: %q, %v, read ahead %v; want \"0123\" read directly", p[:n], err, c.ahead != nil)
	}
	rest := make([]byte, 6)
	if _, err := io.ReadFull(c, rest); err != nil || string(rest) != "456789" {
		t.Errorf("the rest: %q, %v", rest, err)
	}
}
