package invoke

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"sync"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/wampbridge/grpcwamp/bridge/internal/schema"
	"github.com/wampbridge/grpcwamp/bridge/internal/upstream"
)

// The built-in procedures, named after WAMP's reflection sketch. They run
// in the bridge, never upstream, and answer with one plain result in every
// stream mode. A method that claims one of these names through its
// bridge.v1 options is shadowed for that name: the built-in wins.
const (
	// ProcedureList takes no argument and returns every procedure as
	// {"procedures": [...]}, sorted by method full name.
	ProcedureList = "wamp.reflection.procedure.list"
	// ProcedureDescribe takes one argument, a procedure name resolved as a
	// CALL resolves it, and returns that procedure's description.
	ProcedureDescribe = "wamp.reflection.procedure.describe"
)

// builtin returns the built-in procedure called name, if there is one. The
// catalog is the one the call will describe.
func (c *Core) builtin(name string, cat *upstream.Catalog) (*Procedure, bool) {
	var run func(args []json.RawMessage) (json.RawMessage, error)
	switch name {
	case ProcedureList:
		run = func(args []json.RawMessage) (json.RawMessage, error) {
			if !noArgs(args) {
				return nil, status.Errorf(codes.InvalidArgument,
					"procedure %q takes no argument, got %d", name, len(args))
			}
			return c.renderedFor(cat).list()
		}
	case ProcedureDescribe:
		run = func(args []json.RawMessage) (json.RawMessage, error) {
			var target string
			if len(args) != 1 || json.Unmarshal(args[0], &target) != nil || bytes.Equal(bytes.TrimSpace(args[0]), []byte("null")) {
				return nil, status.Errorf(codes.InvalidArgument,
					"procedure %q takes one argument, the procedure name to describe as a string, got %s",
					name, describeArgs(args))
			}
			if isBuiltin(target) {
				return nil, status.Errorf(codes.InvalidArgument,
					"procedure %q: %q is a built-in procedure of the bridge, not a gRPC method: it has no request or response message to describe",
					name, target)
			}
			m, ok := cat.Lookup(target)
			if !ok {
				return nil, status.Errorf(codes.Unimplemented, "procedure %q: %s", name, noSuchProcedure(clip(target), false))
			}
			return c.renderedFor(cat).describe(m)
		}
	default:
		return nil, false
	}
	return &Procedure{
		name:   name,
		method: &upstream.Method{FullName: name, Path: name, Kind: upstream.Unary, URIs: []string{name}},
		core:   c,
		local:  run,
	}, true
}

// ProcedureList returns the JSON of [ProcedureList] for the current
// catalog, for front ends other than WAMP (GET /procedures). The JSON is
// shared: the caller must not modify it. The error is a
// gRPC status: UNAVAILABLE while the upstream is not ready.
func (c *Core) ProcedureList() (json.RawMessage, error) {
	p, err := c.Resolve(ProcedureList)
	if err != nil {
		return nil, err
	}
	return p.local(nil)
}

// callLocal runs a built-in procedure: one result, then the end.
func (p *Procedure) callLocal(args []json.RawMessage, emit func(json.RawMessage) error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			p.core.logger.Error("panic in built-in procedure", "procedure", p.name, "panic", r)
			err = status.Errorf(codes.Internal, "procedure %q: internal error", p.name)
		}
	}()
	b, err := p.local(args)
	if err != nil {
		return err
	}
	return emit(b)
}

func isBuiltin(name string) bool { return name == ProcedureList || name == ProcedureDescribe }

// noArgs reports whether args mean "no argument": none, or one null, as for
// a request message.
func noArgs(args []json.RawMessage) bool {
	return len(args) == 0 || len(args) == 1 && bytes.Equal(bytes.TrimSpace(args[0]), []byte("null"))
}

func describeArgs(args []json.RawMessage) string {
	if len(args) == 0 {
		return "none"
	}
	parts := make([]string, len(args))
	for i, a := range args {
		parts[i] = string(a)
	}
	return clip(strings.Join(parts, ", "))
}

// clip cuts s, the client's words quoted in an error, to 200 bytes: a
// client must not make the bridge send back or log megabytes of its input.
func clip(s string) string {
	if len(s) > 200 {
		s = strings.ToValidUTF8(s[:200], "") + "..."
	}
	return s
}

// visibleURIs returns the names of m that reach it: the built-ins shadow
// the names they share with it.
func visibleURIs(m *upstream.Method) []string {
	uris := make([]string, 0, len(m.URIs))
	for _, u := range m.URIs {
		if !isBuiltin(u) {
			uris = append(uris, u)
		}
	}
	return uris
}

func describe(m *upstream.Method) *schema.Procedure {
	return schema.Describe(m.Desc, visibleURIs(m))
}

func listOf(cat *upstream.Catalog) *schema.List {
	methods := cat.Methods()
	ms := make([]schema.Method, 0, len(methods))
	for _, m := range methods {
		ms = append(ms, schema.Method{Desc: m.Desc, URIs: visibleURIs(m)})
	}
	return schema.NewList(ms)
}

// rendered caches the JSON the built-ins answer with for one catalog.
// Rendering expands every message type a method uses, field by field, so a
// schema whose types share others renders far larger than it is, and any
// client may ask for it as often as it likes: each catalog's list, and each
// of its descriptions, is rendered once, when first asked for, however many
// ask at once. The JSON is shared: callers must not modify it.
type rendered struct {
	catalog *upstream.Catalog
	list    func() (json.RawMessage, error) // sync.OnceValues

	mu        sync.Mutex
	described map[string]func() (json.RawMessage, error) // by method full name; sync.OnceValues
}

// renderedFor returns the cache of cat. A new catalog (a schema reload)
// gets a new one, which replaces the old only while cat is the upstream's
// current catalog: a call still resolving against the old one does not
// throw the new one's away.
func (c *Core) renderedFor(cat *upstream.Catalog) *rendered {
	if r := c.rendered.Load(); r != nil && r.catalog == cat {
		return r
	}
	r := &rendered{catalog: cat, described: map[string]func() (json.RawMessage, error){}}
	r.list = sync.OnceValues(func() (json.RawMessage, error) { return marshal(ProcedureList, listOf(cat)) })
	if c.up == nil || c.up.Catalog() == cat {
		c.rendered.Store(r)
	}
	return r
}

// describe returns the description of m, a method of r's catalog.
func (r *rendered) describe(m *upstream.Method) (json.RawMessage, error) {
	r.mu.Lock()
	render, ok := r.described[m.FullName]
	if !ok {
		render = sync.OnceValues(func() (json.RawMessage, error) { return marshal(ProcedureDescribe, describe(m)) })
		r.described[m.FullName] = render
	}
	r.mu.Unlock()
	return render()
}

func marshal(procedure string, v any) (json.RawMessage, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, status.Errorf(codes.Internal, "procedure %q: cannot render the description as JSON: %v", procedure, err)
	}
	// Clipped: the result is shared (see rendered), so an append to it
	// must copy rather than write into spare capacity others share.
	return slices.Clip(b), nil
}
