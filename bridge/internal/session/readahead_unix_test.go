//go:build unix

package session

import (
	"bytes"
	"errors"
	"io"
	"os"
	"syscall"
	"testing"
	"time"
)

// readSyscalls counts the read system calls of the read-ahead, and those
// that found nothing to read, until the test ends.
func readSyscalls(t *testing.T) (reads, empty *int) {
	reads, empty = new(int), new(int)
	readSyscall = func(fd int, p []byte) (int, error) {
		n, err := syscall.Read(fd, p)
		*reads++
		if err == syscall.EAGAIN {
			*empty++
		}
		return n, err
	}
	t.Cleanup(func() { readSyscall = syscall.Read })
	return reads, empty
}

// TestReadAheadTCP: frames that a client sends together come in with one
// read system call, however small the reads that gorilla's read buffer
// makes, and the read-ahead buffer is let go once taken.
func TestReadAheadTCP(t *testing.T) {
	client, server := tcpPair(t)
	c := &batchConn{Conn: server}
	reads, _ := readSyscalls(t)
	sent := bytes.Repeat([]byte(`[2,"c1","bench.v1.BenchService.Unary",{"seq":1}]`), 30)
	// On the loopback the bytes are in the server's socket when Write
	// returns.
	if _, err := client.Write(sent); err != nil {
		t.Fatal(err)
	}
	var got []byte
	p := make([]byte, ReadBufferSize)
	for len(got) < len(sent) {
		n, err := c.Read(p)
		if err != nil {
			t.Fatalf("Read after %d of %d bytes: %v", len(got), len(sent), err)
		}
		got = append(got, p[:n]...)
	}
	if !bytes.Equal(got, sent) {
		t.Errorf("read %q, want %q", got, sent)
	}
	if *reads != 1 {
		t.Errorf("%d bytes in reads of %d bytes took %d read system calls, want 1", len(sent), len(p), *reads)
	}
	if c.ahead != nil {
		t.Errorf("all taken, yet a read-ahead buffer is held with %d bytes", c.ahead.w-c.ahead.r)
	}
}

// TestReadAheadWaits: a read that finds the socket empty waits for it,
// then reads what arrived; the end of the stream is io.EOF, and a passed
// deadline a timeout, as from the connection itself.
func TestReadAheadWaits(t *testing.T) {
	client, server := tcpPair(t)
	c := &batchConn{Conn: server}
	reads, empty := readSyscalls(t)
	type result struct {
		b   []byte
		err error
	}
	done := make(chan result, 1)
	go func() {
		p := make([]byte, ReadBufferSize)
		n, err := c.Read(p)
		done <- result{p[:n], err}
	}()
	// Sent whenever the reader has started: it reads it at once, or after
	// finding the socket empty and waiting.
	if _, err := client.Write([]byte("[]")); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil || string(r.b) != "[]" {
		t.Fatalf("Read: %q, %v; want \"[]\"", r.b, r.err)
	}
	if *reads-*empty != 1 {
		t.Errorf("%d read system calls, %d of them on an empty socket; want 1 that read", *reads, *empty)
	}
	if c.ahead != nil {
		t.Error("all taken, yet a read-ahead buffer is held")
	}

	server.SetReadDeadline(time.Now().Add(-time.Second))
	if _, err := c.Read(make([]byte, 10)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("Read past the deadline: %v, want a timeout", err)
	}
	server.SetReadDeadline(time.Time{})
	client.Close()
	if n, err := c.Read(make([]byte, 10)); n != 0 || err != io.EOF {
		t.Errorf("Read at the end of the stream: %d, %v; want 0, io.EOF", n, err)
	}
}

// TestRawReadLetsGo: the read-ahead buffer is given back when the socket
// has nothing to read, so that a waiting reader holds none, and when the
// read fails or finds the end of the stream.
func TestRawReadLetsGo(t *testing.T) {
	for _, tc := range []struct {
		name  string
		n     int
		err   error
		done  bool
		holds bool
	}{
		{"empty", -1, syscall.EAGAIN, false, false},
		{"failed", -1, syscall.ECONNRESET, true, false},
		{"end", 0, nil, true, false},
		{"data", 5, nil, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			readSyscall = func(int, []byte) (int, error) { return tc.n, tc.err }
			t.Cleanup(func() { readSyscall = syscall.Read })
			var r rawRead
			if done := r.read(0); done != tc.done {
				t.Errorf("read reported done %v, want %v", done, tc.done)
			}
			if (r.a != nil) != tc.holds {
				t.Errorf("holds a buffer: %v, want %v", r.a != nil, tc.holds)
			}
			if tc.done && tc.err != nil && r.errno != tc.err {
				t.Errorf("error %v, want %v", r.errno, tc.err)
			}
		})
	}
}
