package wampv1_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"math/big"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/wampbridge/grpcwamp/bridge/wampv1"
)

// FuzzDecode checks, for any input, that Decode does not panic, that it
// agrees with refDecode (the same rules written plainly on top of
// encoding/json), and that what decodes re-encodes to valid JSON that
// decodes to an equal message.
func FuzzDecode(f *testing.F) {
	for _, tc := range decodeCases {
		f.Add([]byte(tc.frame))
	}
	for _, tc := range decodeErrorCases {
		f.Add([]byte(tc.frame))
	}
	for _, in := range goldenFrames(f) {
		data, err := os.ReadFile(in)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		orig := bytes.Clone(data)
		m, err := wampv1.Decode(data)
		if !bytes.Equal(data, orig) {
			t.Fatalf("Decode modified its input")
		}
		want, wantErr := refDecode(data)
		if err != nil {
			if m != nil {
				t.Fatalf("Decode(%q) returned both %s and %v", data, describe(m), err)
			}
			if !sameErrorKind(err, wantErr) {
				t.Fatalf("Decode(%q) error = %v; reference says %v", data, err, wantErr)
			}
			return
		}
		if wantErr != nil {
			t.Fatalf("Decode(%q) = %s; reference says %v", data, describe(m), wantErr)
		}
		if !reflect.DeepEqual(m, want) {
			t.Fatalf("Decode(%q)\n got %s\nwant %s", data, describe(m), describe(want))
		}

		enc := wampv1.Encode(m)
		if !utf8.Valid(enc) || !json.Valid(enc) {
			t.Fatalf("Encode(%s) = %q, not valid UTF-8 JSON", describe(m), enc)
		}
		if app := wampv1.Append([]byte("x"), m); string(app[1:]) != string(enc) {
			t.Fatalf("Append = %q, Encode = %q", app[1:], enc)
		}
		m2, err := wampv1.Decode(enc)
		if err != nil {
			t.Fatalf("Decode(Encode(Decode(%q))) = %v; encoded %q", data, err, enc)
		}
		if !reflect.DeepEqual(m, m2) {
			t.Fatalf("round trip of %q through %q:\n got %s\nwant %s", data, enc, describe(m2), describe(m))
		}
	})
}

func sameErrorKind(got, want error) bool {
	for _, sentinel := range []error{wampv1.ErrNotArray, wampv1.ErrUnknownType, wampv1.ErrMalformed} {
		if errors.Is(got, sentinel) != errors.Is(want, sentinel) {
			return false
		}
	}
	var gf, wf *wampv1.FrameError
	if errors.As(got, &gf) && errors.As(want, &wf) {
		return gf.Type == wf.Type && gf.CallID == wf.CallID && gf.HasCallID == wf.HasCallID
	}
	var gu, wu *wampv1.UnknownTypeError
	if errors.As(got, &gu) && errors.As(want, &wu) {
		return gu.Type == wu.Type
	}
	return true
}

// nesting is how deep the arrays and objects of the valid JSON data nest.
func nesting(data []byte) int {
	depth, deepest, inString := 0, 0, false
	for i := 0; i < len(data); i++ {
		switch c := data[i]; {
		case inString && c == '\\':
			i++
		case c == '"':
			inString = !inString
		case inString:
		case c == '[' || c == '{':
			depth++
			deepest = max(deepest, depth)
		case c == ']' || c == '}':
			depth--
		}
	}
	return deepest
}

// refDecode decodes a frame by the package's documented rules using
// encoding/json for all parsing, as an independent oracle for the
// hand-written scanner. Its errors carry the right kind only.
func refDecode(data []byte) (wampv1.Message, error) {
	if !utf8.Valid(data) {
		return nil, wampv1.ErrNotArray
	}
	var elems []json.RawMessage
	if err := json.Unmarshal(data, &elems); err != nil || len(elems) == 0 {
		return nil, wampv1.ErrNotArray
	}
	id, ok := refInt(elems[0])
	if !ok {
		// An integer beyond int is a type id too, which no frame has.
		if c := elems[0][0]; (c == '-' || c >= '0' && c <= '9') && refWhole(elems[0]) {
			if c == '-' {
				return nil, &wampv1.UnknownTypeError{Type: math.MinInt}
			}
			return nil, &wampv1.UnknownTypeError{Type: math.MaxInt}
		}
		return nil, wampv1.ErrNotArray
	}
	t := wampv1.Type(id)
	n := len(elems)
	var callID string
	var hasCallID bool
	if (t == wampv1.TypeCall || t == wampv1.TypeCallCancel) && n > 1 {
		callID, hasCallID = refString(elems[1])
	}
	bad := &wampv1.FrameError{Type: t, CallID: callID, HasCallID: hasCallID}
	switch t {
	case wampv1.TypePrefix, wampv1.TypeCall, wampv1.TypeSubscribe, wampv1.TypeUnsubscribe, wampv1.TypePublish, wampv1.TypeCallCancel:
		if nesting(data) > wampv1.MaxNesting {
			return nil, bad
		}
	}
	arity := func(min, max int) bool { return n >= min && n <= max }
	strs := func(idx ...int) ([]string, bool) {
		out := make([]string, len(idx))
		for i, k := range idx {
			s, ok := refString(elems[k])
			if !ok {
				return nil, false
			}
			out[i] = s
		}
		return out, true
	}
	switch t {
	case wampv1.TypeWelcome:
		if !arity(4, 4) {
			return nil, bad
		}
		s, ok1 := strs(1, 3)
		v, ok2 := refInt(elems[2])
		if !ok1 || !ok2 {
			return nil, bad
		}
		return &wampv1.Welcome{SessionID: s[0], ProtocolVersion: v, ServerIdent: s[1]}, nil
	case wampv1.TypePrefix:
		if !arity(3, 3) {
			return nil, bad
		}
		if s, ok := strs(1, 2); ok {
			return &wampv1.Prefix{Prefix: s[0], URI: s[1]}, nil
		}
	case wampv1.TypeCall:
		if n < 3 || n > 3+wampv1.MaxArgs {
			return nil, bad
		}
		if s, ok := strs(1, 2); ok {
			m := &wampv1.Call{CallID: s[0], ProcURI: s[1]}
			if n > 3 {
				m.Args = elems[3:]
			}
			return m, nil
		}
	case wampv1.TypeCallResult, wampv1.TypeCallProgressResult:
		if !arity(3, 3) {
			return nil, bad
		}
		if s, ok := strs(1); ok {
			if t == wampv1.TypeCallResult {
				return &wampv1.CallResult{CallID: s[0], Result: elems[2]}, nil
			}
			return &wampv1.CallProgressResult{CallID: s[0], Result: elems[2]}, nil
		}
	case wampv1.TypeCallError:
		if !arity(4, 5) {
			return nil, bad
		}
		if s, ok := strs(1, 2, 3); ok {
			m := &wampv1.CallError{CallID: s[0], ErrorURI: s[1], ErrorDesc: s[2]}
			if n == 5 {
				m.ErrorDetails = elems[4]
			}
			return m, nil
		}
	case wampv1.TypeSubscribe, wampv1.TypeUnsubscribe, wampv1.TypeCallCancel:
		if !arity(2, 2) {
			return nil, bad
		}
		if s, ok := strs(1); ok {
			switch t {
			case wampv1.TypeSubscribe:
				return &wampv1.Subscribe{TopicURI: s[0]}, nil
			case wampv1.TypeUnsubscribe:
				return &wampv1.Unsubscribe{TopicURI: s[0]}, nil
			}
			return &wampv1.CallCancel{CallID: s[0]}, nil
		}
	case wampv1.TypeEvent:
		if !arity(3, 3) {
			return nil, bad
		}
		if s, ok := strs(1); ok {
			return &wampv1.Event{TopicURI: s[0], Event: elems[2]}, nil
		}
	case wampv1.TypePublish:
		if !arity(3, 5) {
			return nil, bad
		}
		s, ok := strs(1)
		if !ok {
			return nil, bad
		}
		m := &wampv1.Publish{TopicURI: s[0], Event: elems[2]}
		switch n {
		case 4:
			var b bool
			if bytes.Equal(elems[3], []byte("true")) || bytes.Equal(elems[3], []byte("false")) {
				b = string(elems[3]) == "true"
				m.ExcludeMe = &b
			} else if m.Exclude, ok = refStrings(elems[3]); !ok {
				return nil, bad
			}
		case 5:
			var ok1, ok2 bool
			m.Exclude, ok1 = refStrings(elems[3])
			m.Eligible, ok2 = refStrings(elems[4])
			if !ok1 || !ok2 {
				return nil, bad
			}
		}
		return m, nil
	default:
		return nil, &wampv1.UnknownTypeError{Type: id}
	}
	return nil, bad
}

// refString accepts a JSON string only (encoding/json would also accept
// null into a string).
func refString(raw json.RawMessage) (string, bool) {
	var s string
	if raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

func refStrings(raw json.RawMessage) ([]string, bool) {
	var elems []json.RawMessage
	if raw[0] != '[' || json.Unmarshal(raw, &elems) != nil || len(elems) > wampv1.MaxSessionIDs {
		return nil, false
	}
	out := []string{}
	for _, e := range elems {
		s, ok := refString(e)
		if !ok {
			return nil, false
		}
		out = append(out, s)
	}
	return out, true
}

// refWhole reports whether the JSON number raw is an integer, of any size
// (for short fuzz inputs: an exponent beyond ±1000 leaves a fraction unless
// it is positive).
func refWhole(raw json.RawMessage) bool {
	text := string(raw)
	if i := strings.IndexAny(text, "eE"); i >= 0 {
		exp, err := strconv.Atoi(strings.TrimPrefix(text[i+1:], "+"))
		if err != nil || exp > 1000 || exp < -1000 {
			return strings.Trim(text[:i], "-0.") == "" || err == nil && exp > 0 || err != nil && !strings.HasPrefix(text[i+1:], "-")
		}
	}
	r, ok := new(big.Rat).SetString(text)
	return ok && r.IsInt()
}

// refInt accepts a JSON number whose exact value is an integer that fits an
// int, using math/big (with a guard against exponents too large for it).
func refInt(raw json.RawMessage) (int, bool) {
	if c := raw[0]; c != '-' && (c < '0' || c > '9') {
		return 0, false
	}
	text := string(raw)
	if i := strings.IndexAny(text, "eE"); i >= 0 {
		exp, err := strconv.Atoi(strings.TrimPrefix(text[i+1:], "+"))
		if err != nil || exp > 1000 || exp < -1000 {
			// Too large for big.Rat to be quick; the mantissa of a short
			// fuzz input cannot compensate, so only zero is an integer.
			if strings.Trim(text[:i], "-0.") == "" {
				return 0, true
			}
			return 0, false
		}
	}
	r, ok := new(big.Rat).SetString(text)
	if !ok || !r.IsInt() || !r.Num().IsInt64() {
		return 0, false
	}
	return int(r.Num().Int64()), true
}

// FuzzAppendString compares the string escaping of Append with
// encoding/json (HTML escaping off) for any string, valid UTF-8 or not.
func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "c1", `a"b\c`, "\x00\x1f\u2028é😀", "\xff\xc3(", "<&>"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		checkStringEscaping(t, s)
	})
}

// FuzzPrefixes checks CURIE expansion against its definition: only a
// declared, non-empty prefix before the first ':' is replaced, once.
func FuzzPrefixes(f *testing.F) {
	f.Add("calc", "http://example.com/simple/calc#", "square", "calc:square")
	f.Add("", "http://x/", "a", ":a")
	f.Add("a:b", "http://x/", "c", "a:b:c")
	f.Add("p", "p:", "p:x", "http://example.com")
	f.Fuzz(func(t *testing.T, prefix, uri, rest, other string) {
		var p wampv1.Prefixes
		p.Set(prefix, uri)
		curie := prefix + ":" + rest
		want := curie
		if prefix != "" && !strings.Contains(prefix, ":") {
			want = uri + rest
		}
		if got := p.Expand(curie); got != want {
			t.Fatalf("Set(%q, %q); Expand(%q) = %q, want %q", prefix, uri, curie, got, want)
		}
		want = other
		if i := strings.IndexByte(other, ':'); i > 0 && other[:i] == prefix {
			want = uri + other[i+1:]
		}
		if got := p.Expand(other); got != want {
			t.Fatalf("Set(%q, %q); Expand(%q) = %q, want %q", prefix, uri, other, got, want)
		}
		if p.Len() != 1 {
			t.Fatalf("Len() = %d after one Set", p.Len())
		}
	})
}
