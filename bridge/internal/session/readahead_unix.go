//go:build unix

package session

import (
	"io"
	"net"
	"os"
	"syscall"
)

// readSyscall is the read system call; tests replace it.
var readSyscall = syscall.Read

// readAheadFrom reads once from c, a TCP socket, into a pooled read-ahead
// buffer, which it takes only once the socket is readable: a reader
// waiting for data holds none. It returns the buffer holding n > 0 bytes,
// or nil and the read's error (io.EOF at the end of the stream); ok false
// if c is not a TCP socket.
func readAheadFrom(c net.Conn) (a *readAhead, n int, ok bool, err error) {
	tcp, ok := c.(*net.TCPConn)
	if !ok {
		return nil, 0, false, nil
	}
	rc, err := tcp.SyscallConn()
	if err != nil {
		return nil, 0, true, err
	}
	var r rawRead
	if err := rc.Read(r.read); err != nil {
		return nil, 0, true, err // closed, or the deadline passed
	}
	switch {
	case r.errno != nil:
		return nil, 0, true, &net.OpError{Op: "read", Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(),
			Err: os.NewSyscallError("read", r.errno)}
	case r.a == nil:
		return nil, 0, true, io.EOF
	}
	return r.a, r.n, true, nil
}

// rawRead is one read of a socket, by syscall.RawConn.Read.
type rawRead struct {
	a     *readAhead // the buffer holding the n bytes read; nil if none
	n     int
	errno error
}

// read reads the socket fd into a pooled buffer, and reports false, having
// given the buffer back, when the socket has nothing to read yet.
func (r *rawRead) read(fd uintptr) bool {
	a := readAheads.Get().(*readAhead)
	for {
		n, err := readSyscall(int(fd), a.b[:])
		switch {
		case err == syscall.EINTR:
			continue
		case err == syscall.EAGAIN:
			readAheads.Put(a)
			return false
		case err != nil:
			readAheads.Put(a)
			r.errno = err
		case n == 0:
			readAheads.Put(a)
		default:
			r.a, r.n = a, n
		}
		return true
	}
}
