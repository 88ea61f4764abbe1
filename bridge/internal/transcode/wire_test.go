package transcode

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
)

// allOptions are the eight combinations of the options that shape output.
var allOptions = func() []Options {
	var out []Options
	for i := range 8 {
		out = append(out, Options{UseProtoNames: i&1 != 0, EmitUnpopulated: i&2 != 0, UseEnumNumbers: i&4 != 0})
	}
	return out
}()

// checkWire renders b as md with AppendWire and, when the fast path
// answers, compares it with what the slow path (proto.Unmarshal into a
// dynamic message, then AppendResponse, i.e. protojson) gives. It reports
// whether the fast path answered.
func checkWire(t testing.TB, c *Codec, md protoreflect.MessageDescriptor, b []byte) bool {
	t.Helper()
	prefix := []byte(`[`)
	got, ok := c.AppendWire(prefix[:1:1], md, b)
	m := dynamicpb.NewMessage(md)
	uerr := unmarshalNoPanic(b, m)
	var want []byte
	var merr error
	if uerr == nil {
		want, merr = c.AppendResponse([]byte(`[`), m)
	}
	if !ok {
		if len(got) != 1 || got[0] != '[' {
			t.Fatalf("%s %x: AppendWire gave up but extended dst to %q", md.FullName(), b, got)
		}
		return false
	}
	switch {
	case uerr != nil:
		t.Fatalf("%s %x (%+v): AppendWire = %s, but proto.Unmarshal fails: %v", md.FullName(), b, c.opts, got, uerr)
	case merr != nil:
		t.Fatalf("%s %x (%+v): AppendWire = %s, but AppendResponse fails: %v", md.FullName(), b, c.opts, got, merr)
	case !bytes.Equal(got, want):
		t.Fatalf("%s %x (%+v):\nAppendWire     %s\nAppendResponse %s", md.FullName(), b, c.opts, got, want)
	}
	return true
}

// unmarshalNoPanic is proto.Unmarshal, with a panic as an error: the
// reflective decoder used for dynamic messages panics on some malformed
// map entries (a valid key, then a key of the wrong wire type), which in
// the bridge Procedure.Call turns into INTERNAL; the fast path must give
// up on those.
func unmarshalNoPanic(b []byte, m proto.Message) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	return proto.Unmarshal(b, m)
}

// fromJSON builds the wire form of the message of type name from JSON.
func fromJSON(t testing.TB, name protoreflect.FullName, js string) []byte {
	t.Helper()
	m := dynamicpb.NewMessage(wireMessage(name))
	if err := (protojson.UnmarshalOptions{Resolver: New(wireTestTypes, Options{}).resolver}).Unmarshal([]byte(js), m); err != nil {
		t.Fatalf("%s %s: %v", name, js, err)
	}
	b, err := proto.MarshalOptions{AllowPartial: true}.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type wireCase struct {
	name string
	msg  protoreflect.FullName
	json string // the message, or
	wire []byte // its wire form
	// fast says whether the fast path must answer (it must, unless the
	// case is one it leaves to the slow path).
	fast bool
}

// wire builds wire bytes from tag/value pairs: a protowire.Number and
// wire type followed by the value (uint64 for varint/fixed, []byte or
// string for bytes), or raw []byte chunks.
func wire(parts ...any) []byte {
	var b []byte
	for i := 0; i < len(parts); i++ {
		switch p := parts[i].(type) {
		case protowire.Number:
			wt := parts[i+1].(protowire.Type)
			b = protowire.AppendTag(b, p, wt)
			v := parts[i+2]
			i += 2
			switch wt {
			case protowire.VarintType:
				b = protowire.AppendVarint(b, toU64(v))
			case protowire.Fixed32Type:
				b = protowire.AppendFixed32(b, uint32(toU64(v)))
			case protowire.Fixed64Type:
				b = protowire.AppendFixed64(b, toU64(v))
			case protowire.BytesType:
				switch v := v.(type) {
				case string:
					b = protowire.AppendString(b, v)
				case []byte:
					b = protowire.AppendBytes(b, v)
				}
			}
		case []byte:
			b = append(b, p...)
		default:
			panic(fmt.Sprintf("wire: %T", p))
		}
	}
	return b
}

func toU64(v any) uint64 {
	switch v := v.(type) {
	case int:
		return uint64(v)
	case int64:
		return uint64(v)
	case uint64:
		return v
	case float64:
		return math.Float64bits(v)
	case float32:
		return uint64(math.Float32bits(v))
	}
	panic(fmt.Sprintf("toU64: %T", v))
}

const (
	vt  = protowire.VarintType
	f32 = protowire.Fixed32Type
	f64 = protowire.Fixed64Type
	bt  = protowire.BytesType
)

var wireCases = []wireCase{
	{name: "empty", msg: "tc.wire.All", json: `{}`, fast: true},
	{name: "scalars", msg: "tc.wire.All", fast: true, json: `{
		"fDouble": 1.5, "fFloat": -2.25, "fInt64": "-9223372036854775808", "fUint64": "18446744073709551615",
		"fInt32": -2147483648, "fFixed64": "18446744073709551615", "fFixed32": 4294967295, "fBool": true,
		"fString": "héllo \"q\" \\ \u0001 \n\t\r\b\f \u2028 \u007f \ufffd 😀 </script>", "fBytes": "AP8Q",
		"fUint32": 4294967295, "fSfixed32": -1, "fSfixed64": "-1", "fSint32": -2147483648,
		"fSint64": "-9223372036854775808", "fEnum": "GREEN"}`},
	{name: "floats", msg: "tc.wire.All", fast: true, json: `{"fDouble": 1e21, "fFloat": 1e-7, "rDouble": [1e-6, 1e-7, 123456789012345680000, 1e20, 0.1, -0, 5e-324, 1.7976931348623157e308, "NaN", "Infinity", "-Infinity"], "rFloat": [1e21, 3.4028235e38, 1e-45, 0.1, 16777216, 1e20, "NaN", "-Infinity", -0]}`},
	{name: "negative zero is set", msg: "tc.wire.All", fast: true, json: `{"fDouble": -0, "fFloat": -0}`},
	{name: "explicit zeros on the wire", msg: "tc.wire.All", fast: true, wire: wire(
		protowire.Number(5), vt, 0, protowire.Number(9), bt, "", protowire.Number(1), f64, 0, protowire.Number(16), vt, 0,
		protowire.Number(8), vt, 0, protowire.Number(10), bt, "")},
	{name: "int32 truncation", msg: "tc.wire.All", fast: true, wire: wire(
		protowire.Number(5), vt, uint64(1)<<32, protowire.Number(11), vt, uint64(1)<<32|7, protowire.Number(14), vt, uint64(1)<<33|3,
		protowire.Number(16), vt, uint64(1)<<32|2, protowire.Number(8), vt, 2)},
	{name: "bytes", msg: "tc.wire.All", fast: true, json: `{"fBytes": "AQ==", "rBytes": ["", "AQI=", "AQID", "/+8="]}`},
	{name: "enums", msg: "tc.wire.All", fast: true, json: `{"fEnum": "CRIMSON", "rEnum": ["RED", 7, "FAR", "COLOR_UNSPECIFIED", -3]}`},
	{name: "unknown enum value", msg: "tc.wire.All", fast: true, json: `{"fEnum": 42, "optEnum": 0}`},
	{name: "repeated", msg: "tc.wire.All", fast: true, json: `{"rInt32": [1, -1, 0], "rInt64": ["1", "-2"], "rUint32": [4294967295],
		"rUint64": ["0"], "rSint32": [-5, 5], "rSint64": ["-7"], "rFixed32": [1], "rFixed64": ["2"], "rSfixed32": [-3],
		"rSfixed64": ["-4"], "rBool": [true, false], "rString": ["a", "", "b"], "rMsg": [{}, {"fInt32": 1}, {"rMsg": [{}]}]}`},
	{name: "unpacked and packed mixed", msg: "tc.wire.All", fast: true, wire: wire(
		protowire.Number(25), vt, 1, protowire.Number(25), bt, []byte{2, 3}, protowire.Number(5), vt, 9,
		protowire.Number(25), vt, 4, protowire.Number(25), bt, []byte{}, protowire.Number(21), f64, 2.5,
		protowire.Number(21), bt, protowire.AppendFixed64(nil, math.Float64bits(-1)))},
	{name: "only an empty packed list", msg: "tc.wire.All", fast: true, wire: wire(protowire.Number(25), bt, []byte{})},
	{name: "optional", msg: "tc.wire.All", fast: true, json: `{"optInt32": 0, "optString": "", "optEnum": "COLOR_UNSPECIFIED", "optMsg": {}, "optDouble": -0}`},
	{name: "oneof string", msg: "tc.wire.All", fast: true, json: `{"cString": ""}`},
	{name: "oneof int", msg: "tc.wire.All", fast: true, json: `{"cInt32": 0}`},
	{name: "oneof message", msg: "tc.wire.All", fast: true, json: `{"cMsg": {"cMsg": {}}}`},
	{name: "oneof null", msg: "tc.wire.All", fast: true, json: `{"cNull": null}`},
	{name: "oneof enum", msg: "tc.wire.All", fast: true, json: `{"cEnum": "RED"}`},
	{name: "two oneof members", msg: "tc.wire.All", wire: wire(protowire.Number(50), bt, "a", protowire.Number(51), vt, 1)},
	{name: "nested", msg: "tc.wire.All", fast: true, json: `{"fMsg": {"fMsg": {"fMsg": {"fString": "deep", "rMsg": [{"fBool": true}]}}}}`},
	{name: "maps", msg: "tc.wire.All", fast: true, json: `{
		"mInt64": {"-5": 1.5, "3": -1, "-9223372036854775808": 2},
		"mUint64": {"18446744073709551615": true, "2": false, "10": true},
		"mInt32": {"-1": "1", "1": "-2", "0": "3"},
		"mFixed64": {"1": 1, "0": 0},
		"mFixed32": {"7": -7, "4294967295": 0},
		"mBool": {"true": "1", "false": "2"},
		"mString": {"b": "1", "a": "2", "": "3", "é": "4", "Z": "5", "aa": "6", "\u0000": "7"},
		"mUint32": {"5": 1},
		"mSfixed32": {"-2": -1, "2": 1},
		"mSfixed64": {"-2": "1", "-10": "2"},
		"mSint32": {"-3": 3, "3": 4},
		"mSint64": {"9": "-1", "-9": "1"},
		"mMsg": {"k": {"fInt32": 2}, "e": {}},
		"mEnum": {"1": "RED", "2": 9},
		"mValue": {"n": null, "l": [1, "x", {"y": true}]},
		"mNull": {"true": null}}`},
	{name: "map entry without key or value", msg: "tc.wire.All", fast: true, wire: wire(
		protowire.Number(75), bt, []byte{}, protowire.Number(76), bt, wire(protowire.Number(1), vt, 3),
		protowire.Number(65), bt, wire(protowire.Number(2), f64, 1), protowire.Number(66), bt, wire(protowire.Number(2), f64, 5))},
	{name: "map entry with unknown fields and value first", msg: "tc.wire.All", fast: true, wire: wire(
		protowire.Number(75), bt, wire(protowire.Number(2), bt, "", protowire.Number(9), vt, 1, protowire.Number(1), bt, "k"))},
	{name: "duplicate map key", msg: "tc.wire.All", wire: wire(
		protowire.Number(75), bt, wire(protowire.Number(1), bt, "k", protowire.Number(2), bt, ""),
		protowire.Number(75), bt, wire(protowire.Number(1), bt, "k", protowire.Number(2), bt, wire(protowire.Number(5), vt, 1)))},
	{name: "map key twice in an entry", msg: "tc.wire.All", wire: wire(
		protowire.Number(75), bt, wire(protowire.Number(1), bt, "k", protowire.Number(1), bt, "j"))},
	{name: "map key of the wrong wire type", msg: "tc.wire.All", wire: wire(
		protowire.Number(75), bt, wire(protowire.Number(1), vt, 1))},
	{name: "map key then a key of the wrong wire type", msg: "tc.wire.All", wire: wire(
		protowire.Number(75), bt, wire(protowire.Number(1), bt, "k", protowire.Number(1), vt, 1))},
	{name: "map value of a missing Value", msg: "tc.wire.All", wire: wire(protowire.Number(77), bt, wire(protowire.Number(1), bt, "k"))},
	{name: "well-known types", msg: "tc.wire.All", fast: true, json: `{
		"wTimestamp": "2026-11-25T06:47:33.123Z", "wDuration": "-0.000001s",
		"wBoolvalue": false, "wInt32value": 0, "wInt64value": "-5", "wUint32value": 7, "wUint64value": "0",
		"wFloatvalue": "NaN", "wDoublevalue": 1e-10, "wStringvalue": "", "wBytesvalue": "AA==",
		"wStruct": {"z": 1, "a": [null, true, "s", 2.5, {}], "m": {"n": {}}},
		"wValue": {"k": "v"}, "wListvalue": [1, [2, []]], "wFieldmask": "a.bC,dEf,x",
		"wEmpty": {}}`},
	{name: "repeated well-known types", msg: "tc.wire.All", fast: true, json: `{
		"rwTimestamp": ["0001-01-01T00:00:00Z", "9999-12-31T23:59:59.999999999Z", "1970-01-01T00:00:00.000001Z", "1969-12-31T23:59:59.5Z", "2000-02-29T12:00:00Z"],
		"rwDuration": ["0s", "1s", "-1.5s", "315576000000s", "-315576000000.999999999s", "0.010s"],
		"rwValue": [null, 1, "x", true, {"a": 1}, [1]], "rwInt64value": ["1", "0"],
		"rwEmpty": [{}, {}], "rwFieldmask": ["", "a"], "rwStruct": [{}, {"x": null}]}`},
	{name: "value kinds", msg: "tc.wire.All", fast: true, json: `{"wValue": null}`},
	{name: "value number", msg: "tc.wire.All", fast: true, json: `{"wValue": -1e-7}`},
	{name: "value string", msg: "tc.wire.All", fast: true, json: `{"wValue": "s"}`},
	{name: "value list", msg: "tc.wire.All", fast: true, json: `{"wValue": []}`},
	{name: "empty value", msg: "tc.wire.All", wire: wire(protowire.Number(92), bt, []byte{})},
	{name: "value NaN", msg: "tc.wire.All", wire: wire(protowire.Number(92), bt, wire(protowire.Number(2), f64, math.NaN()))},
	{name: "timestamp out of range", msg: "tc.wire.All", wire: wire(protowire.Number(80), bt, wire(protowire.Number(1), vt, int64(maxTimestampSeconds+1)))},
	{name: "timestamp negative nanos", msg: "tc.wire.All", wire: wire(protowire.Number(80), bt, wire(protowire.Number(2), vt, -1))},
	{name: "timestamp with unknown field", msg: "tc.wire.All", fast: true, wire: wire(protowire.Number(80), bt, wire(protowire.Number(1), vt, 5, protowire.Number(3), vt, 1))},
	{name: "duration sign mismatch", msg: "tc.wire.All", wire: wire(protowire.Number(81), bt, wire(protowire.Number(1), vt, 1, protowire.Number(2), vt, -1))},
	{name: "duration out of range", msg: "tc.wire.All", wire: wire(protowire.Number(81), bt, wire(protowire.Number(1), vt, int64(-maxDurationSeconds-1)))},
	{name: "field mask irreversible", msg: "tc.wire.All", wire: wire(protowire.Number(94), bt, wire(protowire.Number(1), bt, "aB"))},
	{name: "field mask invalid", msg: "tc.wire.All", wire: wire(protowire.Number(94), bt, wire(protowire.Number(1), bt, "a..b"))},
	{name: "field mask double underscore", msg: "tc.wire.All", wire: wire(protowire.Number(94), bt, wire(protowire.Number(1), bt, "a__b"))},
	{name: "field mask trailing underscore", msg: "tc.wire.All", wire: wire(protowire.Number(94), bt, wire(protowire.Number(1), bt, "a_"))},
	{name: "field mask digits", msg: "tc.wire.All", fast: true, wire: wire(protowire.Number(94), bt, wire(protowire.Number(1), bt, "a1.b2_c"))},
	{name: "any", msg: "tc.wire.All", json: `{"wAny": {"@type": "type.googleapis.com/google.protobuf.Empty", "value": {}}}`},
	{name: "null", msg: "tc.wire.All", fast: true, json: `{"null": null, "rNull": [null, null]}`},
	{name: "null value numbers", msg: "tc.wire.All", fast: true, wire: wire(protowire.Number(120), vt, 3, protowire.Number(121), bt, []byte{0, 5})},
	{name: "custom json name", msg: "tc.wire.All", fast: true, json: `{"Custom \"Name\"\u00e9": 3}`},
	{name: "large field number", msg: "tc.wire.All", fast: true, json: `{"far": "x"}`},
	{name: "unknown fields", msg: "tc.wire.All", fast: true, wire: wire(
		protowire.Number(999), vt, 1, protowire.Number(5), vt, 3, protowire.Number(1000), bt, "junk",
		protowire.Number(1001), f32, 1, protowire.Number(1002), f64, 1,
		protowire.AppendTag(nil, 1003, protowire.StartGroupType), protowire.Number(1), vt, 1, protowire.AppendTag(nil, 1003, protowire.EndGroupType))},
	{name: "known field with the wrong wire type", msg: "tc.wire.All", wire: wire(protowire.Number(5), f32, 3)},
	{name: "scalar twice", msg: "tc.wire.All", wire: wire(protowire.Number(5), vt, 3, protowire.Number(5), vt, 4)},
	{name: "message twice", msg: "tc.wire.All", wire: wire(protowire.Number(17), bt, "", protowire.Number(17), bt, "")},
	{name: "invalid utf-8", msg: "tc.wire.All", wire: wire(protowire.Number(9), bt, "a\xffb")},
	{name: "invalid utf-8 map key", msg: "tc.wire.All", wire: wire(protowire.Number(75), bt, wire(protowire.Number(1), bt, "\xc0"))},
	{name: "truncated", msg: "tc.wire.All", wire: wire(protowire.Number(9), bt, "abc")[:3]},
	{name: "truncated packed", msg: "tc.wire.All", wire: wire(protowire.Number(25), bt, []byte{0x80})},
	{name: "field number zero", msg: "tc.wire.All", wire: []byte{0x00, 0x01}},
	{name: "end group", msg: "tc.wire.All", wire: protowire.AppendTag(nil, 5, protowire.EndGroupType)},
	{name: "deep", msg: "tc.wire.All", fast: true, wire: func() []byte {
		b := wire(protowire.Number(5), vt, 1)
		for range 60 {
			b = wire(protowire.Number(17), bt, b)
		}
		return b
	}()},
	{name: "too deep", msg: "tc.wire.All", wire: func() []byte {
		var b []byte
		for range 200 {
			b = wire(protowire.Number(17), bt, b)
		}
		return b
	}()},
	// Plain's plan renders in one pass (wireState.inOrder) what comes in
	// number order, and leaves the rest to the two passes.
	{name: "plain empty", msg: "tc.wire.Plain", fast: true, json: `{}`},
	{name: "plain all set", msg: "tc.wire.Plain", fast: true, json: `{"i64": "-5", "dbl": 1.5, "i32": 7, "str": "s\"é", "byt": "AQI=",
		"flag": true, "color": "GREEN", "child": {"str": "c", "child": {}}, "opt": 3, "far": "f"}`},
	{name: "plain zeros on the wire", msg: "tc.wire.Plain", fast: true, wire: wire(protowire.Number(1), vt, 0, protowire.Number(4), bt, "", protowire.Number(9), vt, 0)},
	{name: "plain reversed", msg: "tc.wire.Plain", fast: true, wire: wire(protowire.Number(300), bt, "z", protowire.Number(6), vt, 1,
		protowire.Number(4), bt, "s", protowire.Number(1), vt, 5)},
	{name: "plain nested reversed", msg: "tc.wire.Plain", fast: true, wire: wire(protowire.Number(3), vt, 1,
		protowire.Number(8), bt, wire(protowire.Number(4), bt, "a", protowire.Number(1), vt, 2))},
	{name: "plain unknown between", msg: "tc.wire.Plain", fast: true, wire: wire(protowire.Number(1), vt, 5, protowire.Number(20), vt, 9,
		protowire.Number(21), bt, "x", protowire.Number(4), bt, "s")},
	{name: "plain scalar twice", msg: "tc.wire.Plain", wire: wire(protowire.Number(1), vt, 5, protowire.Number(1), vt, 6)},
	{name: "plain child twice", msg: "tc.wire.Plain", wire: wire(protowire.Number(8), bt, wire(protowire.Number(1), vt, 1),
		protowire.Number(8), bt, wire(protowire.Number(3), vt, 2))},
	{name: "plain wrong wire type", msg: "tc.wire.Plain", wire: wire(protowire.Number(2), vt, 1, protowire.Number(1), bt, "x")},
	{name: "plain invalid utf-8 after fields", msg: "tc.wire.Plain", wire: wire(protowire.Number(1), vt, 5, protowire.Number(300), bt, "\xff")},
	{name: "proto2 defaults", msg: "tc.wire.P2", fast: true, json: `{}`},
	{name: "proto2 values", msg: "tc.wire.P2", fast: true, json: `{"a": 0, "s": "", "lvl": "HIGH", "unpacked": [1, 2], "packed": ["-1", "2"],
		"child": {"bb": ""}, "levels": {"x": "ONE", "y": 7, "z": "ZERO"}, "d": "-Infinity", "fl": 0, "plain": "p"}`},
	{name: "proto2 map enum default", msg: "tc.wire.P2", fast: true, wire: wire(protowire.Number(7), bt, wire(protowire.Number(1), bt, "k"))},
	{name: "proto2 group", msg: "tc.wire.P2", json: `{"grp": {"g": 1}}`},
	{name: "proto2 extension number", msg: "tc.wire.P2", wire: wire(protowire.Number(150), vt, 1)},
	{name: "proto2 required missing", msg: "tc.wire.P2", wire: wire(protowire.Number(12), bt, "")},
	{name: "proto2 required present", msg: "tc.wire.P2", wire: wire(protowire.Number(12), bt, wire(protowire.Number(1), vt, 1))},
	{name: "proto2 invalid utf-8", msg: "tc.wire.P2", wire: wire(protowire.Number(13), bt, "\xff")},
}

func TestAppendWire(t *testing.T) {
	t.Parallel()
	for _, o := range allOptions {
		c := New(wireTestTypes, o)
		for _, tc := range wireCases {
			t.Run(fmt.Sprintf("%s/%+v", tc.name, o), func(t *testing.T) {
				b := tc.wire
				if tc.json != "" {
					b = fromJSON(t, tc.msg, tc.json)
				}
				if fast := checkWire(t, c, wireMessage(tc.msg), b); fast != tc.fast {
					t.Errorf("fast path answered: %v, want %v", fast, tc.fast)
				}
			})
		}
	}
}

// TestInOrderPlans checks which plans render in one pass, so that the
// Plain cases above test that path.
func TestInOrderPlans(t *testing.T) {
	c := New(wireTestTypes, Options{})
	for name, want := range map[protoreflect.FullName]bool{"tc.wire.Plain": true, "tc.wire.All": false, "tc.wire.P2": false} {
		if got := c.plan(wireMessage(name)).inOrder; got != want {
			t.Errorf("%s: inOrder %v, want %v", name, got, want)
		}
	}
}

// TestAppendWireCommaSpace checks that the separator detected at init is
// the one protojson writes.
func TestAppendWireCommaSpace(t *testing.T) {
	t.Parallel()
	md := wireMessage("tc.wire.All")
	c := New(wireTestTypes, Options{})
	b := fromJSON(t, "tc.wire.All", `{"fInt32": 1, "fBool": true}`)
	got, ok := c.AppendWire(nil, md, b)
	if !ok {
		t.Fatal("fast path gave up")
	}
	want := `{"fInt32":1` + comma + `"fBool":true}`
	if string(got) != want {
		t.Errorf("AppendWire = %s, want %s", got, want)
	}
}

// TestPlainASCII checks the word-at-a-time test of appendString against
// the byte rule, for every byte value at every position of a word.
func TestPlainASCII(t *testing.T) {
	plain := func(c byte) bool { return c >= ' ' && c < utf8.RuneSelf && c != '"' && c != '\\' }
	for pos := range 8 {
		for c := range 256 {
			w := []byte("abcdefgh")
			w[pos] = byte(c)
			if got, want := plainASCII(le64(w)), plain(byte(c)); got != want {
				t.Errorf("plainASCII(%q) = %v, want %v", w, got, want)
			}
		}
	}
}

// TestAppendWireLimit: with a limit, AppendWireLimit renders what
// AppendWire does while it fits, and gives up with a ResultTooLargeError
// and dst unextended as soon as it does not: here 1 000 empty messages of
// 3 bytes each that render every field of their type.
func TestAppendWireLimit(t *testing.T) {
	t.Parallel()
	md := wireMessage("tc.wire.All")
	c := New(wireTestTypes, Options{EmitUnpopulated: true})
	var b []byte
	for range 1000 {
		b = append(b, wire(protowire.Number(37), protowire.BytesType, "")...)
	}
	full, ok := c.AppendWire(nil, md, b)
	if !ok || len(full) < 100*len(b) {
		t.Fatalf("AppendWire: %d bytes of JSON from %d, ok %v; want a rendering over 100 times larger", len(full), len(b), ok)
	}
	out, ok, err := c.AppendWireLimit([]byte("["), md, b, len(full))
	if !ok || err != nil || string(out) != "["+string(full) {
		t.Errorf("AppendWireLimit at the JSON's size: %d bytes, ok %v, err %v; want the same JSON", len(out), ok, err)
	}
	for _, limit := range []int{len(full) - 1, 1000} {
		out, ok, err = c.AppendWireLimit([]byte("["), md, b, limit)
		var tooLarge *ResultTooLargeError
		if ok || !errors.As(err, &tooLarge) || string(out) != "[" {
			t.Fatalf("AppendWireLimit with limit %d: %q, ok %v, err %v; want ResultTooLargeError and dst unextended", limit, out, ok, err)
		}
		want := fmt.Sprintf("a response tc.wire.All of %d bytes renders to more than %d bytes of JSON", len(b), limit)
		if tooLarge.Error() != want {
			t.Errorf("error %q, want %q", tooLarge, want)
		}
	}
	// The fast path's scratch is clean for the next rendering.
	if again, ok := c.AppendWire(nil, md, b); !ok || !bytes.Equal(again, full) {
		t.Error("AppendWire after a refusal renders differently")
	}
	// Rendering stops within one value of the limit, whatever the shape:
	// dst has room for everything, so how far it was written shows where
	// rendering stopped.
	nuls := strings.Repeat("\x00", 1000) // each renders as 6 bytes
	var strs, packed []byte
	for range 1000 {
		strs = append(strs, wire(protowire.Number(29), protowire.BytesType, nuls)...)
	}
	packed = wire(protowire.Number(25), protowire.BytesType, make([]byte, 100000)) // 100 000 zeros
	for _, tc := range []struct {
		name string
		b    []byte
		max  int // how far rendering may write with a limit of 1000
	}{
		{"empty messages", b, 1000 + 2000},
		{"escaped strings", strs, 1000 + 6010},
		{"packed zeros", packed, 1000 + 10},
	} {
		dst := make([]byte, 1, 16<<20)
		for i := range dst[:cap(dst)] {
			dst[:cap(dst)][i] = 0xff
		}
		if _, ok, err := c.AppendWireLimit(dst, md, tc.b, 1000); ok || err == nil {
			t.Fatalf("%s: ok %v, err %v; want ResultTooLargeError", tc.name, ok, err)
		}
		written := cap(dst)
		for written > 0 && dst[:cap(dst)][written-1] == 0xff {
			written--
		}
		if written > tc.max {
			t.Errorf("%s: rendered %d bytes before giving up at a limit of 1000, want at most %d", tc.name, written, tc.max)
		}
	}
	if err := CheckLimit(full, md, b, len(full)-1); err == nil {
		t.Error("CheckLimit over the limit: nil")
	}
	if err := CheckLimit(full, md, b, 0); err != nil {
		t.Errorf("CheckLimit without a limit: %v", err)
	}
}
