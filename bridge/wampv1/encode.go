package wampv1

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"unicode/utf8"
)

// Encode returns the compact JSON text of m; see [Append].
func Encode(m Message) []byte {
	return Append(make([]byte, 0, sizeHint(m)), m)
}

// Append appends the compact JSON text of m to dst and returns the extended
// buffer, allocating only to grow dst. m must be a non-nil pointer to one of
// the frame structs of this package; Append panics otherwise, as that is a
// programming error.
//
// Strings are escaped as encoding/json escapes them without HTML escaping:
// invalid UTF-8 becomes U+FFFD, and U+2028 and U+2029 are escaped.
// json.RawMessage fields are trusted to hold valid JSON and are appended
// as they are, except that an empty one (nil or zero length) is sent as
// null, or left out where the frame form allows (CallError.ErrorDetails).
func Append(dst []byte, m Message) []byte {
	switch m := m.(type) {
	case *Call:
		dst = append(dst, "[2,"...)
		dst = appendString(dst, m.CallID)
		dst = append(dst, ',')
		dst = appendString(dst, m.ProcURI)
		for _, a := range m.Args {
			dst = append(dst, ',')
			dst = appendRaw(dst, a)
		}
	case *CallResult:
		dst = append(dst, "[3,"...)
		dst = appendString(dst, m.CallID)
		dst = append(dst, ',')
		dst = appendRaw(dst, m.Result)
	case *CallProgressResult:
		dst = append(dst, "[1000,"...)
		dst = appendString(dst, m.CallID)
		dst = append(dst, ',')
		dst = appendRaw(dst, m.Result)
	case *CallError:
		dst = append(dst, "[4,"...)
		dst = appendString(dst, m.CallID)
		dst = append(dst, ',')
		dst = appendString(dst, m.ErrorURI)
		dst = append(dst, ',')
		dst = appendString(dst, m.ErrorDesc)
		if len(m.ErrorDetails) > 0 {
			dst = append(dst, ',')
			dst = append(dst, m.ErrorDetails...)
		}
	case *CallCancel:
		dst = append(dst, "[1001,"...)
		dst = appendString(dst, m.CallID)
	case *Event:
		dst = append(dst, "[8,"...)
		dst = appendString(dst, m.TopicURI)
		dst = append(dst, ',')
		dst = appendRaw(dst, m.Event)
	case *Welcome:
		dst = append(dst, "[0,"...)
		dst = appendString(dst, m.SessionID)
		dst = append(dst, ',')
		dst = strconv.AppendInt(dst, int64(m.ProtocolVersion), 10)
		dst = append(dst, ',')
		dst = appendString(dst, m.ServerIdent)
	case *Prefix:
		dst = append(dst, "[1,"...)
		dst = appendString(dst, m.Prefix)
		dst = append(dst, ',')
		dst = appendString(dst, m.URI)
	case *Subscribe:
		dst = append(dst, "[5,"...)
		dst = appendString(dst, m.TopicURI)
	case *Unsubscribe:
		dst = append(dst, "[6,"...)
		dst = appendString(dst, m.TopicURI)
	case *Publish:
		dst = append(dst, "[7,"...)
		dst = appendString(dst, m.TopicURI)
		dst = append(dst, ',')
		dst = appendRaw(dst, m.Event)
		switch {
		case m.Eligible != nil:
			dst = append(dst, ',')
			dst = appendStrings(dst, m.Exclude)
			dst = append(dst, ',')
			dst = appendStrings(dst, m.Eligible)
		case m.Exclude != nil:
			dst = append(dst, ',')
			dst = appendStrings(dst, m.Exclude)
		case m.ExcludeMe != nil:
			dst = append(dst, ',')
			dst = strconv.AppendBool(dst, *m.ExcludeMe)
		}
	default:
		// reflect.TypeOf, unlike %T, keeps m from escaping: a frame
		// encoded into a reused buffer then costs no allocation.
		panic(fmt.Sprintf("wampv1: Append: %v is not a frame of this package", reflect.TypeOf(m)))
	}
	return append(dst, ']')
}

// sizeHint estimates the encoded size of m, so that Encode allocates once
// in the common case.
func sizeHint(m Message) int {
	const overhead = 16 // type id, quotes, commas, brackets
	switch m := m.(type) {
	case *Call:
		n := overhead + len(m.CallID) + len(m.ProcURI)
		for _, a := range m.Args {
			n += len(a) + 5
		}
		return n
	case *CallResult:
		return overhead + len(m.CallID) + len(m.Result)
	case *CallProgressResult:
		return overhead + len(m.CallID) + len(m.Result)
	case *CallError:
		return overhead + len(m.CallID) + len(m.ErrorURI) + len(m.ErrorDesc) + len(m.ErrorDetails)
	case *Event:
		return overhead + len(m.TopicURI) + len(m.Event)
	case *Publish:
		n := overhead + len(m.TopicURI) + len(m.Event)
		for _, s := range m.Exclude {
			n += len(s) + 3
		}
		for _, s := range m.Eligible {
			n += len(s) + 3
		}
		return n
	}
	return 64
}

func appendRaw(dst []byte, raw json.RawMessage) []byte {
	if len(raw) == 0 {
		return append(dst, "null"...)
	}
	return append(dst, raw...)
}

func appendStrings(dst []byte, list []string) []byte {
	dst = append(dst, '[')
	for i, s := range list {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, s)
	}
	return append(dst, ']')
}

// appendString appends s as a JSON string. Strings of printable ASCII
// without '"' and '\' (nearly every URI and call id) are copied in one go.
func appendString(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if !plainString[s[i]] {
			return appendEscaped(dst, s, i)
		}
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}

const hexDigits = "0123456789abcdef"

// appendEscaped appends s as a JSON string whose first byte needing
// attention is at i, escaping exactly as encoding/json does with HTML
// escaping off.
func appendEscaped(dst []byte, s string, i int) []byte {
	dst = append(dst, '"')
	start := 0
	for i < len(s) {
		c := s[i]
		if plainString[c] {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			// Valid JSON, but not valid JavaScript source before ES2019;
			// encoding/json escapes them too.
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
