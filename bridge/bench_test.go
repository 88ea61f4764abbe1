package bridge_test

import (
	"bytes"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/wampbridge/grpcwamp/bridge/internal/bridgetest"
	bridgetestv1 "github.com/wampbridge/grpcwamp/gen/bridgetest/v1"
)

// The benchmarks measure the bridge against direct gRPC to the same
// upstream in the same run; compare the two sub-benchmarks' figures (a
// ratio is what matters, since the absolute numbers depend on the machine).
// Client, bridge and upstream share one process here; issue #6's benchmark
// separates them.
//
//	go test -run '^$' -bench . -benchtime 3s ./bridge/

// BenchmarkStream streams b.N messages in one server-streaming call.
func BenchmarkStream(b *testing.B) {
	addr, _ := bridgetest.StartUpstream(b, bridgetest.UpstreamOptions{})
	b.Run("direct", func(b *testing.B) {
		client := bridgetestv1.NewTestServiceClient(dial(b, addr))
		b.ReportAllocs()
		start := time.Now()
		stream, err := client.Stream(b.Context(), &bridgetestv1.StreamRequest{Count: int32(b.N), Tag: "bench"})
		if err != nil {
			b.Fatal(err)
		}
		for n := 0; ; n++ {
			if _, err := stream.Recv(); err == io.EOF {
				if n != b.N {
					b.Fatalf("received %d messages, want %d", n, b.N)
				}
				break
			} else if err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
	})
	b.Run("bridge", func(b *testing.B) {
		br := bridgetest.StartBridge(b, addr, bridgetest.Reflection)
		c := bridgetest.Dial(b, br.URL, "wamp")
		c.ReadWelcome(b)
		b.ReportAllocs()
		start := time.Now()
		c.Send(b, fmt.Sprintf(`[2,"s","bridgetest.v1.TestService.Stream",{"count":%d,"tag":"bench"}]`, b.N))
		progress := []byte(`[1000,`)
		for n := 0; ; n++ {
			_, data, err := c.Conn.ReadMessage()
			if err != nil {
				b.Fatal(err)
			}
			if !bytes.HasPrefix(data, progress) {
				if n != b.N || !bytes.HasPrefix(data, []byte(`[3,`)) {
					b.Fatalf("after %d progress frames got %s, want CALLRESULT after %d", n, data, b.N)
				}
				break
			}
		}
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
	})
}

// BenchmarkUnary makes b.N unary calls one after another: the round trip.
func BenchmarkUnary(b *testing.B) {
	addr, _ := bridgetest.StartUpstream(b, bridgetest.UpstreamOptions{})
	b.Run("direct", func(b *testing.B) {
		client := bridgetestv1.NewTestServiceClient(dial(b, addr))
		req := &bridgetestv1.EchoRequest{Text: "hello", Number: 42}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := client.Echo(b.Context(), req); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("bridge", func(b *testing.B) {
		br := bridgetest.StartBridge(b, addr, bridgetest.Reflection)
		c := bridgetest.Dial(b, br.URL, "wamp")
		c.ReadWelcome(b)
		call := []byte(`[2,"u","bridgetest.v1.TestService.Echo",{"text":"hello","number":42}]`)
		b.ReportAllocs()
		for b.Loop() {
			if err := c.Conn.WriteMessage(websocket.TextMessage, call); err != nil {
				b.Fatal(err)
			}
			if _, data, err := c.Conn.ReadMessage(); err != nil || !bytes.HasPrefix(data, []byte(`[3,`)) {
				b.Fatalf("got %s, %v; want CALLRESULT", data, err)
			}
		}
	})
}

func dial(b *testing.B, addr string) *grpc.ClientConn {
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cc.Close() })
	return cc
}
