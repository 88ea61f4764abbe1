package upstream

import (
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"
)

// ErrConflict marks errors of two methods, or an alias and a method,
// claiming one procedure URI, and of aliases naming no method: errors of
// the configuration against the schema, which retrying does not fix.
var ErrConflict = errors.New("upstream: procedure naming conflict")

// namingError is an error of the naming options against the schema that
// is no conflict (an alias naming no method): it matches ErrConflict, for
// what to do about it, without being called a conflict.
type namingError struct{ msg string }

func (e *namingError) Error() string        { return "upstream: " + e.msg }
func (e *namingError) Is(target error) bool { return target == ErrConflict }

// Naming holds the naming options applied to every loaded catalog.
type Naming struct {
	// Aliases maps extra procedure URIs to methods, given by full name
	// ("pkg.Service.Method") or gRPC path ("/pkg.Service/Method").
	Aliases map[string]string
	// Expose, when not empty, keeps only the methods whose full name
	// matches one pattern: a path.Match glob on the full name, or a
	// service full name meaning all its methods.
	Expose []string
}

// Validate checks the patterns' syntax.
func (n Naming) Validate() error {
	for _, p := range n.Expose {
		if _, err := path.Match(p, ""); err != nil {
			return fmt.Errorf("expose pattern %q: %w", p, err)
		}
	}
	for a, t := range n.Aliases {
		if a == "" || t == "" {
			return fmt.Errorf("alias %q=%q: both the URI and the method must be set", a, t)
		}
	}
	return nil
}

// MatchMethod reports whether the method fullName ("pkg.Service.Method")
// matches pattern: a path.Match glob on the full name ("pkg.*.Get*"), or a
// service full name meaning all its methods. A malformed pattern matches
// nothing; check patterns with [ValidPattern] first.
func MatchMethod(pattern, fullName string) bool {
	if pattern == fullName[:max(strings.LastIndexByte(fullName, '.'), 0)] {
		return true
	}
	ok, _ := path.Match(pattern, fullName)
	return ok
}

// ValidPattern returns an error naming pattern when it is not a valid glob.
func ValidPattern(pattern string) error {
	if _, err := path.Match(pattern, ""); err != nil {
		return fmt.Errorf("method pattern %q: %w", pattern, err)
	}
	return nil
}

// Apply returns a catalog holding the exposed methods of c, with the
// aliases added to their URIs. An alias naming no exposed method, or
// claiming a URI another method answers to, is an error wrapping
// [ErrConflict].
func (c *Catalog) Apply(n Naming) (*Catalog, error) {
	if len(n.Aliases) == 0 && len(n.Expose) == 0 {
		return c, nil
	}
	out := &Catalog{types: c.types, byURI: make(map[string]*Method)}
	idx := make(map[string]*Method)
	matched := make([]bool, len(n.Expose)) // per pattern: some method matched it
	for _, m := range c.methods {
		// Without patterns every method is exposed; with them, the ones
		// any pattern matches.
		exposed := len(n.Expose) == 0
		for i, p := range n.Expose {
			if MatchMethod(p, m.FullName) {
				matched[i], exposed = true, true
			}
		}
		if !exposed {
			continue
		}
		cp := *m
		cp.URIs = slices.Clone(m.URIs)
		out.methods = append(out.methods, &cp)
		idx[cp.FullName], idx[cp.Path] = &cp, &cp
	}
	for i, p := range n.Expose {
		if !matched[i] {
			out.unexposing = append(out.unexposing, p)
		}
	}
	aliases := make([]string, 0, len(n.Aliases))
	for a := range n.Aliases {
		aliases = append(aliases, a)
	}
	slices.Sort(aliases)
	for _, a := range aliases {
		t := n.Aliases[a]
		m, ok := idx[t]
		if !ok {
			return nil, &namingError{fmt.Sprintf("alias %q: the upstream has no exposed method %q: name it by full name (pkg.Service.Method) or gRPC path (/pkg.Service/Method), and check that -expose includes it",
				a, t)}
		}
		if !slices.Contains(m.URIs, a) {
			m.URIs = append(m.URIs, a)
		}
	}
	owner := make(map[string]string) // URI -> description of who claims it
	for _, m := range out.methods {
		for _, u := range m.URIs {
			who := m.FullName
			if t, ok := n.Aliases[u]; ok && idx[t] == m && u != m.FullName && u != m.Path {
				who = fmt.Sprintf("alias %s=%s", u, t)
			}
			if other, ok := owner[u]; ok {
				return nil, fmt.Errorf("%w: procedure URI %q is claimed by both %s and %s", ErrConflict, u, other, who)
			}
			owner[u] = who
			out.byURI[u] = m
		}
	}
	return out, nil
}

type namingSource struct {
	src Source
	n   Naming
}

// UnmatchedExpose returns the expose patterns that matched no method of
// the catalog Apply was given: most likely typing errors, since they hide
// nothing and expose nothing.
func (c *Catalog) UnmatchedExpose() []string { return c.unexposing }

// WithNaming returns a source loading src's catalogs with the naming
// options n applied (see [Catalog.Apply]).
func WithNaming(src Source, n Naming) Source {
	if len(n.Aliases) == 0 && len(n.Expose) == 0 {
		return src
	}
	return namingSource{src, n}
}

func (s namingSource) Load(ctx context.Context) (*Catalog, error) {
	c, err := s.src.Load(ctx)
	if err != nil {
		return nil, err
	}
	return c.Apply(s.n)
}

func (s namingSource) String() string { return s.src.String() }
