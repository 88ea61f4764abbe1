package upstream_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/wampbridge/grpcwamp/bridge/internal/upstream"
)

const (
	echoName = "bridgetest.v1.TestService.Echo"
	failName = "bridgetest.v1.TestService.Fail"
)

func TestApplyAliases(t *testing.T) {
	t.Parallel()
	c, err := generatedCatalog(t).Apply(upstream.Naming{Aliases: map[string]string{
		"by.name": echoName,
		"by.path": "/demo.v1.ClockService/GetTime",
	}})
	if err != nil {
		t.Fatal(err)
	}
	for uri, want := range map[string]string{"by.name": echoName, "by.path": "demo.v1.ClockService.GetTime", echoName: echoName, "GetTime": "demo.v1.ClockService.GetTime"} {
		m, ok := c.Lookup(uri)
		if !ok || m.FullName != want {
			t.Errorf("Lookup(%q) = %v, %v; want %s", uri, m, ok, want)
		}
	}
	m, _ := c.Lookup(echoName)
	if m.URIs[len(m.URIs)-1] != "by.name" {
		t.Errorf("Echo URIs %q lack the alias last", m.URIs)
	}
	// The original catalog is unchanged.
	if _, ok := generatedCatalog(t).Lookup("by.name"); ok {
		t.Error("alias leaked into the source catalog")
	}
}

func TestApplyUnknownAlias(t *testing.T) {
	t.Parallel()
	_, err := generatedCatalog(t).Apply(upstream.Naming{Aliases: map[string]string{"x": "no.such.Method"}})
	if !errors.Is(err, upstream.ErrConflict) || !strings.Contains(err.Error(), `alias "x"`) || !strings.Contains(err.Error(), `"no.such.Method"`) ||
		!strings.Contains(err.Error(), "-expose") {
		t.Errorf("err = %v, want ErrConflict naming the alias, the method, and -expose as a cause", err)
	}
	// A missing method is no conflict, and the message does not say so.
	if strings.Contains(err.Error(), "conflict") {
		t.Errorf("err = %v, calls an alias naming no method a conflict", err)
	}
}

func TestApplyExpose(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		patterns  []string
		want      []string
		unmatched []string // patterns reported as matching no method
	}{
		{[]string{"demo.v1.ClockService.*"}, []string{"demo.v1.ClockService.GetProgressiveTime", "demo.v1.ClockService.GetTime"}, nil},
		{[]string{"demo.v1.ClockService"}, []string{"demo.v1.ClockService.GetProgressiveTime", "demo.v1.ClockService.GetTime"}, nil},
		{[]string{"*.GetTime", "*.Echo"}, []string{echoName, "demo.v1.ClockService.GetTime"}, nil},
		{[]string{"nothing"}, nil, []string{"nothing"}},
		{[]string{"demo.v1.ClockServce.*", "*.Echo", "demo.v1.Clock"}, []string{echoName}, []string{"demo.v1.ClockServce.*", "demo.v1.Clock"}},
	} {
		c, err := generatedCatalog(t).Apply(upstream.Naming{Expose: tc.patterns})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, m := range c.Methods() {
			got = append(got, m.FullName)
		}
		if strings.Join(got, ",") != strings.Join(tc.want, ",") {
			t.Errorf("expose %q: methods %q, want %q", tc.patterns, got, tc.want)
		}
		if u := c.UnmatchedExpose(); !slices.Equal(u, tc.unmatched) {
			t.Errorf("expose %q: UnmatchedExpose() = %q, want %q", tc.patterns, u, tc.unmatched)
		}
		if _, ok := c.Lookup("test.Fail"); ok {
			t.Errorf("expose %q: test.Fail still resolves", tc.patterns)
		}
	}
	if err := (upstream.Naming{Expose: []string{"["}}).Validate(); err == nil || !strings.Contains(err.Error(), `"["`) {
		t.Errorf("Validate bad pattern: %v", err)
	}
}

func TestApplyConflict(t *testing.T) {
	t.Parallel()
	for alias, other := range map[string]string{
		failName:  failName,                       // another method's full name
		"GetTime": "demo.v1.ClockService.GetTime", // another method's procedure option
	} {
		_, err := generatedCatalog(t).Apply(upstream.Naming{Aliases: map[string]string{alias: echoName}})
		if !errors.Is(err, upstream.ErrConflict) {
			t.Fatalf("alias %q: err = %v, want ErrConflict", alias, err)
		}
		for _, want := range []string{`"` + alias + `"`, "alias " + alias + "=" + echoName, other} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q lacks %q", err, want)
			}
		}
	}
}
