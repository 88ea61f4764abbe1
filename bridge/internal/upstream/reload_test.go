package upstream_test

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/wampbridge/grpcwamp/bridge/internal/upstream"
	bridgetestv1 "github.com/wampbridge/grpcwamp/gen/bridgetest/v1"
	demov1 "github.com/wampbridge/grpcwamp/gen/demo/v1"
)

const (
	msgUnchanged    = "upstream schema unchanged"
	msgReloaded     = "upstream schema reloaded"
	msgReloadFailed = "upstream schema reload failed, keeping the previous schema"
)

var clockMethods = []string{"demo.v1.ClockService.GetProgressiveTime", "demo.v1.ClockService.GetTime"}

// catalogOf builds a new catalog of the services of fds.
func catalogOf(t *testing.T, fds ...protoreflect.FileDescriptor) *upstream.Catalog {
	t.Helper()
	c, err := upstream.NewCatalog(registerAll(t, fds...), servicesOf(fds...))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// switchSource returns its current catalog, or fails with its error.
type switchSource struct {
	mu    sync.Mutex
	cat   *upstream.Catalog
	err   error
	loads int
}

func (s *switchSource) set(c *upstream.Catalog, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cat, s.err = c, err
}

func (s *switchSource) Load(context.Context) (*upstream.Catalog, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.loads++
	if s.err != nil {
		return nil, s.err
	}
	return s.cat, nil
}

func (s *switchSource) String() string { return "switch source" }

type change struct{ added, removed []string }

// watchChanges makes u report its changes on the returned channel.
func watchChanges(u *upstream.Upstream) <-chan change {
	ch := make(chan change, 16)
	u.SetOnChange(func(added, removed []string) { ch <- change{added, removed} })
	return ch
}

// waitCount blocks until rec holds n records with message msg.
func waitCount(t *testing.T, rec *logRecorder, msg string, n int) {
	t.Helper()
	for rec.count(msg) < n {
		select {
		case <-rec.notify:
		case <-t.Context().Done():
			t.Fatalf("%d log records %q, want %d", rec.count(msg), msg, n)
		}
	}
}

func checkChange(t *testing.T, got change, added, removed []string) {
	t.Helper()
	if got.added == nil || got.removed == nil {
		t.Errorf("OnChange(%q, %q): want non-nil slices", got.added, got.removed)
	}
	if !slices.Equal(got.added, added) || !slices.Equal(got.removed, removed) {
		t.Errorf("OnChange(%q, %q), want (%q, %q)", got.added, got.removed, added, removed)
	}
}

// TestRefreshSwapsOnlyOnChange: a reload swaps the catalog, and reports
// the change (OnChange) and the new catalog (OnLoad, which sees the first
// one too), only when the schema changed.
func TestRefreshSwapsOnlyOnChange(t *testing.T) {
	t.Parallel()
	addr, _ := startServer(t, reflectionNone)
	first := catalogOf(t, bridgetestv1.File_bridgetest_v1_test_proto)
	src := &switchSource{cat: first}
	rec := newLogRecorder()
	u := upstream.New(dial(t, addr), src, slog.New(rec))
	loads := make(chan *upstream.Catalog, 16)
	u.SetOnLoad(func(c *upstream.Catalog) { loads <- c })
	changes := watchChanges(u)
	stop := run(t, u)
	waitFor(t, u.Loaded(), "the schema to load")
	if got := waitFor(t, loads, "the first load"); got != first {
		t.Fatal("OnLoad did not get the first catalog")
	}

	// The same schema again, as a new catalog: nothing changes.
	src.set(catalogOf(t, bridgetestv1.File_bridgetest_v1_test_proto), nil)
	u.Refresh()
	waitCount(t, rec, msgUnchanged, 1)
	if u.Catalog() != first {
		t.Fatal("an unchanged schema replaced the catalog")
	}
	// Nor does a failed reload.
	src.set(nil, errors.New("upstream gone"))
	u.Refresh()
	waitCount(t, rec, msgReloadFailed, 1)

	// A service more: swapped and reported.
	both := catalogOf(t, bridgetestv1.File_bridgetest_v1_test_proto, demov1.File_demo_v1_clock_proto)
	src.set(both, nil)
	u.Refresh()
	checkChange(t, waitFor(t, changes, "the change"), clockMethods, []string{})
	if u.Catalog() != both {
		t.Fatal("Catalog() is not the reloaded catalog")
	}
	if got := waitFor(t, loads, "the reload"); got != both {
		t.Fatal("OnLoad did not get the reloaded catalog")
	}
	if _, ok := u.Catalog().Lookup("demo.v1.ClockService.GetTime"); !ok {
		t.Error("the new method is not in the catalog")
	}

	// And one less.
	src.set(catalogOf(t, demov1.File_demo_v1_clock_proto), nil)
	u.Refresh()
	got := waitFor(t, changes, "the change")
	checkChange(t, got, []string{}, []string{
		"bridgetest.v1.TestService.Chat", "bridgetest.v1.TestService.Echo", "bridgetest.v1.TestService.Fail",
		"bridgetest.v1.TestService.Stream", "bridgetest.v1.TestService.Sum",
	})
	stop()
	if n := rec.count(msgReloaded); n != 2 {
		t.Errorf("%d reloads logged, want 2", n)
	}
	select {
	case c := <-changes:
		t.Errorf("unexpected change %v", c)
	default:
	}
	waitFor(t, loads, "the last reload")
	select {
	case <-loads:
		t.Error("OnLoad called more than once per catalog")
	default:
	}
}

func TestRefreshFailureKeepsCatalog(t *testing.T) {
	t.Parallel()
	addr, _ := startServer(t, reflectionNone)
	first := catalogOf(t, bridgetestv1.File_bridgetest_v1_test_proto)
	src := &switchSource{cat: first}
	rec := newLogRecorder()
	u := upstream.New(dial(t, addr), src, slog.New(rec))
	changes := watchChanges(u)
	stop := run(t, u)
	waitFor(t, u.Loaded(), "the schema to load")

	src.set(nil, errors.New("upstream gone"))
	u.Refresh()
	waitCount(t, rec, msgReloadFailed, 1)
	if u.Catalog() != first {
		t.Fatal("a failed reload replaced the catalog")
	}
	if u.Catalog() == nil {
		t.Fatal("a failed reload dropped the catalog")
	}
	u.Refresh() // fails the same way, unless still pending: not logged again

	// Reloads run one at a time, in order: once the change is seen, any
	// earlier reload has been handled. The Refresh above may still be
	// pending and load the new schema; this one makes sure a load after
	// the switch happens either way.
	both := catalogOf(t, bridgetestv1.File_bridgetest_v1_test_proto, demov1.File_demo_v1_clock_proto)
	src.set(both, nil)
	u.Refresh()
	checkChange(t, waitFor(t, changes, "the change"), clockMethods, []string{})
	stop()
	if n := rec.count(msgReloadFailed); n != 1 {
		t.Errorf("%d failed reloads logged, want 1 (each distinct error once)", n)
	}
	if u.Catalog() != both {
		t.Error("Catalog() is not the reloaded catalog")
	}
}

// rewriteSet replaces the descriptor set file at path, as a deploy would,
// with one of fds and their imports.
func rewriteSet(t *testing.T, path string, fds ...protoreflect.FileDescriptor) {
	t.Helper()
	var set descriptorpb.FileDescriptorSet
	for _, fd := range withDeps(nil, fds...) {
		set.File = append(set.File, protodesc.ToFileDescriptorProto(fd))
	}
	b, err := proto.Marshal(&set)
	if err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(filepath.Dir(path), "new.binpb")
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func TestRefreshFileSource(t *testing.T) {
	t.Parallel()
	addr, _ := startServer(t, reflectionNone)
	path := generatedSet(t)
	rec := newLogRecorder()
	u := upstream.New(dial(t, addr), upstream.NewFileSource(path), slog.New(rec))
	changes := watchChanges(u)
	run(t, u)
	waitFor(t, u.Loaded(), "the schema to load")
	first := u.Catalog()

	u.Refresh() // the same file: read again, unchanged
	waitCount(t, rec, msgUnchanged, 1)
	if u.Catalog() != first {
		t.Fatal("an unchanged file replaced the catalog")
	}

	rewriteSet(t, path, bridgetestv1.File_bridgetest_v1_test_proto)
	u.Refresh()
	checkChange(t, waitFor(t, changes, "the change"), []string{}, clockMethods)
	if _, ok := u.Catalog().Lookup("demo.v1.ClockService.GetTime"); ok {
		t.Error("a removed method is still in the catalog")
	}

	// A broken file keeps the catalog.
	cur := u.Catalog()
	if err := os.WriteFile(path, []byte("not a descriptor set"), 0o600); err != nil {
		t.Fatal(err)
	}
	u.Refresh()
	waitCount(t, rec, msgReloadFailed, 1)
	if u.Catalog() != cur {
		t.Error("a broken file replaced the catalog")
	}
}

func TestRefreshFilePeriodic(t *testing.T) {
	t.Parallel()
	addr, _ := startServer(t, reflectionNone)
	path := generatedSet(t)
	u := upstream.New(dial(t, addr), upstream.NewFileSource(path), nil)
	u.SetRefreshInterval(time.Millisecond)
	changes := watchChanges(u)
	run(t, u)
	waitFor(t, u.Loaded(), "the schema to load")

	// No Refresh: the period sees the file change on disk.
	rewriteSet(t, path, bridgetestv1.File_bridgetest_v1_test_proto)
	checkChange(t, waitFor(t, changes, "the change"), []string{}, clockMethods)
	rewriteSet(t, path, bridgetestv1.File_bridgetest_v1_test_proto, demov1.File_demo_v1_clock_proto)
	checkChange(t, waitFor(t, changes, "the change"), clockMethods, []string{})
}
