package wampv1

import "strings"

// Prefixes holds the CURIE prefixes one session declared with PREFIX frames.
// The zero value is an empty set ready to use; a nil *Prefixes expands
// nothing. A Prefixes is not safe for concurrent use: it belongs to the
// session's reader.
type Prefixes struct {
	m map[string]string
}

// Set declares prefix to stand for uri. WAMP v1 lets a client declare a
// prefix again; the last declaration wins and only affects URIs expanded
// afterwards. Set stores any prefix it is given, but an empty prefix or one
// containing ':' can never match in [Prefixes.Expand]; callers that bound
// the number of prefixes per session use [Prefixes.Len] and
// [Prefixes.Has]: declaring a prefix again adds none.
func (p *Prefixes) Set(prefix, uri string) {
	if p.m == nil {
		p.m = make(map[string]string)
	}
	p.m[prefix] = uri
}

// Expand resolves a CURIE: "prefix:rest" becomes uri+"rest" when prefix was
// declared with [Prefixes.Set]. The prefix is everything before the first
// ':' and must not be empty. Anything else, including a full URI such as
// "http://example.com/calc#add" whose scheme was never declared as a prefix,
// is returned unchanged. Expansion happens once: the result is not expanded
// again.
func (p *Prefixes) Expand(s string) string {
	if p == nil || len(p.m) == 0 {
		return s
	}
	i := strings.IndexByte(s, ':')
	if i <= 0 {
		return s
	}
	uri, ok := p.m[s[:i]]
	if !ok {
		return s
	}
	return uri + s[i+1:]
}

// Has reports whether prefix has been declared.
func (p *Prefixes) Has(prefix string) bool {
	if p == nil {
		return false
	}
	_, ok := p.m[prefix]
	return ok
}

// Len returns the number of distinct prefixes declared.
func (p *Prefixes) Len() int {
	if p == nil {
		return 0
	}
	return len(p.m)
}
