package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
)

// startDebug serves Go's profiling endpoints (net/http/pprof) under
// /debug/pprof/ on their own listener at addr, apart from the WebSocket
// port, so that they are never exposed where clients connect. It returns
// the profiles' base URL and stop, which closes the listener.
func startDebug(ctx context.Context, addr string, logger *slog.Logger) (string, func(), error) {
	var lc net.ListenConfig
	lis, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return "", nil, fmt.Errorf("flag -debug-listen: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(lis) // ErrServerClosed after Close
	}()
	stop := func() {
		_ = srv.Close()
		<-done
	}
	return "http://" + dialAddr(lis.Addr()) + "/debug/pprof/", stop, nil
}
