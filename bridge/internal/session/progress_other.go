//go:build !linux

package session

import "net"

// sendQueueLen reports false: only Linux tells the length of a socket's
// send queue here, so elsewhere a write waits at most the no-read timeout.
func sendQueueLen(net.Conn) (int, bool) { return 0, false }

// ackedAndQueued reports false: only Linux tells what a socket's peer has
// acknowledged here, so elsewhere the pong timeout is not watched.
func ackedAndQueued(net.Conn) (acked, queued int64, ok bool) { return 0, 0, false }

// acksVisible reports false, as ackedAndQueued does.
func acksVisible(net.Conn) bool { return false }
