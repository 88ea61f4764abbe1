package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/mem"
)

// proxyRoleArg, followed by the address of the benchmark's upstream, makes
// the command run the gRPC proxy of the reference figures instead of the
// benchmark. Like upstreamRoleArg it is not in the usage.
const proxyRoleArg = "-bench-role=proxy"

// The gRPC proxy is the lightest gRPC hop this benchmark can put where the
// bridge sits: a grpc-go server that passes the bytes of each call's
// request to the upstream over one grpc-go client connection, and the
// bytes of each response and the final status back. It decodes no
// message, forwards no metadata, and knows no schema. It forwards the
// first request and then closes its side, which is all that unary and
// server-streaming calls, the benchmark's, send. Its figures show what a
// process in the middle costs here before any WebSocket or JSON: a bridge
// that speaks gRPC to its upstream through grpc-go pays at least the
// proxy's client half.

// rawFrame is a message as its protobuf bytes, neither decoded nor
// encoded by the proxy.
type rawFrame struct{ b []byte }

// frameCodec passes rawFrames through. Its name is "proto" so that the
// content type on both connections is what a protobuf client and server
// send.
type frameCodec struct{}

func (frameCodec) Marshal(v any) (mem.BufferSlice, error) {
	f, ok := v.(*rawFrame)
	if !ok {
		return nil, fmt.Errorf("proxy: cannot marshal %T", v)
	}
	return mem.BufferSlice{mem.SliceBuffer(f.b)}, nil
}

func (frameCodec) Unmarshal(data mem.BufferSlice, v any) error {
	f, ok := v.(*rawFrame)
	if !ok {
		return fmt.Errorf("proxy: cannot unmarshal into %T", v)
	}
	f.b = data.Materialize()
	return nil
}

func (frameCodec) Name() string { return "proto" }

// proxyStreamDesc lets one handler forward calls of every kind.
var proxyStreamDesc = &grpc.StreamDesc{ServerStreams: true, ClientStreams: true}

// forward is the proxy's handler for every method: see the comment on
// proxyRoleArg.
func forward(cc *grpc.ClientConn) grpc.StreamHandler {
	return func(_ any, ss grpc.ServerStream) error {
		method, _ := grpc.MethodFromServerStream(ss)
		ctx, cancel := context.WithCancel(ss.Context())
		defer cancel()
		cs, err := cc.NewStream(ctx, proxyStreamDesc, method)
		if err != nil {
			return err
		}
		var req rawFrame
		if err := ss.RecvMsg(&req); err != nil {
			return err
		}
		if err := cs.SendMsg(&req); err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		if err := cs.CloseSend(); err != nil {
			return err
		}
		for {
			var resp rawFrame
			if err := cs.RecvMsg(&resp); err != nil {
				if errors.Is(err, io.EOF) {
					return nil
				}
				return err // the upstream's status, passed on as it is
			}
			if err := ss.SendMsg(&resp); err != nil {
				return err
			}
		}
	}
}

// startProxy serves the gRPC proxy in front of upstream on a port of
// 127.0.0.1 that the system chooses. stop stops it at once and waits.
func startProxy(upstream string) (addr string, stop func(), err error) {
	cc, err := grpc.NewClient(upstream, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.ForceCodecV2(frameCodec{})))
	if err != nil {
		return "", nil, fmt.Errorf("proxy: client for %s: %w", upstream, err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		cc.Close()
		return "", nil, fmt.Errorf("proxy: listen: %w", err)
	}
	srv := grpc.NewServer(grpc.ForceServerCodecV2(frameCodec{}), grpc.UnknownServiceHandler(forward(cc)))
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = srv.Serve(lis) // returns when Stop closes the listener
	}()
	return lis.Addr().String(), func() { srv.Stop(); <-served; cc.Close() }, nil
}

// proxyMain is the proxy role: see hopMain.
func proxyMain(ctx context.Context, upstream string, stdin io.Reader, stdout, stderr io.Writer) int {
	return hopMain(ctx, "gRPC proxy", startProxy, upstream, stdin, stdout, stderr)
}

// hopMain runs a role that stands in the bridge's place, the gRPC proxy or
// the WebSocket relay: it starts the role's server in front of upstream,
// writes the address the server gives on stdout and serves until ctx is
// cancelled or stdin reaches its end, as upstreamMain does. Like the
// bridge by default (-procs 1) it runs on one processor unless
// $GOMAXPROCS says otherwise, so that the hops are compared under the
// same setting. name names the role in errors.
func hopMain(ctx context.Context, name string, start func(upstream string) (addr string, stop func(), err error),
	upstream string, stdin io.Reader, stdout, stderr io.Writer) int {
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(1)
	}
	addr, stop, err := start(upstream)
	if err != nil {
		fmt.Fprintf(stderr, "error: %v\n", err)
		return exitFailure
	}
	defer stop()
	if _, err := fmt.Fprintln(stdout, addr); err != nil {
		fmt.Fprintf(stderr, "error: %s: report the address: %v\n", name, err)
		return exitFailure
	}
	serveUntilEOF(ctx, stdin)
	return exitOK
}
