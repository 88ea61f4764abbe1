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
