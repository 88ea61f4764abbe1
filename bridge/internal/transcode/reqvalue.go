package transcode

import (
	"bytes"
	"encoding/base64"
	"math"
	"strconv"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// This file reads the values of single fields for AppendRequestWire, as
// protojson reads them, and appends their wire encoding.

// mapKey appends the key field of a map entry from the key's JSON string
// contents s, read as protojson reads map keys: strings as they are, bools
// as "true" and "false", integers in base 10 as strconv parses them
// (a sign, leading zeros).
func (d *reqDecoder) mapKey(b []byte, s []byte, escaped bool, k *reqFieldPlan) ([]byte, bool) {
	b = protowire.AppendVarint(b, k.tag)
	if k.kind == protoreflect.StringKind {
		at := len(b)
		b = append(b, 0)
		if escaped {
			b = appendUnescaped(b, s)
		} else {
			b = append(b, s...)
		}
		return closeLen(b, at), true
	}
	if escaped {
		mark := len(b)
		b = appendUnescaped(b, s)
		s = b[mark:]
		b = b[:mark]
	}
	switch k.kind {
	case protoreflect.BoolKind:
		switch string(s) {
		case "true":
			return append(b, 1), true
		case "false":
			return append(b, 0), true
		}
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		if v, err := strconv.ParseInt(string(s), 10, 32); err == nil {
			return appendSigned(b, k.kind, v), true
		}
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		if v, err := strconv.ParseInt(string(s), 10, 64); err == nil {
			return appendSigned(b, k.kind, v), true
		}
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		if v, err := strconv.ParseUint(string(s), 10, 32); err == nil {
			return appendUnsigned(b, k.kind, v), true
		}
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		if v, err := strconv.ParseUint(string(s), 10, 64); err == nil {
			return appendUnsigned(b, k.kind, v), true
		}
	}
	return b, false
}

// appendSigned appends v encoded as a value of kind k.
func appendSigned(b []byte, k protoreflect.Kind, v int64) []byte {
	switch k {
	case protoreflect.Sint32Kind, protoreflect.Sint64Kind:
		return protowire.AppendVarint(b, protowire.EncodeZigZag(v))
	case protoreflect.Sfixed32Kind:
		return protowire.AppendFixed32(b, uint32(v))
	case protoreflect.Sfixed64Kind:
		return protowire.AppendFixed64(b, uint64(v))
	}
	return protowire.AppendVarint(b, uint64(v)) // int32 sign-extends, as protobuf does
}

// appendUnsigned appends v encoded as a value of kind k.
func appendUnsigned(b []byte, k protoreflect.Kind, v uint64) []byte {
	switch k {
	case protoreflect.Fixed32Kind:
		return protowire.AppendFixed32(b, uint32(v))
	case protoreflect.Fixed64Kind:
		return protowire.AppendFixed64(b, v)
	}
	return protowire.AppendVarint(b, v)
}

// scalar appends the value (without a tag) of scalar or enum field f read
// from in[i], as protojson reads it, and reports whether it is zero.
func (d *reqDecoder) scalar(b []byte, i int, f *reqFieldPlan) (_ []byte, end int, zero, ok bool) {
	switch f.kind {
	case protoreflect.BoolKind:
		switch {
		case d.literal(i, "true"):
			return append(b, 1), i + 4, false, true
		case d.literal(i, "false"):
			return append(b, 0), i + 5, true, true
		}
		return b, i, false, false
	case protoreflect.StringKind:
		end, escaped, ok := d.str(i)
		if !ok {
			return b, i, false, false
		}
		at := len(b)
		b = append(b, 0)
		if escaped {
			b = appendUnescaped(b, d.in[i+1:end-1])
		} else {
			b = append(b, d.in[i+1:end-1]...)
		}
		zero = len(b) == at+1
		return closeLen(b, at), end, zero, true
	case protoreflect.BytesKind:
		return d.bytesValue(b, i)
	case protoreflect.EnumKind:
		return d.enumValue(b, i, f.enum)
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		return d.floatValue(b, i, f.kind)
	}
	n, b, end, ok := d.number(b, i)
	if !ok {
		return b, i, false, false
	}
	switch f.kind {
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		v, ok := n.signed(32)
		return appendSigned(b, f.kind, v), end, v == 0, ok
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		v, ok := n.signed(64)
		return appendSigned(b, f.kind, v), end, v == 0, ok
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		v, ok := n.unsigned(32)
		return appendUnsigned(b, f.kind, v), end, v == 0, ok
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		v, ok := n.unsigned(64)
		return appendUnsigned(b, f.kind, v), end, v == 0, ok
	}
	return b, i, false, false
}

// text returns the contents of the string at in[i], unescaped into the
// spare capacity of b if need be: they are then valid only until b grows.
func (d *reqDecoder) text(b []byte, i int) (s, nb []byte, end int, ok bool) {
	end, escaped, ok := scanString(d.in, i)
	if !ok {
		return nil, b, i, false
	}
	s = d.in[i+1 : end-1]
	if escaped {
		mark := len(b)
		b = appendUnescaped(b, s)
		s = b[mark:]
		b = b[:mark]
	}
	return s, b, end, true
}

// number reads the number at in[i], bare or as a string holding exactly a
// number (protojson refuses surrounding space); a string's parts may live
// in b's spare capacity (see text).
func (d *reqDecoder) number(b []byte, i int) (n number, nb []byte, end int, ok bool) {
	if d.at(i, '"') {
		var s []byte
		if s, b, end, ok = d.text(b, i); !ok {
			return n, b, i, false
		}
		e, n, ok := scanNumber(s, 0)
		return n, b, end, ok && e == len(s)
	}
	end, n, ok = scanNumber(d.in, i)
	return n, b, end, ok && endsToken(d.in, end)
}

// floatValue appends a float or double: a number in range, or a string
// holding one or "NaN", "Infinity", "-Infinity".
func (d *reqDecoder) floatValue(b []byte, i int, k protoreflect.Kind) (_ []byte, end int, zero, ok bool) {
	bits := 64
	if k == protoreflect.FloatKind {
		bits = 32
	}
	var s []byte
	if d.at(i, '"') {
		if s, b, end, ok = d.text(b, i); !ok {
			return b, i, false, false
		}
		if e, _, ok := scanNumber(s, 0); !ok || e != len(s) {
			switch string(s) {
			case "NaN", "Infinity", "-Infinity":
			default:
				return b, i, false, false
			}
		}
	} else {
		e, _, ok := scanNumber(d.in, i)
		if !ok || !endsToken(d.in, e) {
			return b, i, false, false
		}
		s, end = d.in[i:e], e
	}
	var v float64
	switch string(s) {
	case "NaN":
		v = math.NaN()
	case "Infinity":
		v = math.Inf(1)
	case "-Infinity":
		v = math.Inf(-1)
	default:
		// The same parser protojson uses, so that rounding and range
		// (float32 overflow is an error) are its own.
		var err error
		if v, err = strconv.ParseFloat(string(s), bits); err != nil {
			return b, i, false, false
		}
	}
	if bits == 32 {
		u := math.Float32bits(float32(v))
		return protowire.AppendFixed32(b, u), end, u == 0, true
	}
	u := math.Float64bits(v)
	return protowire.AppendFixed64(b, u), end, u == 0, true
}

// bytesValue appends a bytes value: base64, standard or URL-safe (if the
// string holds '-' or '_'), padded or not (if its length is not a multiple
// of four), decoded as protojson decodes it.
func (d *reqDecoder) bytesValue(b []byte, i int) (_ []byte, end int, zero, ok bool) {
	end, escaped, ok := d.str(i)
	if !ok {
		return b, i, false, false
	}
	at := len(b)
	b = append(b, 0)
	src := d.in[i+1 : end-1]
	var err error
	if escaped {
		// Unescape into b, decode behind it, and move the result down.
		s := len(b)
		b = appendUnescaped(b, src)
		e := len(b)
		if b, err = base64For(b[s:e]).AppendDecode(b, b[s:e]); err != nil {
			return b, i, false, false
		}
		n := copy(b[s:], b[e:])
		b = b[:s+n]
	} else if b, err = base64For(src).AppendDecode(b, src); err != nil {
		return b, i, false, false
	}
	zero = len(b) == at+1
	return closeLen(b, at), end, zero, true
}

// base64For picks the encoding protojson picks for s.
func base64For(s []byte) *base64.Encoding {
	url, raw := bytes.ContainsAny(s, "-_"), len(s)%4 != 0
	switch {
	case url && raw:
		return base64.RawURLEncoding // URLEncoding without padding
	case url:
		return base64.URLEncoding
	case raw:
		return base64.RawStdEncoding // StdEncoding without padding
	}
	return base64.StdEncoding
}

// enumValue appends an enum value: a value name, or a 32-bit number (for a
// closed enum, one with a value).
func (d *reqDecoder) enumValue(b []byte, i int, e *reqEnumPlan) (_ []byte, end int, zero, ok bool) {
	var v int64
	if d.at(i, '"') {
		var s []byte
		if s, b, end, ok = d.text(b, i); !ok {
			return b, i, false, false
		}
		n, found := e.names[string(s)]
		if !found {
			return b, i, false, false // unknown, or discarded: Request decides
		}
		v = int64(n)
	} else {
		var n number
		if n, b, end, ok = d.number(b, i); !ok {
			return b, i, false, false
		}
		if v, ok = n.signed(32); !ok || e.closed && !e.has(int32(v)) {
			return b, i, false, false
		}
	}
	return protowire.AppendVarint(b, uint64(v)), end, v == 0, true
}
