package transcode

import (
	"bytes"
	"encoding/base64"
	"math"
	"strconv"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"
)

// This file formats JSON values the way protojson (through its internal
// JSON encoder) does, byte for byte.

// comma separates members and elements. protojson's single-line output adds
// a space after a comma or not, decided once per binary by a hash of the
// binary (to keep anyone from depending on its output); the same binary
// always decides the same way, so it is found by asking protojson.
var comma = func() string {
	b, err := protojson.Marshal(&descriptorpb.FieldDescriptorProto{Name: proto.String("a"), Number: proto.Int32(1)})
	if err == nil && bytes.Contains(b, []byte(", ")) {
		return ", "
	}
	return ","
}()

func appendBool(dst []byte, v bool) []byte {
	if v {
		return append(dst, "true"...)
	}
	return append(dst, "false"...)
}

func appendInt(dst []byte, v int64) []byte { return strconv.AppendInt(dst, v, 10) }

func appendUint(dst []byte, v uint64) []byte { return strconv.AppendUint(dst, v, 10) }

// appendFloat writes a float or double: the special values as strings, and
// otherwise the shortest representation, in exponent form below 1e-6 and
// from 1e21 on (measured in the field's own precision), with a two-digit
// negative exponent shortened (1e-07 → 1e-7).
func appendFloat(dst []byte, v float64, bits int) []byte {
	switch {
	case math.IsNaN(v):
		return append(dst, `"NaN"`...)
	case math.IsInf(v, 1):
		return append(dst, `"Infinity"`...)
	case math.IsInf(v, -1):
		return append(dst, `"-Infinity"`...)
	}
	if bits == 64 {
		if b, ok := appendDecimal(dst, v); ok {
			return b
		}
	}
	format := byte('f')
	if a := math.Abs(v); a != 0 {
		if bits == 64 && (a < 1e-6 || a >= 1e21) || bits == 32 && (float32(a) < 1e-6 || float32(a) >= 1e21) {
			format = 'e'
		}
	}
	dst = strconv.AppendFloat(dst, v, format, -1, bits)
	if format == 'e' {
		if n := len(dst); n >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
			dst[n-2] = dst[n-1]
			dst = dst[:n-1]
		}
	}
	return dst
}

// decimalPlaces is the most decimal places appendDecimal writes, and
// decimalUnit 10^decimalPlaces.
const (
	decimalPlaces = 4
	decimalUnit   = 1e4
)

// decimalLimit bounds the magnitude appendDecimal handles: below it,
// neighbouring doubles are less than 2^-22 apart.
const decimalLimit = 1 << 30

// appendDecimal writes a double v with 0 < |v| < 2^30 that a decimal of at
// most four places stands for (prices, quantities, most numbers people
// type) exactly as strconv.AppendFloat(dst, v, 'f', -1, 64) does, without
// its general shortest-digits search, and returns false for any other
// value.
//
// m, v·10^4 rounded to a whole number, must give v back as m/10^4.
// Dividing two exact integers rounds correctly, as parsing the decimal
// does, so that decimal reads back as v. In this range neighbouring
// doubles are less than 2^-22 apart, so at most one decimal of four places
// reads back as v, and v·10^4 is within 0.01 of it, so rounding finds it
// when there is one. Written with its trailing zeros trimmed it has the
// fewest places of any decimal that reads back as v, and a decimal with
// more places has more digits: that is strconv's shortest form.
// TestAppendDecimal and FuzzAppendFloat compare the two.
func appendDecimal(dst []byte, v float64) ([]byte, bool) {
	a := math.Abs(v)
	if !(a > 0 && a < decimalLimit) {
		return dst, false
	}
	m := uint64(math.Round(a * decimalUnit))
	if float64(m)/decimalUnit != a {
		return dst, false
	}
	places, unit := decimalPlaces, uint64(decimalUnit)
	for places > 0 && m%10 == 0 {
		m /= 10
		places--
		unit /= 10
	}
	if v < 0 {
		dst = append(dst, '-')
	}
	if places == 0 {
		return strconv.AppendUint(dst, m, 10), true
	}
	dst = strconv.AppendUint(dst, m/unit, 10)
	dst = append(dst, '.')
	frac := m % unit
	for u := unit / 10; u > frac; u /= 10 {
		dst = append(dst, '0') // leading zeros of the fraction
	}
	return strconv.AppendUint(dst, frac, 10), true
}

func appendBase64(dst []byte, b []byte) []byte {
	dst = append(dst, '"')
	dst = base64.StdEncoding.AppendEncode(dst, b)
	return append(dst, '"')
}

// appendString writes s as a JSON string: `"` and `\` escaped, control
// characters as \b \f \n \r \t or \u00XX (lower-case hex), everything else
// as is. It fails on invalid UTF-8, as protojson does.
func appendString[T string | []byte](dst []byte, s T) ([]byte, bool) {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		// Eight bytes at a time while none needs a look of its own:
		// most strings are plain ASCII.
		for i+8 <= len(s) && plainASCII(le64(s[i:i+8])) {
			i += 8
		}
		if i >= len(s) {
			break
		}
		c := s[i]
		if c >= utf8.RuneSelf {
			r, n := utf8.DecodeRuneInString(string(s[i:min(i+utf8.UTFMax, len(s))]))
			if r == utf8.RuneError && n == 1 {
				return dst, false
			}
			i += n
			continue
		}
		if c >= ' ' && c != '"' && c != '\\' {
			i++
			continue
		}
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
			const hex = "0123456789abcdef"
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		}
		i++
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"'), true
}

// le64 reads 8 bytes of s as a little-endian word.
func le64[T string | []byte](s T) uint64 {
	_ = s[7]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// plainASCII reports whether each byte of x is printable ASCII other than
// '"' and '\': one that appendString copies as it is. Each test below is
// the classic "has a byte below n" bit trick, exact for n <= 0x80.
func plainASCII(x uint64) bool {
	const (
		ones = 0x0101010101010101
		high = 0x8080808080808080
	)
	below := func(v uint64, n uint64) uint64 { return (v - ones*n) &^ v & high }
	bad := x&high | // not ASCII
		below(x, 0x20) | // control characters
		below(x^(ones*'"'), 1) | // '"'
		below(x^(ones*'\\'), 1) // '\\'
	return bad == 0
}

// Timestamp and Duration limits, as protojson checks them.
const (
	minTimestampSeconds = -62135596800 // 0001-01-01T00:00:00Z
	maxTimestampSeconds = 253402300799 // 9999-12-31T23:59:59Z
	maxDurationSeconds  = 315576000000
	maxNanos            = 999999999
)

// appendFraction writes ".nnn", ".nnnnnn" or ".nnnnnnnnn" for nanos, the
// shortest of the three that is exact, or nothing for 0.
func appendFraction(dst []byte, nanos int64) []byte {
	if nanos == 0 {
		return dst
	}
	digits := 9
	for digits > 3 && nanos%1000 == 0 {
		nanos /= 1000
		digits -= 3
	}
	dst = append(dst, '.')
	return appendPadded(dst, nanos, digits)
}

func appendPadded(dst []byte, v int64, width int) []byte {
	var buf [20]byte
	b := strconv.AppendInt(buf[:0], v, 10)
	for i := len(b); i < width; i++ {
		dst = append(dst, '0')
	}
	return append(dst, b...)
}

// appendTimestamp writes a Timestamp as an RFC 3339 string in UTC, or fails
// outside the years 1 to 9999 or for nanos outside [0, 999999999].
func appendTimestamp(dst []byte, secs, nanos int64) ([]byte, bool) {
	if secs < minTimestampSeconds || secs > maxTimestampSeconds || nanos < 0 || nanos > maxNanos {
		return dst, false
	}
	days := floorDiv(secs, 86400)
	sod := secs - days*86400
	y, m, d := civil(days)
	dst = append(dst, '"')
	dst = appendPadded(dst, y, 4)
	dst = append(dst, '-')
	dst = appendPadded(dst, m, 2)
	dst = append(dst, '-')
	dst = appendPadded(dst, d, 2)
	dst = append(dst, 'T')
	dst = appendPadded(dst, sod/3600, 2)
	dst = append(dst, ':')
	dst = appendPadded(dst, sod/60%60, 2)
	dst = append(dst, ':')
	dst = appendPadded(dst, sod%60, 2)
	dst = appendFraction(dst, nanos)
	return append(dst, 'Z', '"'), true
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// civil converts days since 1970-01-01 to a proleptic Gregorian date.
func civil(days int64) (y, m, d int64) {
	z := days + 719468
	era := floorDiv(z, 146097)
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y = yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = doy - (153*mp+2)/5 + 1
	if mp < 10 {
		m = mp + 3
	} else {
		m = mp - 9
	}
	if m <= 2 {
		y++
	}
	return y, m, d
}

// appendDuration writes a Duration as "<seconds>[.fraction]s", or fails
// outside ±315576000000 s, for nanos outside ±999999999 or with signs of
// seconds and nanos that differ.
func appendDuration(dst []byte, secs, nanos int64) ([]byte, bool) {
	if secs < -maxDurationSeconds || secs > maxDurationSeconds || nanos < -maxNanos || nanos > maxNanos ||
		secs > 0 && nanos < 0 || secs < 0 && nanos > 0 {
		return dst, false
	}
	dst = append(dst, '"')
	if secs < 0 || nanos < 0 {
		dst = append(dst, '-')
		secs, nanos = -secs, -nanos
	}
	dst = appendInt(dst, secs)
	dst = appendFraction(dst, nanos)
	return append(dst, 's', '"'), true
}
