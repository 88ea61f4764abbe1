package upstream

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"hash"
	"log/slog"
	"math/rand/v2"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
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

	// Set before Run, read by Run only.
	interval time.Duration
	onChange func(added, removed []string)
	onLoad   func(c *Catalog)

	refresh chan struct{} // a pending Refresh; capacity 1 coalesces triggers
	// lastStale is when RefreshStale last asked for a reload (UnixNano).
	lastStale atomic.Int64

	// Owned by the goroutine of Run.
	fingerprint [sha256.Size]byte // of the current catalog
	stamp       fileStamp         // of the descriptor set file the current catalog was read from
	reloadErr   string            // the last failed reload logged, until one succeeds
}

// New returns the upstream behind cc whose schema comes from src. Nothing
// happens until [Upstream.Run]. A nil logger logs to slog.Default().
func New(cc *grpc.ClientConn, src Source, logger *slog.Logger) *Upstream {
	if logger == nil {
		logger = slog.Default()
	}
	return &Upstream{cc: cc, src: src, logger: logger, loaded: make(chan struct{}), refresh: make(chan struct{}, 1)}
}

// SetRefreshInterval makes Run load the schema again every d after the
// first load; 0, the default, reloads only on [Upstream.Refresh]. A
// descriptor set file is read again on the period only when its size or
// modification time changed. Call it before Run.
func (u *Upstream) SetRefreshInterval(d time.Duration) { u.interval = d }

// SetOnChange sets f to be called, from Run's goroutine, each time a reload
// replaces the catalog: with the full names of the methods added and
// removed, each sorted and never nil (both are empty when only message
// types or options changed). The first load does not call it. f must not
// block for long: reloads wait for it. Call it before Run.
func (u *Upstream) SetOnChange(f func(added, removed []string)) { u.onChange = f }

// SetOnLoad sets f to be called, from Run's goroutine, with each catalog
// Run installs: the first one, and each one a reload swaps in (after the
// SetOnChange function). A reload that finds the schema unchanged, or
// fails, does not call it: f sees each version of the schema once. f
// must not block for long. Call it before Run.
func (u *Upstream) SetOnLoad(f func(c *Catalog)) { u.onLoad = f }

// Refresh asks Run to load the schema again now, without waiting for it.
// Triggers that arrive while one is pending coalesce into one reload.
// Before the first successful load it cuts the retry backoff short. A
// reload replaces the catalog only when the schema changed; calls already
// resolved keep the method they resolved.
func (u *Upstream) Refresh() {
	select {
	case u.refresh <- struct{}{}:
	default:
	}
}

// staleCooldown is the least time between two reloads asked for by
// [Upstream.RefreshStale]: a client calling a method the upstream dropped
// in a loop must not turn into a loop of schema reloads.
const staleCooldown = 5 * time.Second

// RefreshStale is [Upstream.Refresh] for a call that found the schema
// stale (the upstream answered UNIMPLEMENTED for a method it listed): it
// asks for at most one reload per staleCooldown.
func (u *Upstream) RefreshStale() {
	now := time.Now().UnixNano()
	last := u.lastStale.Load()
	if last != 0 && now-last < int64(staleCooldown) {
		return
	}
	if u.lastStale.CompareAndSwap(last, now) {
		u.Refresh()
	}
}

// Run connects the channel, loads the schema, retrying with backoff until a
// load succeeds, and keeps the channel connecting while it is idle so that
// readiness follows the server. After the first load it reloads the schema
// on the period and on Refresh (see the package doc). It returns when ctx
// ends, leaving no goroutine behind. Call it once.
func (u *Upstream) Run(ctx context.Context) {
	u.cc.Connect()
	var wg sync.WaitGroup
	wg.Go(func() { u.watch(ctx) })
	u.load(ctx)
	var tick <-chan time.Time
	if u.interval > 0 {
		t := time.NewTicker(u.interval)
		defer t.Stop()
		tick = t.C
	}
	for ctx.Err() == nil {
		select {
		case <-ctx.Done():
		case <-u.refresh:
			u.reload(ctx, true)
		case <-tick:
			u.reload(ctx, false)
		}
	}
	wg.Wait()
}

// fileStamp is what tells that a descriptor set file changed on disk.
type fileStamp struct {
	size    int64
	modTime time.Time
}

// statSource returns the stamp of src's file and true when src reads a
// file that can be stat'ed now.
func statSource(src Source) (fileStamp, bool) {
	fs, ok := src.(*fileSource)
	if !ok {
		return fileStamp{}, false
	}
	fi, err := os.Stat(fs.path)
	if err != nil {
		return fileStamp{}, false
	}
	return fileStamp{size: fi.Size(), modTime: fi.ModTime()}, true
}

// reload loads the schema again and swaps the catalog when it changed. A
// periodic reload (forced false) of a descriptor set file whose size and
// modification time are those of the last load does nothing. A failure
// keeps the current catalog; each distinct error is logged once.
func (u *Upstream) reload(ctx context.Context, forced bool) {
	stamp, isFile := statSource(u.src)
	if isFile && !forced && stamp == u.stamp {
		return
	}
	c, err := u.src.Load(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return
		}
		if msg := err.Error(); msg != u.reloadErr {
			u.reloadErr = msg
			u.logger.Warn("upstream schema reload failed, keeping the previous schema", "source", u.src.String(), "error", err)
		}
		return
	}
	u.reloadErr = ""
	u.stamp = stamp
	fp := fingerprintOf(c)
	if fp == u.fingerprint {
		u.logger.Debug("upstream schema unchanged", "source", u.src.String())
		return
	}
	old := u.catalog.Load()
	u.catalog.Store(c)
	u.fingerprint = fp
	added, removed := diffMethods(old, c)
	u.logger.Info("upstream schema reloaded", "source", u.src.String(), "methods", len(c.methods),
		"added", added, "removed", removed)
	if u.onChange != nil {
		u.onChange(added, removed)
	}
	if u.onLoad != nil {
		u.onLoad(c)
	}
}

// diffMethods returns the full names of the methods of c not in old and
// those of old not in c, sorted.
func diffMethods(old, c *Catalog) (added, removed []string) {
	added, removed = []string{}, []string{}
	names := func(c *Catalog) map[string]bool {
		m := make(map[string]bool, len(c.methods))
		for _, x := range c.methods {
			m[x.FullName] = true
		}
		return m
	}
	was, is := names(old), names(c)
	for _, m := range c.methods {
		if !was[m.FullName] {
			added = append(added, m.FullName)
		}
	}
	for _, m := range old.methods {
		if !is[m.FullName] {
			removed = append(removed, m.FullName)
		}
	}
	return added, removed // methods are sorted by full name
}

// fingerprintOf hashes what a client of the bridge can see of c: SHA-256
// over, first, every method's full name, kind and procedure URIs in the
// catalog's order (sorted by full name), then every file declaring a
// method's service and every file those import, sorted by path, each as the
// deterministic binary encoding of its FileDescriptorProto. So a changed
// message field, option or service set changes it; a schema sent again
// unchanged does not.
func fingerprintOf(c *Catalog) [sha256.Size]byte {
	h := sha256.New()
	files := make(map[string]protoreflect.FileDescriptor)
	var addFile func(fd protoreflect.FileDescriptor)
	addFile = func(fd protoreflect.FileDescriptor) {
		if _, ok := files[fd.Path()]; ok {
			return
		}
		files[fd.Path()] = fd
		imps := fd.Imports()
		for i := range imps.Len() {
			if imp := imps.Get(i); !imp.IsPlaceholder() {
				addFile(imp.FileDescriptor)
			}
		}
	}
	for _, m := range c.methods {
		writeField(h, []byte(m.FullName))
		writeField(h, []byte(m.Kind.String()))
		for _, uri := range m.URIs {
			writeField(h, []byte(uri))
		}
		writeField(h, nil)
		addFile(m.Desc.ParentFile())
	}
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	det := proto.MarshalOptions{Deterministic: true}
	for _, p := range paths {
		b, err := det.Marshal(protodesc.ToFileDescriptorProto(files[p]))
		if err != nil {
			// Not expected for a linked file; the path alone still counts.
			b = nil
		}
		writeField(h, []byte(p))
		writeField(h, b)
	}
	var fp [sha256.Size]byte
	h.Sum(fp[:0])
	return fp
}

// writeField writes b with its length in front, so that fields cannot run
// into each other.
func writeField(h hash.Hash, b []byte) {
	var n [binary.MaxVarintLen64]byte
	h.Write(n[:binary.PutUvarint(n[:], uint64(len(b)))])
	h.Write(b)
}

// load tries src until it succeeds or ctx ends. Each distinct error is
// logged once.
func (u *Upstream) load(ctx context.Context) {
	backoff := initialBackoff
	var logged string
	for {
		stamp, _ := statSource(u.src)
		c, err := u.src.Load(ctx)
		if err == nil {
			u.stamp = stamp
			u.fingerprint = fingerprintOf(c)
			u.catalog.Store(c)
			u.setLoadErr(nil)
			u.loadedOnce.Do(func() { close(u.loaded) })
			u.logger.Info("upstream schema loaded", "source", u.src.String(), "methods", len(c.methods))
			if p := c.UnmatchedExpose(); len(p) > 0 {
				u.logger.Warn("expose patterns match no method of the upstream: check them for typing errors (-expose takes a full name glob such as pkg.Service.* or a service full name)",
					"patterns", p, "source", u.src.String())
			}
			if u.onLoad != nil {
				u.onLoad(c)
			}
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
		case <-u.refresh:
			t.Stop()
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
				u.logger.Warn("upstream connection failed, reconnecting", "target", u.cc.Target(),
					"hint", "check that the target is a running gRPC server, and that TLS (-upstream-tls) is used if and only if it serves TLS")
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

// Source describes where the schema comes from, as the log names it
// ("server reflection of HOST:PORT", "descriptor set FILE").
func (u *Upstream) Source() string {
	if u.src == nil {
		return ""
	}
	return u.src.String()
}

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
