package demo

import (
	"context"
	"fmt"
	"net"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/reflection"
)

// Start serves the clock with gRPC server reflection on 127.0.0.1 at a port
// the system picks, in this process, and returns the address it listens on.
// ctx bounds only the start: the server runs until stop is called, so that
// its owner can drain its clients first. stop closes the listener and every
// connection, cancels calls in flight, and returns when the server has
// ended; it may be called more than once.
func Start(ctx context.Context) (addr string, stop func(), err error) {
	var lc net.ListenConfig
	lis, err := lc.Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, fmt.Errorf("demo: listen: %w", err)
	}
	s := grpc.NewServer()
	Register(s)
	reflection.Register(s)

	done := make(chan struct{})
	go func() {
		defer close(done)
		// Serve returns nil after Stop; any other error means the listener
		// failed, and the clients of this server see UNAVAILABLE.
		_ = s.Serve(lis)
	}()
	stop = sync.OnceFunc(func() {
		s.Stop()
		<-done
	})
	return lis.Addr().String(), stop, nil
}
