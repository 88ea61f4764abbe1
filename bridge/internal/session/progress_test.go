package session

import (
	"io"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestSlowReaderKept: a client that reads steadily, but far slower than
// the bridge writes, is not taken for one that reads nothing, however long
// each network write waits for the kernel to take it; once it stops
// reading, the write fails with a timeout. Over TCP on loopback, where a
// full send buffer wakes its writer only once about half of it has gone:
// the client takes 800 KB/s, and a write into a full buffer waits for
// seconds, longer than the no-read timeout of 1 s here (a timeout that a
// busy machine cannot stretch by delaying the watch's timer). (Linux
// only: elsewhere the watch has no send queue to look at.)
func TestSlowReaderKept(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the progress watch needs SIOCOUTQ (Linux)")
	}
	client, server := tcpPair(t)

	stop := make(chan struct{})
	read := make(chan int64, 1)
	go func() { // 4 KiB every 5 ms, until told to stop
		var n int64
		buf := make([]byte, 4<<10)
		defer func() { read <- n }()
		for {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
			m, err := io.ReadFull(client, buf)
			n += int64(m)
			if err != nil {
				return
			}
		}
	}()

	const timeout = time.Second
	c := &batchConn{Conn: server}
	msg := []byte(strings.Repeat("x", maxBatchBuffer))
	var written int64
	// Write until the watch has moved the deadline eight times: the
	// writes have waited for the client for over two timeouts in all.
	for c.watch == nil || c.watch.deadlinesMoved() < 8 {
		if written > 64<<20 {
			t.Fatalf("%d bytes written to a client reading 800 KB/s, and no write waited", written)
		}
		c.begin(timeout)
		err := c.writeText(msg)
		if endErr := c.end(); err == nil {
			err = endErr
		}
		if err != nil {
			close(stop)
			<-read
			t.Fatalf("a client reading 800 KB/s: a write failed after %d bytes: %v", written, err)
		}
		written += int64(len(msg))
	}
	close(stop)
	got := <-read
	// Now it reads nothing: the next writes fail once the buffers are full.
	for {
		c.begin(timeout)
		err := c.writeText(msg)
		c.end()
		if err != nil {
			if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
				t.Errorf("a client that stopped reading: write error %v, want a timeout", err)
			}
			break
		}
	}
	t.Logf("the client read %d bytes; the watch moved the deadline %d times", got, c.watch.deadlinesMoved())
}

// tcpPair returns the two ends of a TCP connection over loopback, closed
// when the test ends.
func tcpPair(t *testing.T) (client, server net.Conn) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer lis.Close()
	client, err = net.Dial("tcp", lis.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	server, err = lis.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { server.Close() })
	return client, server
}
