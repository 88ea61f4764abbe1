package wampv1

import (
	"fmt"
	"unicode/utf8"
)

// This file holds the single-pass JSON scanner behind [Decode]. It validates
// the whole frame (RFC 8259 syntax, UTF-8 and the nesting limit) and records
// where each top-level element starts and ends, without building values:
// the frame decoders then read strings and numbers straight from those
// spans and hand other elements on as raw JSON.

// maxDepth matches encoding/json, so a frame this package accepts is one
// encoding/json would accept too (the top-level array counts as 1).
const maxDepth = 10000

// MaxNesting is how many arrays and objects a frame that clients send
// (PREFIX, CALL, SUBSCRIBE, UNSUBSCRIBE, PUBLISH, CALL_CANCEL) may nest,
// its own array included; a deeper one is malformed. Decoding a CALL's
// arguments costs more than linear time in their depth (an argument nested
// 8 000 deep, 16 KB, took over 100 ms), and no request needs a tenth of
// encoding/json's 10 000. Frames that servers send may nest that deep:
// their results are the upstream's messages.
const MaxNesting = 128

// span is one top-level element of a frame: data[start:end] is its JSON text
// without surrounding whitespace; escaped reports a string with a backslash
// escape, which cannot be copied out verbatim.
type span struct {
	start, end int
	escaped    bool
}

// syntaxError is how the scanner reports invalid input; Decode wraps it in
// ErrNotArray.
func syntaxError(offset int, format string, args ...any) error {
	return fmt.Errorf("%w: invalid JSON: %s at offset %d", ErrNotArray, fmt.Sprintf(format, args...), offset)
}

// badChar reports the byte at data[i], telling invalid UTF-8 apart from a
// character that is merely out of place.
func badChar(data []byte, i int, context string) error {
	if data[i] >= utf8.RuneSelf {
		r, size := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && size == 1 {
			return fmt.Errorf("%w: invalid UTF-8 at offset %d", ErrNotArray, i)
		}
		return syntaxError(i, "invalid character %q %s", r, context)
	}
	return syntaxError(i, "invalid character %q %s", rune(data[i]), context)
}

func unexpectedEnd(data []byte) error {
	return syntaxError(len(data), "unexpected end of input")
}

// kindName names the JSON type of the value that starts with c, for
// "want X, got Y" messages.
func kindName(c byte) string {
	switch c {
	case '"':
		return "string"
	case '{':
		return "object"
	case '[':
		return "array"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	}
	return "number"
}

func skipSpace(data []byte, i int) int {
	for i < len(data) {
		switch data[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// splitFrame validates data as one JSON array and appends the spans of its
// elements to elems, at most maxElements of them, and returns how many
// there are. Every failure wraps ErrNotArray; the array must not be empty.
func splitFrame(data []byte, elems []span) ([]span, shape, error) {
	var sh shape
	elems, err := splitElements(data, elems, &sh)
	return elems, sh, err
}

// shape is what splitFrame measures of a frame: its number of elements,
// and how deep its arrays and objects nest (1: only the frame's array).
type shape struct{ n, depth int }

// maxElements bounds the spans splitFrame keeps: 3 before a CALL's
// arguments and MaxArgs of them. A frame of a million elements would
// otherwise cost tens of megabytes of spans and arguments to decode.
const maxElements = 3 + MaxArgs

// MaxArgs is the most arguments a CALL may carry. Positional arguments
// fill the fields of a request, and a request of that many fields is best
// sent as one JSON object.
const MaxArgs = 1024

func splitElements(data []byte, elems []span, sh *shape) ([]span, error) {
	sh.depth = 1
	i := skipSpace(data, 0)
	if i >= len(data) {
		return nil, unexpectedEnd(data)
	}
	if data[i] != '[' {
		// Validate anyway so that garbage is reported as invalid JSON and
		// only well-formed non-arrays as "got object" and the like.
		end, err := scanValue(data, i, 0, new(int))
		if err != nil {
			return nil, err
		}
		if err := checkEnd(data, end); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("%w: want a JSON array, got %s", ErrNotArray, kindName(data[i]))
	}
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == ']' {
		if err := checkEnd(data, i+1); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("%w: empty array, want [typeId, ...]", ErrNotArray)
	}
	for {
		if i >= len(data) {
			return nil, unexpectedEnd(data)
		}
		s := span{start: i}
		var err error
		if data[i] == '"' {
			i, s.escaped, err = scanString(data, i)
		} else {
			i, err = scanValue(data, i, 1, &sh.depth)
		}
		if err != nil {
			return nil, err
		}
		s.end = i
		if sh.n++; sh.n <= maxElements {
			elems = append(elems, s)
		}
		i = skipSpace(data, i)
		if i >= len(data) {
			return nil, unexpectedEnd(data)
		}
		switch data[i] {
		case ',':
			i = skipSpace(data, i+1)
			continue
		case ']':
			if err := checkEnd(data, i+1); err != nil {
				return nil, err
			}
			return elems, nil
		}
		return nil, badChar(data, i, "after array element")
	}
}

// checkEnd accepts only whitespace after the top-level value ending at i.
func checkEnd(data []byte, i int) error {
	i = skipSpace(data, i)
	if i < len(data) {
		return badChar(data, i, "after top-level value")
	}
	return nil
}

// scanValue validates the JSON value starting at data[i], inside depth
// enclosing containers, and returns the offset just past it, raising
// *deepest to the deepest nesting it met. It keeps its
// own stack of open containers instead of recursing, so deep nesting costs
// one byte per level.
func scanValue(data []byte, i, depth int, deepest *int) (int, error) {
	var stackBuf [32]byte
	stack := stackBuf[:0]
	for {
		// Here a value must start.
		i = skipSpace(data, i)
		if i >= len(data) {
			return i, unexpectedEnd(data)
		}
		var err error
		switch c := data[i]; c {
		case '{', '[':
			if depth+len(stack)+1 > maxDepth {
				return i, syntaxError(i, "nesting deeper than %d", maxDepth)
			}
			stack = append(stack, c)
			*deepest = max(*deepest, depth+len(stack))
			i = skipSpace(data, i+1)
			if i < len(data) && data[i] == c+2 { // '['+2 == ']', '{'+2 == '}'
				stack = stack[:len(stack)-1]
				i++
				break
			}
			if c == '{' {
				if i, err = scanKey(data, i); err != nil {
					return i, err
				}
			}
			continue
		case '"':
			i, _, err = scanString(data, i)
		case 't':
			i, err = scanLiteral(data, i, "true")
		case 'f':
			i, err = scanLiteral(data, i, "false")
		case 'n':
			i, err = scanLiteral(data, i, "null")
		default:
			if c != '-' && (c < '0' || c > '9') {
				return i, badChar(data, i, "looking for beginning of value")
			}
			i, err = scanNumber(data, i)
		}
		if err != nil {
			return i, err
		}
		// A value ended: close containers until one continues with ','.
	closing:
		for {
			if len(stack) == 0 {
				return i, nil
			}
			i = skipSpace(data, i)
			if i >= len(data) {
				return i, unexpectedEnd(data)
			}
			top := stack[len(stack)-1]
			switch data[i] {
			case ',':
				i++
				if top == '{' {
					if i, err = scanKey(data, skipSpace(data, i)); err != nil {
						return i, err
					}
				}
				break closing
			case top + 2:
				stack = stack[:len(stack)-1]
				i++
				continue
			}
			if top == '{' {
				return i, badChar(data, i, "after object value")
			}
			return i, badChar(data, i, "after array element")
		}
	}
}

// scanKey validates `"key" :` starting at data[i] and returns the offset of
// the member's value.
func scanKey(data []byte, i int) (int, error) {
	if i >= len(data) {
		return i, unexpectedEnd(data)
	}
	if data[i] != '"' {
		return i, badChar(data, i, "looking for beginning of object key string")
	}
	i, _, err := scanString(data, i)
	if err != nil {
		return i, err
	}
	i = skipSpace(data, i)
	if i >= len(data) {
		return i, unexpectedEnd(data)
	}
	if data[i] != ':' {
		return i, badChar(data, i, "after object key")
	}
	return i + 1, nil
}

// plainString marks the bytes that stand for themselves inside a JSON
// string: printable ASCII other than '"' and '\'.
var plainString = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// scanString validates the string starting with the quote at data[i],
// including its UTF-8, and returns the offset past the closing quote and
// whether it contains escapes.
func scanString(data []byte, i int) (end int, escaped bool, err error) {
	i++
	for {
		for i < len(data) && plainString[data[i]] {
			i++
		}
		if i >= len(data) {
			return i, escaped, unexpectedEnd(data)
		}
		switch c := data[i]; {
		case c == '"':
			return i + 1, escaped, nil
		case c == '\\':
			escaped = true
			if i+1 >= len(data) {
				return i, escaped, unexpectedEnd(data)
			}
			switch data[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				for k := i + 2; k < i+6; k++ {
					if k >= len(data) {
						return k, escaped, unexpectedEnd(data)
					}
					if !isHex(data[k]) {
						return k, escaped, badChar(data, k, "in \\u escape")
					}
				}
				i += 6
			default:
				return i + 1, escaped, badChar(data, i+1, "in string escape code")
			}
		case c < 0x20:
			return i, escaped, syntaxError(i, "control character %q in string", rune(c))
		default: // c >= utf8.RuneSelf
			r, size := utf8.DecodeRune(data[i:])
			if r == utf8.RuneError && size == 1 {
				return i, escaped, fmt.Errorf("%w: invalid UTF-8 at offset %d", ErrNotArray, i)
			}
			i += size
		}
	}
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func scanLiteral(data []byte, i int, lit string) (int, error) {
	for k := 0; k < len(lit); k++ {
		if i+k >= len(data) {
			return i + k, unexpectedEnd(data)
		}
		if data[i+k] != lit[k] {
			return i + k, badChar(data, i+k, "in literal "+lit)
		}
	}
	return i + len(lit), nil
}

// scanNumber validates -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? at
// data[i]. What may follow the number is checked by the caller.
func scanNumber(data []byte, i int) (int, error) {
	if data[i] == '-' {
		i++
	}
	var err error
	if i < len(data) && data[i] == '0' {
		i++
	} else if i, err = scanDigits(data, i); err != nil {
		return i, err
	}
	if i < len(data) && data[i] == '.' {
		if i, err = scanDigits(data, i+1); err != nil {
			return i, err
		}
	}
	if i < len(data) && (data[i] == 'e' || data[i] == 'E') {
		i++
		if i < len(data) && (data[i] == '+' || data[i] == '-') {
			i++
		}
		if i, err = scanDigits(data, i); err != nil {
			return i, err
		}
	}
	return i, nil
}

// scanDigits validates one or more decimal digits at data[i].
func scanDigits(data []byte, i int) (int, error) {
	if i >= len(data) {
		return i, unexpectedEnd(data)
	}
	if !isDigit(data[i]) {
		return i, badChar(data, i, "in numeric literal")
	}
	for i < len(data) && isDigit(data[i]) {
		i++
	}
	return i, nil
}
