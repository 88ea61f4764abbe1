package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	bridgetestv1 "github.com/wampbridge/grpcwamp/gen/bridgetest/v1"
)

// holdService is a bridgetest.v1.TestService whose Stream sends nothing
// and holds the call until the client's context ends, reporting on held
// that a call arrived.
type holdService struct {
	bridgetestv1.UnimplementedTestServiceServer
	held chan struct{}
}

func (s *holdService) Stream(_ *bridgetestv1.StreamRequest, stream grpc.ServerStreamingServer[bridgetestv1.StreamResponse]) error {
	select {
	case s.held <- struct{}{}:
	default:
	}
	<-stream.Context().Done()
	return status.FromContextError(stream.Context().Err()).Err()
}

// h2Proxy forwards TCP connections to an HTTP/2 server and reads the
// frames the client sends. After blackhole it forwards nothing more, in
// either direction, as a network path that died without a FIN or RST would
// (a NAT or load balancer that dropped the flow), and counts the
// keep-alive PINGs the client sends into it.
type h2Proxy struct {
	addr   string
	target string
	lis    net.Listener

	dead  atomic.Bool
	pings chan struct{} // one value per keep-alive PING swallowed; buffered

	// What the client sent, for TestServeUpstreamWindow: its first
	// SETTINGS frame's parameters and its first WINDOW_UPDATE of the
	// connection, each once, and the count of BDP estimator PINGs.
	settings   chan map[uint16]uint32
	connWindow chan uint32
	bdpPings   atomic.Int32

	mu     sync.Mutex
	conns  []net.Conn
	closed bool // the test has ended: close what is accepted
	wg     sync.WaitGroup
}

// startH2Proxy listens on 127.0.0.1 and forwards every connection to
// target until the test ends.
func startH2Proxy(t *testing.T, target string) *h2Proxy {
	t.Helper()
	var lc net.ListenConfig
	lis, err := lc.Listen(t.Context(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &h2Proxy{addr: lis.Addr().String(), target: target, lis: lis, pings: make(chan struct{}, 100),
		settings: make(chan map[uint16]uint32, 1), connWindow: make(chan uint32, 1)}
	p.wg.Go(p.accept)
	t.Cleanup(func() {
		lis.Close()
		p.mu.Lock()
		p.closed = true
		for _, c := range p.conns {
			c.Close()
		}
		p.mu.Unlock()
		p.wg.Wait()
	})
	return p
}

// blackhole stops forwarding on every connection, present and future.
func (p *h2Proxy) blackhole() { p.dead.Store(true) }

func (p *h2Proxy) accept() {
	for {
		client, err := p.lis.Accept()
		if err != nil {
			return
		}
		var d net.Dialer
		server, err := d.Dial("tcp", p.target)
		if err != nil {
			client.Close()
			continue
		}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			client.Close()
			server.Close()
			return
		}
		p.conns = append(p.conns, client, server)
		p.mu.Unlock()
		p.wg.Go(func() { p.fromClient(client, server) })
		p.wg.Go(func() { p.copy(client, server) })
	}
}

// write forwards b to w unless the path is dead.
func (p *h2Proxy) write(w io.Writer, b []byte) error {
	if p.dead.Load() {
		return nil
	}
	_, err := w.Write(b)
	return err
}

// copy forwards what the server sends to the client.
func (p *h2Proxy) copy(client, server net.Conn) {
	defer client.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := server.Read(buf)
		if n > 0 && p.write(client, buf[:n]) != nil {
			return
		}
		if err != nil {
			return
		}
	}
}

// fromClient forwards what the client sends to the server, frame by
// frame (RFC 9113: the 24-byte connection preface, then frames of a
// 9-byte header and a payload), counting the keep-alive PINGs that arrive
// once the path is dead.
func (p *h2Proxy) fromClient(client, server net.Conn) {
	defer server.Close()
	r := bufio.NewReader(client)
	preface := make([]byte, 24)
	if _, err := io.ReadFull(r, preface); err != nil || p.write(server, preface) != nil {
		return
	}
	hdr := make([]byte, 9)
	for {
		if _, err := io.ReadFull(r, hdr); err != nil {
			return
		}
		length := int(hdr[0])<<16 | int(hdr[1])<<8 | int(hdr[2])
		payload := make([]byte, length)
		if _, err := io.ReadFull(r, payload); err != nil {
			return
		}
		const typeSettings, typePing, typeWindowUpdate, flagAck = 0x4, 0x6, 0x8, 0x1
		streamID := binary.BigEndian.Uint32(hdr[5:]) & 0x7fffffff
		switch {
		case hdr[3] == typePing && hdr[4]&flagAck == 0 && length == 8 && binary.BigEndian.Uint64(payload) == 0:
			// grpc-go's keep-alive PINGs carry 8 zero bytes.
			if p.dead.Load() {
				select {
				case p.pings <- struct{}{}:
				default:
				}
			}
		case hdr[3] == typePing && hdr[4]&flagAck == 0:
			p.bdpPings.Add(1) // its BDP estimator pings with other data
		case hdr[3] == typeSettings && hdr[4]&flagAck == 0:
			params := map[uint16]uint32{}
			for b := payload; len(b) >= 6; b = b[6:] {
				params[binary.BigEndian.Uint16(b)] = binary.BigEndian.Uint32(b[2:])
			}
			select {
			case p.settings <- params:
			default:
			}
		case hdr[3] == typeWindowUpdate && streamID == 0 && length == 4:
			select {
			case p.connWindow <- binary.BigEndian.Uint32(payload) & 0x7fffffff:
			default:
			}
		}
		if p.write(server, hdr) != nil || p.write(server, payload) != nil {
			return
		}
	}
}

// TestUpstreamKeepalive: with keep-alive on, newUpstreamConn's connection
// pings an upstream that has gone silent under an open stream, and when
// the ping is not answered within the keep-alive timeout it drops the
// transport, so the stream fails with UNAVAILABLE instead of waiting for
// ever. Without keep-alive the stream below would hang until the test's
// context ends.
//
// It takes about 10 s: grpc-go raises the keep-alive period to at least
// that (the timeout has no such floor).
func TestUpstreamKeepalive(t *testing.T) {
	t.Parallel()
	const (
		every   = 10 * time.Second // grpc-go's minimum
		timeout = 100 * time.Millisecond
		// wait bounds the test: the ping is due every after the last
		// traffic, the failure timeout after it.
		wait = every + 2*readyTimeout
	)
	gs := grpc.NewServer()
	svc := &holdService{held: make(chan struct{}, 1)}
	bridgetestv1.RegisterTestServiceServer(gs, svc)
	proxy := startH2Proxy(t, serveGRPC(t, gs))

	cc, err := newUpstreamConn(proxy.addr, keepaliveParams{every: every, timeout: timeout}, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatalf("newUpstreamConn: %v", err)
	}
	defer cc.Close()
	ctx, cancel := context.WithTimeout(t.Context(), wait)
	defer cancel()
	stream, err := bridgetestv1.NewTestServiceClient(cc).Stream(ctx, &bridgetestv1.StreamRequest{Block: true})
	if err != nil {
		t.Fatalf("Stream: %v", err)
	}
	select {
	case <-svc.held:
	case <-ctx.Done():
		t.Fatalf("the upstream did not receive the stream within %v", wait)
	}
	proxy.blackhole()

	_, err = stream.Recv()
	if status.Code(err) != codes.Unavailable {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			t.Fatalf("the stream over a dead path did not fail within %v: %v; keep-alive did not notice", wait, err)
		}
		t.Fatalf("Recv on a dead path: %v, want UNAVAILABLE from the keep-alive", err)
	}
	// bridge/internal/upstream.Explain recognises grpc-go's text to tell
	// the WAMP client what happened: it must still be this one.
	if got, want := status.Convert(err).Message(), "keepalive ping failed to receive ACK within timeout"; got != want {
		t.Errorf("Recv on a dead path: message %q, want grpc-go's %q (see upstream.Explain)", got, want)
	}
	select {
	case <-proxy.pings:
	default:
		t.Errorf("the stream failed (%v) but no keep-alive PING went into the dead path", err)
	}
	t.Logf("the stream failed with %v", err)
}
