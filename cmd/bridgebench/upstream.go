package main

import (
	"context"
	"fmt"
	"io"
	"net"

	"google.golang.org/grpc"
	"google.golang.org/grpc/reflection"

	benchv1 "github.com/wampbridge/grpcwamp/gen/bench/v1"
)

// upstreamRoleArg, as the only argument, makes the command serve the
// benchmark's upstream instead of running the benchmark: the harness runs
// its own executable again with it. It is not in the usage on purpose.
const upstreamRoleArg = "-bench-role=upstream"

// payloadNote pads a payload to about 80 bytes of protobuf; see
// bench.v1.Payload.
const payloadNote = "bridgebench payload: a note that pads it to 80 bytes"

// newPayload returns the payload numbered seq.
func newPayload(seq int64) *benchv1.Payload {
	return &benchv1.Payload{
		Seq:    seq,
		Price:  100 + float64(seq%400)/16,
		Volume: 300,
		Symbol: "EURUSD",
		Note:   payloadNote,
	}
}

// benchService is the upstream's bench.v1.BenchService: it answers at once
// and streams as fast as flow control allows.
type benchService struct {
	benchv1.UnimplementedBenchServiceServer
}

func (benchService) Unary(_ context.Context, req *benchv1.UnaryRequest) (*benchv1.UnaryResponse, error) {
	return &benchv1.UnaryResponse{Payload: newPayload(req.GetSeq())}, nil
}

func (benchService) Stream(req *benchv1.StreamRequest, stream grpc.ServerStreamingServer[benchv1.StreamResponse]) error {
	for i := range req.GetCount() {
		// A new message each time: grpc-go does not allow changing a
		// message once it is passed to Send.
		if err := stream.Send(&benchv1.StreamResponse{Payload: newPayload(i)}); err != nil {
			return err
		}
	}
	return nil
}

// startUpstream serves BenchService with server reflection on a port of
// 127.0.0.1 that the system chooses. stop stops the server at once,
// cancelling the streams in flight, and waits for it.
func startUpstream() (addr string, stop func(), err error) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, fmt.Errorf("upstream: listen: %w", err)
	}
	srv := grpc.NewServer()
	benchv1.RegisterBenchServiceServer(srv, benchService{})
	reflection.Register(srv)
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = srv.Serve(lis) // returns when Stop closes the listener
	}()
	return lis.Addr().String(), func() { srv.Stop(); <-served }, nil
}

// upstreamMain is the upstream role: it serves BenchService and a TCP
// echo server (for the hop figures, see startEcho), writes their
// addresses as two lines on stdout, gRPC first, and serves until ctx is
// cancelled (a signal) or stdin reaches its end (the harness closed it or
// went away, even when killed). It returns the exit status.
func upstreamMain(ctx context.Context, stdin io.Reader, stdout, stderr io.Writer) int {
	addr, stop, err := startUpstream()
	if err != nil {
		fmt.Fprintf(stderr, "error: %v\n", err)
		return exitFailure
	}
	defer stop()
	echo, err := startEcho(stderr)
	if err != nil {
		fmt.Fprintf(stderr, "error: %v\n", err)
		return exitFailure
	}
	defer echo.stop()
	if _, err := fmt.Fprintf(stdout, "%s\n%s\n", addr, echo.addr()); err != nil {
		fmt.Fprintf(stderr, "error: upstream: report the addresses: %v\n", err)
		return exitFailure
	}
	serveUntilEOF(ctx, stdin)
	return exitOK
}
