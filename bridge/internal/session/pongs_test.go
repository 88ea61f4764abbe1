package session

import (
	"errors"
	"io"
	"net"
	"os"
	"runtime"
	"testing"
	"time"
)

// TestPongWatchCountsOnlyData: the pong watch moves the reader's deadline
// only when the client's kernel has acknowledged data since the last
// look, never for the control frames: a client that takes nothing but
// pings is not kept. Over TCP on loopback; the client reads everything,
// and each look waits until the send queue is empty, so that the kernel
// has acknowledged all that was written. (Linux only: elsewhere there is
// no watch.)
func TestPongWatchCountsOnlyData(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the pong watch needs tcp_info and SIOCOUTQ (Linux)")
	}
	client, server := tcpPair(t)
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		io.Copy(io.Discard, client)
	}()
	defer func() { client.Close(); <-copied }()

	c := &batchConn{Conn: server}
	if err := c.watchPongs(time.Hour, time.Minute); err != nil {
		t.Fatal(err)
	}
	if c.pongWindow != time.Minute || c.readState != readLook {
		t.Fatalf("a TCP connection: window %v, state %d; want it watched", c.pongWindow, c.readState)
	}
	ping := []byte{0x89, 0}
	pong := []byte{0x8a, 3, 'a', 'b', 'c'}
	// look waits until the client's kernel has acknowledged everything,
	// then looks as the reader does when its deadline passes.
	look := func() bool {
		t.Helper()
		for {
			if _, q, ok := ackedAndQueued(server); !ok {
				t.Fatal("cannot look at the socket")
			} else if q == 0 {
				break
			}
			runtime.Gosched()
		}
		return c.lookAtPongDeadline()
	}
	writeData := func(p []byte) {
		t.Helper()
		c.begin(time.Minute)
		err := c.writeText(p)
		c.Write(ping) // a ping queued in the batch
		if endErr := c.end(); err == nil {
			err = endErr
		}
		if err != nil {
			t.Fatal(err)
		}
	}

	writeData([]byte(`[0,"welcome"]`))
	if !look() { // the first look takes the reference
		t.Fatal("the first look did not move the deadline to the end of the pong timeout")
	}
	for range 3 {
		c.Write(ping)
		c.Write(pong)
	}
	if look() {
		t.Error("the deadline moved for a client that took nothing but control frames")
	}
	// Once the pong deadline has passed, it stays passed.
	if c.lookAtPongDeadline() {
		t.Error("a look after a failed one moved the deadline")
	}

	// A pong starts again; data taken since the reference moves the
	// deadline, control frames alone do not.
	c.pong(time.Hour)
	if !look() {
		t.Fatal("the first look after a pong did not move the deadline")
	}
	c.Write(ping)
	writeData([]byte(`[1000,"c",{}]`))
	if !look() {
		t.Error("the deadline did not move for a client that took data")
	}
	c.Write(ping)
	if look() {
		t.Error("the deadline moved for a client that took a ping since the last look")
	}

	// Past the watch's cap, data no longer moves the deadline: the
	// session ends, and says why.
	c.pong(time.Hour)
	if !look() {
		t.Fatal("the first look after a pong did not move the deadline")
	}
	c.readUntil = time.Now().UnixNano() // the cap, pongWatchCap hours on, has come
	writeData([]byte(`[1000,"c",{}]`))
	if look() {
		t.Error("the deadline moved past the watch's cap")
	}
	if !c.pongCapped() {
		t.Error("a session ended by the watch's cap does not say so")
	}
	c.endReadBy(time.Now().Add(time.Hour))
	if !c.pongCapped() {
		t.Error("endReadBy after the cap ended the reader forgot why")
	}

	// Once the session ends, the watch no longer moves the deadline: data
	// taken since the last look gives the reader no more than one more
	// read, until the ending deadline (see TestReadEndingRace).
	c = &batchConn{Conn: server}
	c.watchPongs(time.Hour, time.Minute)
	c.endReadBy(time.Now().Add(time.Hour))
	writeData([]byte(`[1000,"c",{}]`))
	if !look() || c.readState != readEnded {
		t.Errorf("a deadline passing before the ending one: state %d, want one more read until the ending deadline", c.readState)
	}
	writeData([]byte(`[1000,"c",{}]`))
	if look() {
		t.Error("the deadline moved again after endReadBy")
	}
}

// TestPongLookWindow: a quarter of the pong timeout, less when pings are
// rare, and no watch when that is under minLookWindow: a ping interval of
// 1 s and a pong timeout of 1001 ms would look every 500 µs.
func TestPongLookWindow(t *testing.T) {
	for _, tc := range []struct {
		name              string
		interval, timeout time.Duration
		want              time.Duration
	}{
		{"defaults", 25 * time.Second, time.Minute, 15 * time.Second},
		{"rare pings", 50 * time.Second, time.Minute, 5 * time.Second},
		{"at the floor", 100 * time.Millisecond, 400 * time.Millisecond, 100 * time.Millisecond},
		{"a quarter under the floor", 10 * time.Millisecond, 399 * time.Millisecond, 0},
		{"pings too rare for the floor", time.Second, 1001 * time.Millisecond, 0},
		{"timeout not past the interval", time.Second, time.Second, 0},
		{"timeout under the interval", 2 * time.Second, time.Second, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := pongLookWindow(tc.interval, tc.timeout); got != tc.want {
				t.Errorf("pongLookWindow(%v, %v) = %v, want %v", tc.interval, tc.timeout, got, tc.want)
			}
		})
	}
}

// scriptConn is a net.Conn whose reads follow a script, and which records
// the read deadlines set on it; nothing else of it is called.
type scriptConn struct {
	net.Conn
	t         *testing.T
	reads     []func() (int, error)
	deadlines []time.Time
}

func (s *scriptConn) Read([]byte) (int, error) {
	if len(s.reads) == 0 {
		s.t.Fatal("a read past the script")
	}
	f := s.reads[0]
	s.reads = s.reads[1:]
	return f()
}

func (s *scriptConn) SetReadDeadline(t time.Time) error {
	s.deadlines = append(s.deadlines, t)
	return nil
}

// TestReadEndingRace: when the writer ends the session (endReadBy) just as
// an earlier deadline passes, the reader still waits for the client until
// the ending deadline, once; a deadline that passed after it ends the read.
// The script puts endReadBy between the deadline's passing and the look.
func TestReadEndingRace(t *testing.T) {
	timedOut := func() (int, error) { return 0, os.ErrDeadlineExceeded }
	for _, tc := range []struct {
		name  string
		until time.Duration // of endReadBy, from now
		after []func() (int, error)
		want  error
		reads int
	}{
		{"the close frame comes in the grace", time.Hour, []func() (int, error){func() (int, error) { return 1, nil }}, nil, 2},
		{"the grace passes", time.Hour, []func() (int, error){timedOut}, os.ErrDeadlineExceeded, 2},
		{"the ending deadline passed first", -time.Second, nil, os.ErrDeadlineExceeded, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sc := &scriptConn{t: t}
			c := &batchConn{Conn: sc, pongWindow: time.Minute, readState: readLook}
			until := time.Now().Add(tc.until)
			sc.reads = append([]func() (int, error){func() (int, error) {
				c.endReadBy(until) // the writer, as the look's deadline passes
				return timedOut()
			}}, tc.after...)
			_, err := c.Read(make([]byte, 1))
			if !errors.Is(err, tc.want) && !(err == nil && tc.want == nil) {
				t.Errorf("Read: %v, want %v", err, tc.want)
			}
			if n := 1 + len(tc.after) - len(sc.reads); n != tc.reads {
				t.Errorf("%d reads of the connection, want %d", n, tc.reads)
			}
			if last := sc.deadlines[len(sc.deadlines)-1]; !last.Equal(time.Unix(0, until.UnixNano())) {
				t.Errorf("the last read deadline %v, want the ending one, %v", last, until)
			}
		})
	}
}
