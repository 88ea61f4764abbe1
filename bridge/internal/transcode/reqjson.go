package transcode

import (
	"math"
	"unicode/utf16"
	"unicode/utf8"
)

// This file reads JSON tokens for AppendRequestWire. It accepts a subset of
// what protojson's decoder accepts, and of what encoding/json accepts (which
// Request uses to split positional arguments): plain RFC 8259 JSON, valid
// UTF-8, nothing protojson would read differently. Where protojson is more
// lenient (a number such as `1e` before a delimiter), the fast path refuses
// and Request decides.

// jsonSpace reports whether c is JSON whitespace, as both decoders see it.
func jsonSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func trimJSONSpace(b []byte) []byte {
	for len(b) > 0 && jsonSpace(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && jsonSpace(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

// endsToken reports whether the byte at i of in may follow a number or
// literal: the end of input, whitespace or a structural character that
// can follow a value.
func endsToken(in []byte, i int) bool {
	if i >= len(in) {
		return true
	}
	switch c := in[i]; c {
	case ' ', '\t', '\n', '\r', ',', '}', ']':
		return true
	}
	return false
}

// scanString reads the JSON string starting at in[i] == '"'. It returns
// the index after the closing quote and whether the contents hold escapes,
// or ok false for a string protojson refuses: control characters, invalid
// UTF-8, unknown escapes, \u escapes that are not hex, or a surrogate escape
// that is not a high one followed by an escaped low one.
func scanString(in []byte, i int) (end int, escaped, ok bool) {
	i++
	for i < len(in) {
		c := in[i]
		switch {
		case c == '"':
			return i + 1, escaped, true
		case c < ' ':
			return 0, false, false
		case c == '\\':
			escaped = true
			n := escapeLen(in, i)
			if n == 0 {
				return 0, false, false
			}
			i += n
		case c < utf8.RuneSelf:
			i++
		default:
			r, n := utf8.DecodeRune(in[i:])
			if r == utf8.RuneError && n == 1 {
				return 0, false, false
			}
			i += n
		}
	}
	return 0, false, false
}

// escapeLen returns the length of the escape sequence at in[i] == '\\', or 0
// if protojson would refuse it.
func escapeLen(in []byte, i int) int {
	if i+1 >= len(in) {
		return 0
	}
	switch in[i+1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		return 2
	case 'u':
		r, ok := hex4(in, i+2)
		if !ok {
			return 0
		}
		if !utf16.IsSurrogate(r) {
			return 6
		}
		if i+7 >= len(in) || in[i+6] != '\\' || in[i+7] != 'u' {
			return 0
		}
		r2, ok := hex4(in, i+8)
		if !ok || utf16.DecodeRune(r, r2) == utf8.RuneError {
			return 0
		}
		return 12
	}
	return 0
}

// hex4 reads four hex digits at in[i:].
func hex4(in []byte, i int) (rune, bool) {
	if i+4 > len(in) {
		return 0, false
	}
	var r rune
	for _, c := range in[i : i+4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// appendUnescaped appends the contents of a string that scanString
// accepted (without its quotes), with escapes resolved.
func appendUnescaped(dst, s []byte) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		if c != '\\' {
			j := i + 1
			for j < len(s) && s[j] != '\\' {
				j++
			}
			dst = append(dst, s[i:j]...)
			i = j
			continue
		}
		switch s[i+1] {
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r, _ := hex4(s, i+2)
			if utf16.IsSurrogate(r) {
				r2, _ := hex4(s, i+8)
				r = utf16.DecodeRune(r, r2)
				i += 6
			}
			dst = utf8.AppendRune(dst, r)
			i += 6
			continue
		default: // '"', '\\', '/'
			dst = append(dst, s[i+1])
		}
		i += 2
	}
	return dst
}

// number is a JSON number split into its parts, as protojson splits it to
// decide whether it is an integer: the digits before the point (empty for
// a lone 0), those after it without trailing zeros, and the exponent's
// sign and digits.
type number struct {
	neg        bool
	intp, frac []byte
	exp        []byte // with its sign, if any; empty for none
}

// scanNumber reads the strict JSON number at in[i:], which must end where a
// value may end. It refuses what protojson reads in its own way: an
// exponent without digits.
func scanNumber(in []byte, i int) (end int, n number, ok bool) {
	if i < len(in) && in[i] == '-' {
		n.neg = true
		i++
	}
	switch {
	case i >= len(in):
		return 0, n, false
	case in[i] == '0':
		i++
	case '1' <= in[i] && in[i] <= '9':
		s := i
		for i < len(in) && '0' <= in[i] && in[i] <= '9' {
			i++
		}
		n.intp = in[s:i]
	default:
		return 0, n, false
	}
	if i < len(in) && in[i] == '.' {
		i++
		s := i
		for i < len(in) && '0' <= in[i] && in[i] <= '9' {
			i++
		}
		if i == s {
			return 0, n, false
		}
		n.frac = in[s:i]
		for len(n.frac) > 0 && n.frac[len(n.frac)-1] == '0' {
			n.frac = n.frac[:len(n.frac)-1]
		}
	}
	if i < len(in) && (in[i] == 'e' || in[i] == 'E') {
		i++
		s := i
		if i < len(in) && (in[i] == '+' || in[i] == '-') {
			i++
		}
		d := i
		for i < len(in) && '0' <= in[i] && in[i] <= '9' {
			i++
		}
		if i == d {
			return 0, n, false
		}
		n.exp = in[s:i]
	}
	return i, n, true
}

// integer returns the value of n if it is an integer as protojson
// decides: the point may move by the exponent, fraction digits that stay
// behind it must be zeros, and at most 20 digits may come before it when
// the exponent is not negative. The magnitude is returned with the sign;
// ok is false past 64 bits.
func (n number) integer() (mag uint64, neg, ok bool) {
	if len(n.intp) == 0 && len(n.frac) == 0 {
		return 0, false, true // "-0", "0.000e99": zero, whatever the exponent
	}
	exp, ok := n.exponent()
	if !ok {
		return 0, false, false
	}
	var digits, zeros int // digits of intp then frac to use, then zeros
	if exp >= 0 {
		if len(n.frac) > exp || len(n.intp)+exp > 20 {
			return 0, false, false
		}
		digits, zeros = len(n.intp)+len(n.frac), exp-len(n.frac)
	} else {
		if len(n.frac) > 0 {
			return 0, false, false
		}
		cut := len(n.intp) + exp
		if cut < 0 {
			return 0, false, false
		}
		for _, c := range n.intp[cut:] {
			if c != '0' {
				return 0, false, false
			}
		}
		digits = cut
	}
	for k := range digits + zeros {
		d := uint64(0)
		switch {
		case k < len(n.intp):
			d = uint64(n.intp[k] - '0')
		case k < digits:
			d = uint64(n.frac[k-len(n.intp)] - '0')
		}
		if mag > (math.MaxUint64-d)/10 {
			return 0, false, false
		}
		mag = mag*10 + d
	}
	return mag, n.neg, true
}

// exponent parses the exponent as a 32-bit integer, as protojson does.
func (n number) exponent() (int, bool) {
	e := n.exp
	neg := false
	if len(e) > 0 && (e[0] == '+' || e[0] == '-') {
		neg = e[0] == '-'
		e = e[1:]
	}
	v := int64(0)
	for _, c := range e {
		v = v*10 + int64(c-'0')
		if v > 1<<31 {
			return 0, false
		}
	}
	if neg {
		v = -v
	}
	if v > math.MaxInt32 || v < math.MinInt32 {
		return 0, false
	}
	return int(v), true
}

// signed returns n as an integer of bits bits.
func (n number) signed(bits int) (int64, bool) {
	mag, neg, ok := n.integer()
	if !ok {
		return 0, false
	}
	limit := uint64(1) << (bits - 1)
	if neg {
		if mag > limit {
			return 0, false
		}
		return int64(-mag), true // -2^(bits-1) wraps to itself, as intended
	}
	if mag >= limit {
		return 0, false
	}
	return int64(mag), true
}

// unsigned returns n as an unsigned integer of bits bits.
func (n number) unsigned(bits int) (uint64, bool) {
	mag, neg, ok := n.integer()
	if !ok || neg {
		return 0, false
	}
	if bits < 64 && mag >= 1<<bits {
		return 0, false
	}
	return mag, true
}
