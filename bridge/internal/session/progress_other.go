//go:build !linux

package session

import "net"

// sendQueueLen reports false: only Linux tells the length of a socket's
// send queue here, so elsewhere a write waits at most the no-read timeout.
func sendQueueLen(net.Conn) (int, bool) { return 0, false }
