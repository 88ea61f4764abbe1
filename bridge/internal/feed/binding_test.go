package feed

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestParseBinding(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want Binding
	}{
		{"clock.ticks demo.v1.ClockService.GetProgressiveTime", Binding{Topic: "clock.ticks", Procedure: "demo.v1.ClockService.GetProgressiveTime"}},
		{"  clock \t p.S.M   {\"count\": 3}  ", Binding{Topic: "clock", Procedure: "p.S.M", Request: json.RawMessage(`{"count": 3}`)}},
		{"ticker.{symbol} p.S.Watch {\"depth\":1}", Binding{Topic: "ticker.{symbol}", Procedure: "p.S.Watch", Request: json.RawMessage(`{"depth":1}`)}},
		{"t p.S.M [1, 2]", Binding{Topic: "t", Procedure: "p.S.M", Request: json.RawMessage(`[1, 2]`)}},
		{"{sym}.quotes p.S.M", Binding{Topic: "{sym}.quotes", Procedure: "p.S.M"}},
	}
	for _, tt := range tests {
		got, err := ParseBinding(tt.in)
		if err != nil {
			t.Errorf("ParseBinding(%q): %v", tt.in, err)
			continue
		}
		if got.Topic != tt.want.Topic || got.Procedure != tt.want.Procedure || string(got.Request) != string(tt.want.Request) {
			t.Errorf("ParseBinding(%q) = %+v (request %s), want %+v (request %s)", tt.in, got, got.Request, tt.want, tt.want.Request)
		}
	}
}

func TestParseBindingErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want string // a part of the error
	}{
		{"", "missing topic"},
		{"   ", "missing topic"},
		{"clock.ticks", `missing procedure after topic "clock.ticks"`},
		{"clock p.S.M {count:1}", `request "{count:1}" is not valid JSON`},
		{"clock p.S.M {\"a\":1} extra", "is not valid JSON"},
		{"a.{x}.{y} p.S.M", "more than one placeholder"},
		{"a.{x p.S.M", "unbalanced brace"},
		{"a.}x{ p.S.M", "unbalanced brace"},
		{"a.{} p.S.M", "empty placeholder"},
		{"a.{x} p.S.M [1]", "is not a JSON object"},
		{"a.{x} p.S.M 7", "is not a JSON object"},
	}
	for _, tt := range tests {
		_, err := ParseBinding(tt.in)
		if err == nil {
			t.Errorf("ParseBinding(%q): no error, want one containing %q", tt.in, tt.want)
			continue
		}
		if !errors.Is(err, ErrInvalidBinding) {
			t.Errorf("ParseBinding(%q) = %v, want errors.Is ErrInvalidBinding", tt.in, err)
		}
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseBinding(%q) = %v, want it to contain %q", tt.in, err, tt.want)
		}
	}
	// Errors about the form show the form.
	_, err := ParseBinding("clock.ticks")
	if err == nil || !strings.Contains(err.Error(), "TOPIC PROCEDURE [JSON]") {
		t.Errorf("ParseBinding(%q) = %v, want it to show the expected form", "clock.ticks", err)
	}
}

func TestNewRejects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		bindings []Binding
		opts     Options
		want     string
	}{
		{"duplicate exact", []Binding{{Topic: "a", Procedure: "p.S.M"}, {Topic: "a", Procedure: "p.S.N"}}, Options{}, `topic "a" is bound twice`},
		{"duplicate pattern", []Binding{{Topic: "a.{x}", Procedure: "p.S.M"}, {Topic: "a.{x}", Procedure: "p.S.N"}}, Options{}, `topic "a.{x}" is bound twice`},
		{"two placeholders", []Binding{{Topic: "{a}.{b}", Procedure: "p.S.M"}}, Options{}, "more than one placeholder"},
		{"empty topic", []Binding{{Procedure: "p.S.M"}}, Options{}, "empty topic"},
		{"empty procedure", []Binding{{Topic: "a"}}, Options{}, `topic "a": empty procedure`},
		{"invalid request", []Binding{{Topic: "a", Procedure: "p.S.M", Request: json.RawMessage("{")}}, Options{}, "not valid JSON"},
		{"pattern request not object", []Binding{{Topic: "a.{x}", Procedure: "p.S.M", Request: json.RawMessage(`"s"`)}}, Options{}, "not a JSON object"},
		{"negative MinBackoff", nil, Options{MinBackoff: -1}, "MinBackoff"},
		{"max below min", nil, Options{MinBackoff: 10, MaxBackoff: 5}, "MaxBackoff 5ns is below MinBackoff 10ns"},
	}
	for _, tt := range tests {
		m, err := New(tt.bindings, newFakeCaller(t), newFakePublisher(), tt.opts)
		if err == nil {
			m.Close()
			t.Errorf("%s: New: no error, want one containing %q", tt.name, tt.want)
			continue
		}
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: New: %v, want it to contain %q", tt.name, err, tt.want)
		}
	}
}

func TestNewAcceptsOverlappingPatterns(t *testing.T) {
	t.Parallel()
	// Overlaps other than identical topics are not looked for: the first
	// pattern wins.
	m, err := New([]Binding{
		{Topic: "a.{x}", Procedure: "p.S.First"},
		{Topic: "{y}.b", Procedure: "p.S.Second"},
		{Topic: "a.b", Procedure: "p.S.Exact"},
	}, newFakeCaller(t), newFakePublisher(), Options{})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	defer m.Close()
	for topic, want := range map[string]string{"a.b": "p.S.Exact", "a.c": "p.S.First", "c.b": "p.S.Second", "a.": "", "b": ""} {
		got := ""
		if r := m.lookup(topic); r != nil {
			got = r.Procedure
		}
		if got != want {
			t.Errorf("lookup(%q) = %q, want %q", topic, got, want)
		}
	}
}
