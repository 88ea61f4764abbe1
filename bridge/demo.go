package bridge

import (
	"context"

	"github.com/wampbridge/grpcwamp/bridge/internal/demo"
)

// StartDemo serves the demo clock service (demo.v1.ClockService, from
// proto/demo/v1/clock.proto) with server reflection on a free port of
// 127.0.0.1, so the bridge has something to bridge without an upstream.
// It returns the gRPC address and a function that stops the server.
func StartDemo(ctx context.Context) (addr string, stop func(), err error) {
	return demo.Start(ctx)
}
