package main

import (
	"errors"
	"io"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	benchv1 "github.com/wampbridge/grpcwamp/gen/bench/v1"
)

// TestProxy calls the upstream through the gRPC proxy, as the reference
// figures do: a unary call and a stream come back as the upstream sent
// them, and the upstream's status reaches the client unchanged. (The
// proxy's role is not run here: it would set this process's GOMAXPROCS.)
func TestProxy(t *testing.T) {
	t.Parallel()
	upAddr, stopUp, err := startUpstream()
	if err != nil {
		t.Fatal(err)
	}
	defer stopUp()
	addr, stop, err := startProxy(upAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	client := benchv1.NewBenchServiceClient(cc)

	resp, err := client.Unary(t.Context(), &benchv1.UnaryRequest{Seq: 42})
	if err != nil {
		t.Fatalf("Unary: %v", err)
	}
	if want := newPayload(42); !proto.Equal(resp.GetPayload(), want) {
		t.Errorf("Unary: payload %v, want %v", resp.GetPayload(), want)
	}

	stream, err := client.Stream(t.Context(), &benchv1.StreamRequest{Count: 3})
	if err != nil {
		t.Fatalf("Stream: %v", err)
	}
	for i := range int64(3) {
		m, err := stream.Recv()
		if err != nil {
			t.Fatalf("Stream: message %d: %v", i, err)
		}
		if want := newPayload(i); !proto.Equal(m.GetPayload(), want) {
			t.Errorf("Stream: message %d: payload %v, want %v", i, m.GetPayload(), want)
		}
	}
	if _, err := stream.Recv(); !errors.Is(err, io.EOF) {
		t.Errorf("Stream: after 3 messages: %v, want io.EOF", err)
	}

	err = cc.Invoke(t.Context(), "/bench.v1.BenchService/NoSuchMethod", &benchv1.UnaryRequest{}, &benchv1.UnaryResponse{})
	if got := status.Code(err); got != codes.Unimplemented {
		t.Errorf("unknown method: %v, want the upstream's Unimplemented", err)
	}
}
