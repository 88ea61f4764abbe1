package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
)

// relayRoleArg, followed by the address of a TCP echo server, makes the
// command run the TCP relay of the hop figures instead of the
// benchmark. Like upstreamRoleArg it is not in the usage.
const relayRoleArg = "-bench-role=relay"

// tcpBufSize is the buffer of the echo server and of the relay, per
// connection: far more than the message of the TCP figures.
const tcpBufSize = 4 << 10

// A tcpServer serves TCP connections on a port of 127.0.0.1 that the
// system chooses, each in a goroutine of its own.
type tcpServer struct {
	lis    net.Listener
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// startTCP listens and calls handle for each connection accepted, in a
// goroutine of its own; the connection is closed when handle returns or
// the server stops, and ctx, which handle gets, is cancelled when it stops.
// name and stderr are for the error that ends accepting, if any.
func startTCP(name string, stderr io.Writer, handle func(ctx context.Context, c net.Conn)) (*tcpServer, error) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("%s: listen: %w", name, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &tcpServer{lis: lis, cancel: cancel}
	s.wg.Go(func() {
		for {
			c, err := lis.Accept()
			if err != nil {
				if !errors.Is(err, net.ErrClosed) {
					fmt.Fprintf(stderr, "error: %s: accept: %v\n", name, err)
				}
				return
			}
			// This goroutine is counted in wg, so Add cannot race
			// with the Wait of stop.
			s.wg.Go(func() {
				defer c.Close()
				unhook := context.AfterFunc(ctx, func() { c.Close() })
				defer unhook()
				handle(ctx, c)
			})
		}
	})
	return s, nil
}

// addr returns the address the server listens on.
func (s *tcpServer) addr() string { return s.lis.Addr().String() }

// stop closes the listener and every connection, and waits for their
// goroutines.
func (s *tcpServer) stop() {
	s.cancel()
	s.lis.Close()
	s.wg.Wait()
}

// startEcho serves TCP echo: each connection gets back what it sends,
// as it arrives.
func startEcho(stderr io.Writer) (*tcpServer, error) {
	return startTCP("echo", stderr, func(_ context.Context, c net.Conn) {
		buf := make([]byte, tcpBufSize)
		for {
			n, err := c.Read(buf)
			if n > 0 {
				if _, werr := c.Write(buf[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				return
			}
		}
	})
}

// startRelay serves a minimal relay in front of the echo server at
// upstream: for each connection it dials one to upstream and, in lockstep,
// reads what the client sent, writes it upstream, reads the same number of
// bytes back (the echo), and writes them to the client. Lockstep suffices
// for one message in flight, which is what the TCP figures send; the
// hop figure asks what the hop costs, not what the relay could overlap.
func startRelay(upstream string, stderr io.Writer) (*tcpServer, error) {
	return startTCP("relay", stderr, func(ctx context.Context, c net.Conn) {
		var d net.Dialer
		up, err := d.DialContext(ctx, "tcp", upstream)
		if err != nil {
			// The client sees its connection closed; the log says why.
			fmt.Fprintf(stderr, "error: relay: %v\n", err)
			return
		}
		defer up.Close()
		unhook := context.AfterFunc(ctx, func() { up.Close() })
		defer unhook()
		buf := make([]byte, tcpBufSize)
		for {
			n, err := c.Read(buf)
			if n > 0 {
				if _, err := up.Write(buf[:n]); err != nil {
					return
				}
				if _, err := io.ReadFull(up, buf[:n]); err != nil {
					return
				}
				if _, err := c.Write(buf[:n]); err != nil {
					return
				}
			}
			if err != nil {
				return
			}
		}
	})
}

// relayMain is the relay role: it relays to the echo server at upstream,
// writes its own address as one line on stdout, and serves until ctx is
// cancelled or stdin reaches its end, as upstreamMain does. It returns the
// exit status.
func relayMain(ctx context.Context, upstream string, stdin io.Reader, stdout, stderr io.Writer) int {
	s, err := startRelay(upstream, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "error: %v\n", err)
		return exitFailure
	}
	defer s.stop()
	if _, err := fmt.Fprintln(stdout, s.addr()); err != nil {
		fmt.Fprintf(stderr, "error: relay: report the address: %v\n", err)
		return exitFailure
	}
	serveUntilEOF(ctx, stdin)
	return exitOK
}

// serveUntilEOF returns when ctx is cancelled (a signal) or stdin reaches
// its end: the harness closed it or went away, even when killed.
func serveUntilEOF(ctx context.Context, stdin io.Reader) {
	stdinDone := make(chan struct{})
	go func() {
		defer close(stdinDone)
		_, _ = io.Copy(io.Discard, stdin)
	}()
	select {
	case <-ctx.Done():
	case <-stdinDone:
	}
}
