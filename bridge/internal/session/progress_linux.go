//go:build linux

package session

import (
	"crypto/tls"
	"net"

	"golang.org/x/sys/unix"
)

// sendQueueLen reports how many bytes c's TCP socket holds in its send
// queue (SIOCOUTQ: not sent yet, or not acknowledged yet); false if c is
// not a TCP socket.
func sendQueueLen(c net.Conn) (int, bool) {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	tcp, ok := c.(*net.TCPConn)
	if !ok {
		return 0, false
	}
	raw, err := tcp.SyscallConn()
	if err != nil {
		return 0, false
	}
	var n int
	if cerr := raw.Control(func(fd uintptr) { n, err = unix.IoctlGetInt(int(fd), unix.SIOCOUTQ) }); cerr != nil || err != nil {
		return 0, false
	}
	return n, true
}

// ackedAndQueued reports how many bytes c's peer has acknowledged since
// the connection started (tcp_info's bytes_acked, Linux 4.1 and later;
// earlier kernels report 0) and how many c's send queue holds; false if c
// is not a plain TCP socket. The pong watch needs the bytes as the client
// acknowledges them, which TLS would change: it takes no TLS connection.
func ackedAndQueued(c net.Conn) (acked, queued int64, ok bool) {
	if !acksVisible(c) {
		return 0, 0, false
	}
	tcp := c.(*net.TCPConn)
	raw, err := tcp.SyscallConn()
	if err != nil {
		return 0, 0, false
	}
	var q int
	var info *unix.TCPInfo
	cerr := raw.Control(func(fd uintptr) {
		if q, err = unix.IoctlGetInt(int(fd), unix.SIOCOUTQ); err == nil {
			info, err = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO)
		}
	})
	if cerr != nil || err != nil {
		return 0, 0, false
	}
	return int64(info.Bytes_acked), int64(q), true
}

// acksVisible reports whether ackedAndQueued can look at c: a plain TCP
// connection. It makes no system call.
func acksVisible(c net.Conn) bool {
	_, ok := c.(*net.TCPConn)
	return ok
}
