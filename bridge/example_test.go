package bridge_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/gorilla/websocket"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/wampbridge/grpcwamp/bridge"
)

// This example bridges the demo clock and makes one streaming call with a
// plain WebSocket client, in the "last" stream mode of the sgcWebSockets
// example: every message but the last arrives as CALL_PROGRESS_RESULT
// (1000), the last one as CALLRESULT (3).
func Example() {
	ctx := context.Background()
	addr, stopDemo, err := bridge.StartDemo(ctx)
	if err != nil {
		log.Fatal(err)
	}
	defer stopDemo()
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		log.Fatal(err)
	}
	defer cc.Close()
	h, err := bridge.NewHandler(cc, bridge.WithStreamMode(bridge.StreamLast))
	if err != nil {
		log.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	defer h.Shutdown(ctx)

	dialer := websocket.Dialer{Subprotocols: []string{bridge.Subprotocol}}
	ws, _, err := dialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http")+"/", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer ws.Close()
	var welcome []any
	if err := ws.ReadJSON(&welcome); err != nil {
		log.Fatal(err)
	}
	fmt.Println("WELCOME protocol version", welcome[2])

	// Until the upstream's schema is loaded a call fails with
	// wamp.error.unavailable; a real client would wait for /readyz.
	for !h.Ready() {
		var dummy []any
		ws.WriteJSON([]any{2, "probe", "GetTime"})
		ws.ReadJSON(&dummy)
	}
	ws.WriteJSON([]any{2, "c1", "GetProgressiveTime", map[string]any{"count": 3, "interval": "0.001s"}})
	for {
		var frame []any
		if err := ws.ReadJSON(&frame); err != nil {
			log.Fatal(err)
		}
		result, _ := frame[2].(map[string]any)
		fmt.Println(frame[0], frame[1], "index", result["index"])
		if frame[0] != 1000.0 {
			break
		}
	}
	// Output:
	// WELCOME protocol version 1
	// 1000 c1 index 1
	// 1000 c1 index 2
	// 3 c1 index 3
}

// A handler's connection with message size limits of its own: the handler
// is told the same numbers, since it cannot read them from the
// connection. It then refuses a request over 1 MiB itself, and explains a
// response over 16 MiB to its client.
func ExampleWithUpstreamMessageLimits() {
	const send, recv = 1 << 20, 16 << 20
	cc, err := grpc.NewClient("dns:///upstream.internal:50051",
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallSendMsgSize(send), grpc.MaxCallRecvMsgSize(recv)))
	if err != nil {
		log.Fatal(err)
	}
	defer cc.Close()
	h, err := bridge.NewHandler(cc, bridge.WithUpstreamMessageLimits(send, recv))
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Addr: "127.0.0.1:8080", Handler: h, ReadHeaderTimeout: 10 * time.Second}
	log.Fatal(srv.ListenAndServe())
}
