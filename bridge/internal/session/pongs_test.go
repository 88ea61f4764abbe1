package session

import (
	"io"
	"net"
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
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer lis.Close()
	client, err := net.Dial("tcp", lis.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	server, err := lis.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	go io.Copy(io.Discard, client)

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

	// Once the session ends, nothing moves the deadline.
	c.pong(time.Hour)
	c.endReadBy(time.Now().Add(time.Hour))
	writeData([]byte(`[1000,"c",{}]`))
	if look() {
		t.Error("the deadline moved after endReadBy")
	}
}
