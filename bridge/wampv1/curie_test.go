package wampv1_test

import (
	"testing"

	"github.com/wampbridge/grpcwamp/bridge/wampv1"
)

func TestPrefixes(t *testing.T) {
	t.Parallel()
	var p wampv1.Prefixes // zero value is usable
	if got := p.Expand("calc:square"); got != "calc:square" {
		t.Errorf("empty Prefixes expanded to %q", got)
	}
	p.Set("calc", "http://example.com/simple/calc#")
	p.Set("event", "http://example.com/event#")
	p.Set("", "http://empty/")
	p.Set("a:b", "http://colon/")

	for _, tc := range []struct{ name, in, want string }{
		{"declared", "calc:square", "http://example.com/simple/calc#square"},
		{"empty rest", "calc:", "http://example.com/simple/calc#"},
		{"rest keeps later colons", "event:a:b", "http://example.com/event#a:b"},
		{"undeclared prefix", "api:add", "api:add"},
		{"full URI", "http://example.com/simple/calc#square", "http://example.com/simple/calc#square"},
		{"no colon", "demo.v1.Clock.Now", "demo.v1.Clock.Now"},
		{"grpc path", "/demo.v1.Clock/Now", "/demo.v1.Clock/Now"},
		{"empty prefix never matches", ":square", ":square"},
		{"prefix with colon never matches", "a:b:c", "a:b:c"},
		{"case sensitive", "CALC:square", "CALC:square"},
		{"empty", "", ""},
	} {
		if got := p.Expand(tc.in); got != tc.want {
			t.Errorf("%s: Expand(%q) = %q, want %q", tc.name, tc.in, got, tc.want)
		}
	}
	if got := p.Len(); got != 4 {
		t.Errorf("Len() = %d, want 4", got)
	}

	// WAMP v1 allows declaring a prefix again: the last declaration wins.
	p.Set("calc", "http://example.com/v2/calc#")
	if got := p.Expand("calc:square"); got != "http://example.com/v2/calc#square" {
		t.Errorf("after redeclaring, Expand = %q", got)
	}
	if got := p.Len(); got != 4 {
		t.Errorf("Len() after redeclaring = %d, want 4", got)
	}
	if !p.Has("calc") || p.Has("CALC") || p.Has("calc:") {
		t.Errorf("Has(calc, CALC, calc:) = %t, %t, %t, want true, false, false", p.Has("calc"), p.Has("CALC"), p.Has("calc:"))
	}

	var nilP *wampv1.Prefixes
	if got := nilP.Expand("calc:x"); got != "calc:x" || nilP.Len() != 0 || nilP.Has("calc") {
		t.Errorf("nil Prefixes: Expand = %q, Len = %d, Has = %t", got, nilP.Len(), nilP.Has("calc"))
	}
}

// TestPrefixesFromFrames follows the WAMP v1 example: PREFIX, then a CALL
// with a CURIE.
func TestPrefixesFromFrames(t *testing.T) {
	t.Parallel()
	var p wampv1.Prefixes
	for _, frame := range []string{
		`[1,"calc","http://example.com/simple/calc#"]`,
		`[2,"7DK6TdN4wLiUJgNM","calc:square",23]`,
	} {
		m, err := wampv1.Decode([]byte(frame))
		if err != nil {
			t.Fatal(err)
		}
		switch m := m.(type) {
		case *wampv1.Prefix:
			p.Set(m.Prefix, m.URI)
		case *wampv1.Call:
			if got, want := p.Expand(m.ProcURI), "http://example.com/simple/calc#square"; got != want {
				t.Errorf("Expand(%q) = %q, want %q", m.ProcURI, got, want)
			}
		}
	}
}
