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

// TestSmallWritesLookRarely: a session that answers calls one at a time
// with small frames looks at the send queue (a system call) about once
// per watchFrom bytes, not before every write, over plain TCP; over a
// connection whose queue it cannot bound by what it wrote (TLS, or here
// a pipe), it looks before every write but the first, as before.
func TestSmallWritesLookRarely(t *testing.T) {
	looks := 0
	queueLen = func(c net.Conn) (int, bool) {
		looks++
		return sendQueueLen(c)
	}
	t.Cleanup(func() { queueLen = sendQueueLen })

	const writes, size = 1000, 100 // 102 bytes a message with its header
	// Each message is answered with a byte, as each result with the
	// next CALL: the answer acknowledges the message.
	exchange := func(client, server net.Conn) {
		t.Helper()
		done := make(chan error, 1)
		go func() {
			buf := make([]byte, size+2)
			for range writes {
				if _, err := io.ReadFull(client, buf); err != nil {
					done <- err
					return
				}
				if _, err := client.Write([]byte{1}); err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
		c := &batchConn{Conn: server}
		msg := []byte(strings.Repeat("x", size))
		one := make([]byte, 1)
		for range writes {
			c.begin(time.Second)
			err := c.writeText(msg)
			if endErr := c.end(); err == nil {
				err = endErr
			}
			if err == nil {
				_, err = io.ReadFull(server, one)
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}

	t.Run("tcp", func(t *testing.T) {
		if runtime.GOOS != "linux" {
			t.Skip("the progress watch needs SIOCOUTQ (Linux)")
		}
		looks = 0
		exchange(tcpPair(t))
		// Each look finds the queue empty, so the next comes once
		// about watchFrom bytes more have been written.
		if max := writes*(size+2)/(watchFrom/2) + 1; looks == 0 || looks > max {
			t.Errorf("%d writes of %d bytes looked at the send queue %d times, want 1 to %d", writes, size+2, looks, max)
		}
		t.Logf("%d writes of %d bytes: %d looks at the send queue", writes, size+2, looks)
	})
	t.Run("pipe", func(t *testing.T) {
		looks = 0
		client, server := net.Pipe()
		t.Cleanup(func() { client.Close(); server.Close() })
		exchange(client, server)
		if looks != writes-1 {
			t.Errorf("%d writes through a pipe looked at the send queue %d times, want %d", writes, looks, writes-1)
		}
	})
}
