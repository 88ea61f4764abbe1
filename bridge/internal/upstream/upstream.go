package upstream

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/connectivity"
)

// Source loads the upstream's schema. Its String names it in logs, e.g.
// "server reflection of 127.0.0.1:9090" or "descriptor set api.binpb".
type Source interface {
	Load(ctx context.Context) (*Catalog, error)
	String() string
}

// The schema load is retried with exponential backoff between these
// bounds, with ±20 % jitter.
const (
	initialBackoff = 100 * time.Millisecond
	maxBackoff     = 5 * time.Second
)

// Upstream is the gRPC server behind the bridge: its connection, its
// schema and whether it is ready. Its methods are safe for concurrent use.
type Upstream struct {
	cc     *grpc.ClientConn
	src    Source
	logger *slog.Logger

	catalog    atomic.Pointer[Catalog]
	loaded     chan struct{}
	loadedOnce sync.Once
	wasReady   atomic.Bool // the channel has been READY at least once

	mu      sync.Mutex
	loadErr error // the last failed load, until one succeeds
}

// New returns the upstream behind cc whose schema comes from src. Nothing
// happens until [Upstream.Run]. A nil logger logs to slog.Default().
func New(cc *grpc.ClientConn, src Source, logger *slog.Logger) *Upstream {
	if logger == nil {
		logger = slog.Default()
	}
	return &Upstream{cc: cc, src: src, logger: logger, loaded: make(chan struct{})}
}

// Run connects the channel, loads the schema, retrying with backoff until a
// load succeeds, and keeps the channel connecting while it is idle so that
// readiness follows the server. It returns when ctx ends, leaving no
// goroutine behind. Call it once.
func (u *Upstream) Run(ctx context.Context) {
	u.cc.Connect()
	var wg sync.WaitGroup
	wg.Go(func() { u.watch(ctx) })
	u.load(ctx)
	// A periodic re-resolve would swap u.catalog from here.
	<-ctx.Done()
	wg.Wait()
}

// load tries src until it succeeds or ctx ends. Each distinct error is
// logged once.
func (u *Upstream) load(ctx context.Context) {
	backoff := initialBackoff
	var logged string
	for {
		c, err := u.src.Load(ctx)
		if err == nil {
			u.catalog.Store(c)
			u.setLoadErr(nil)
			u.loadedOnce.Do(func() { close(u.loaded) })
			u.logger.Info("upstream schema loaded", "source", u.src.String(), "methods", len(c.methods))
			return
		}
		if ctx.Err() != nil {
			return
		}
		u.setLoadErr(err)
		delay := backoff*4/5 + rand.N(backoff*2/5)
		if msg := err.Error(); msg != logged {
			logged = msg
			u.logger.Warn("upstream schema not loaded, retrying", "source", u.src.String(), "error", err, "retry_in", delay)
		}
		backoff = min(2*backoff, maxBackoff)
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// watch follows the channel's state until ctx ends. An idle channel (after
// the idle timeout, or after the connection was lost) is asked to connect
// again: the bridge wants to know at once whether the server is there, not
// at the next call.
func (u *Upstream) watch(ctx context.Context) {
	last := connectivity.Idle
	for {
		s := u.cc.GetState()
		switch s {
		case connectivity.Ready:
			u.wasReady.Store(true)
			if last != connectivity.Ready {
				u.logger.Info("upstream connected", "target", u.cc.Target())
			}
		case connectivity.TransientFailure:
			if last != connectivity.TransientFailure {
				u.logger.Warn("upstream connection failed, reconnecting", "target", u.cc.Target())
			}
		case connectivity.Idle:
			u.cc.Connect()
		}
		last = s
		if !u.cc.WaitForStateChange(ctx, s) {
			return
		}
	}
}

func (u *Upstream) setLoadErr(err error) {
	u.mu.Lock()
	u.loadErr = err
	u.mu.Unlock()
}

func (u *Upstream) lastLoadErr() error {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.loadErr
}

// Catalog returns the schema, or nil before the first successful load.
func (u *Upstream) Catalog() *Catalog { return u.catalog.Load() }

// Loaded is closed once the first load has succeeded.
func (u *Upstream) Loaded() <-chan struct{} { return u.loaded }

// Conn returns the connection calls go through.
func (u *Upstream) Conn() grpc.ClientConnInterface { return u.cc }

// Ready reports whether calls can be served: the schema is loaded, the
// channel has been READY at least once and it is not failing
// (TRANSIENT_FAILURE) or closed (SHUTDOWN) now.
func (u *Upstream) Ready() bool {
	ready, _ := u.readiness()
	return ready
}

// NotReadyReason says in one sentence why the upstream is not ready, for
// /readyz and the message of UNAVAILABLE errors; "" when it is ready.
func (u *Upstream) NotReadyReason() string {
	_, reason := u.readiness()
	return reason
}

func (u *Upstream) readiness() (bool, string) {
	if u.catalog.Load() == nil {
		if err := u.lastLoadErr(); err != nil {
			return false, "schema not loaded yet: " + err.Error()
		}
		return false, fmt.Sprintf("schema of upstream %q not loaded yet", u.cc.Target())
	}
	// The state is read here rather than left to watch, which may not have
	// seen the latest change yet.
	switch s := u.cc.GetState(); {
	case s == connectivity.Shutdown:
		return false, fmt.Sprintf("connection to upstream %q is closed", u.cc.Target())
	case s == connectivity.TransientFailure:
		return false, fmt.Sprintf("upstream %q is not connected: connecting failed, retrying", u.cc.Target())
	case s == connectivity.Ready:
		u.wasReady.Store(true)
	case !u.wasReady.Load():
		return false, fmt.Sprintf("upstream %q is not connected yet (%s)", u.cc.Target(), s)
	}
	return true, ""
}
