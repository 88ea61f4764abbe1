package transcode

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	benchv1 "github.com/wampbridge/grpcwamp/gen/bench/v1"
)

var benchReqDesc = (&benchv1.UnaryRequest{}).ProtoReflect().Descriptor()

// checkRequestWire asserts AppendRequestWire's contract for one input and
// reports whether the fast path answered: when it does, Request accepts
// the input, and the bytes decode to Request's message; when it does not,
// b comes back as it was.
func checkRequestWire(t testing.TB, c *Codec, md protoreflect.MessageDescriptor, args []json.RawMessage) bool {
	t.Helper()
	const prefix = "prefix"
	for _, b := range [][]byte{[]byte(prefix), append(make([]byte, 0, 512), prefix...)} {
		got, ok := c.AppendRequestWire(b, md, args)
		want, err := c.Request("test", md, args)
		if !ok {
			if string(got) != prefix || len(got) != len(prefix) {
				t.Fatalf("AppendRequestWire(%s) gave up but returned %q, want %q", showArgs(args), got, prefix)
			}
			return false
		}
		if err != nil {
			t.Fatalf("AppendRequestWire(%s) = %x, but Request refuses: %v", showArgs(args), got, err)
		}
		if !bytes.HasPrefix(got, []byte(prefix)) {
			t.Fatalf("AppendRequestWire(%s) = %q, which lost the prefix", showArgs(args), got)
		}
		m := dynamicpb.NewMessage(md)
		if err := (proto.UnmarshalOptions{Resolver: c.resolver, AllowPartial: true}).Unmarshal(got[len(prefix):], m); err != nil {
			t.Fatalf("AppendRequestWire(%s) = %x, which does not unmarshal: %v", showArgs(args), got[len(prefix):], err)
		}
		if !proto.Equal(m, want) {
			wb, _ := proto.MarshalOptions{Deterministic: true}.Marshal(want)
			t.Fatalf("AppendRequestWire(%s)\n = %x: %v\nRequest builds %x: %v", showArgs(args), got[len(prefix):], m, wb, want)
		}
	}
	return true
}

func showArgs(args []json.RawMessage) string {
	s := make([]string, len(args))
	for i, a := range args {
		s[i] = string(a)
	}
	return "[" + strings.Join(s, ", ") + "]"
}

type reqWireCase struct {
	name string
	md   protoreflect.MessageDescriptor
	opts *Options // nil: DefaultOptions
	args []string // nil: no arguments
	fast bool     // the fast path answers (else Request must decide)
}

var (
	allDesc = wireMessage("tc.wire.All")
	p2Desc  = wireMessage("tc.wire.P2")
)

// reqWireCases cover each kind, the spellings protojson accepts and
// refuses, and what the fast path leaves to Request. They seed
// FuzzRequestWire too.
var reqWireCases = []reqWireCase{
	// The empty request, whatever the type.
	{name: "no args", md: benchReqDesc, fast: true},
	{name: "null", md: benchReqDesc, args: []string{" null\n"}, fast: true},
	{name: "null of a wkt", md: (&durationpb.Duration{}).ProtoReflect().Descriptor(), args: []string{"null"}, fast: true},
	{name: "no args required", md: testMessage("Legacy"), fast: true},
	{name: "empty object", md: benchReqDesc, args: []string{` { } `}, fast: true},
	{name: "empty object required", md: testMessage("Legacy"), args: []string{`{}`}},

	// The benchmark's request.
	{name: "bench object", md: benchReqDesc, args: []string{`{"seq":12345}`}, fast: true},
	{name: "bench positional", md: benchReqDesc, args: []string{`12345`}, fast: true},
	{name: "bench positional string", md: benchReqDesc, args: []string{` "12345" `}, fast: true},
	{name: "bench zero", md: benchReqDesc, args: []string{`{"seq": 0}`}, fast: true},
	{name: "bench negative", md: benchReqDesc, args: []string{`{"seq": -9223372036854775808}`}, fast: true},
	{name: "bench too small", md: benchReqDesc, args: []string{`{"seq": -9223372036854775809}`}},
	{name: "bench too big", md: benchReqDesc, args: []string{`{"seq": 9223372036854775808}`}},
	{name: "bench too many", md: benchReqDesc, args: []string{`1`, `2`}},
	{name: "bench too many nulls", md: benchReqDesc, args: []string{`null`, `null`}},
	{name: "bench unknown", md: benchReqDesc, args: []string{`{"sq": 1}`}},
	{name: "bench unknown discarded", md: benchReqDesc, opts: &Options{DiscardUnknown: true},
		args: []string{`{"sq": {"a": [1, "x", null, true, false, {}, []]}, "seq": 2, "x": -0.5e-3}`}, fast: true},
	{name: "bench unknown discarded bad", md: benchReqDesc, opts: &Options{DiscardUnknown: true}, args: []string{`{"sq": [1,]}`}},
	{name: "bench unknown discarded bad utf8", md: benchReqDesc, opts: &Options{DiscardUnknown: true}, args: []string{"{\"sq\": \"\xff\"}"}},
	{name: "bench duplicate", md: benchReqDesc, args: []string{`{"seq": 1, "seq": 1}`}},
	{name: "bench null value", md: benchReqDesc, args: []string{`{"seq": null}`}, fast: true},
	{name: "bench trailing data", md: benchReqDesc, args: []string{`{"seq": 1} 1`}},
	{name: "bench trailing comma", md: benchReqDesc, args: []string{`{"seq": 1,}`}},
	{name: "bench missing colon", md: benchReqDesc, args: []string{`{"seq" 1}`}},
	{name: "bench truncated", md: benchReqDesc, args: []string{`{"seq": 1`}},
	{name: "bench escaped key", md: benchReqDesc, args: []string{`{"s\u0065q": 1}`}, fast: true},
	{name: "bench extension key", md: benchReqDesc, args: []string{`{"[bench.v1.x]": 1}`}},
	{name: "bench positional null", md: benchReqDesc, args: []string{`null`}, fast: true},
	{name: "bench positional bad json", md: benchReqDesc, args: []string{`1 2`}},
	{name: "bench positional empty", md: benchReqDesc, args: []string{``}},
	{name: "bench positional object", md: benchReqDesc, args: []string{`{}`, `1`}},

	// Integers: numbers or strings holding exactly a number; exponents and
	// fractions as long as the value is an integer.
	{name: "int exponent", md: allDesc, args: []string{`{"fInt32": 1e3, "fInt64": "1E+3", "fUint32": 15e-1}`}},
	{name: "int exponent ok", md: allDesc, args: []string{`{"fInt32": 1e3, "fInt64": "1E+3", "fUint32": 150e-1}`}, fast: true},
	{name: "int fraction zero", md: allDesc, args: []string{`{"fInt32": 1.0, "fSint32": -2.50e1, "fSfixed32": "0.5e1"}`}, fast: true},
	{name: "int fraction", md: allDesc, args: []string{`{"fInt32": 1.5}`}},
	{name: "int minus zero", md: allDesc, args: []string{`{"fUint64": -0, "fFixed32": "-0.0e7", "optInt32": -0}`}, fast: true},
	{name: "uint negative", md: allDesc, args: []string{`{"fUint64": -1}`}},
	{name: "uint negative shifted", md: allDesc, args: []string{`{"fUint32": -0.1e1}`}},
	{name: "int zero huge exponent", md: allDesc, args: []string{`{"fInt32": 0e99999999999, "fInt64": 0.000e-99999999999}`}, fast: true},
	{name: "int huge exponent", md: allDesc, args: []string{`{"fInt32": 1e99999999999}`}},
	{name: "int 20 digits", md: allDesc, args: []string{`{"fUint64": 0.00000000000000000001e20}`}, fast: true},
	{name: "int over 20 digits", md: allDesc, args: []string{`{"fUint64": 0.000000000000000000001e21}`}},
	{name: "int many digits shifted", md: allDesc, args: []string{`{"fUint64": 100000000000000000000000000000e-10}`}, fast: true},
	{name: "int leading zero", md: allDesc, args: []string{`{"fInt32": 01}`}},
	{name: "int leading zero string", md: allDesc, args: []string{`{"fInt32": "01"}`}},
	{name: "int plus", md: allDesc, args: []string{`{"fInt32": +1}`}},
	{name: "int string space", md: allDesc, args: []string{`{"fInt32": " 1"}`}},
	{name: "int string unicode space", md: allDesc, args: []string{`{"fInt32": "1\u00a0"}`}},
	{name: "int string escaped digit", md: allDesc, args: []string{`{"fInt32": "\u0031\u0032"}`}, fast: true},
	{name: "int bare exponent", md: allDesc, args: []string{`{"fInt32": 1e }`}},
	{name: "int hex", md: allDesc, args: []string{`{"fInt32": "0x10"}`}},
	{name: "int bool", md: allDesc, args: []string{`{"fInt32": true}`}},
	{name: "int limits", md: allDesc, args: []string{`{"fInt32": -2147483648, "fSint32": 2147483647, "fSfixed32": -2147483648,
		"fUint32": 4294967295, "fFixed32": "4294967295", "fInt64": "-9223372036854775808", "fSint64": -9223372036854775808,
		"fSfixed64": 9223372036854775807, "fUint64": "18446744073709551615", "fFixed64": 18446744073709551615}`}, fast: true},
	{name: "int32 over", md: allDesc, args: []string{`{"fInt32": 2147483648}`}},
	{name: "sint32 under", md: allDesc, args: []string{`{"fSint32": -2147483649}`}},
	{name: "uint32 over", md: allDesc, args: []string{`{"fFixed32": 4294967296}`}},
	{name: "uint64 over", md: allDesc, args: []string{`{"fUint64": 18446744073709551616}`}},

	// Floats.
	{name: "floats", md: allDesc, args: []string{`{"fDouble": 1.5e300, "fFloat": "-2.5", "optDouble": 0}`}, fast: true},
	{name: "float specials", md: allDesc, args: []string{`{"fDouble": "NaN", "fFloat": "-Infinity", "rDouble": ["Infinity", "NaN", -0]}`}, fast: true},
	{name: "float escaped special", md: allDesc, args: []string{`{"fDouble": "\u004eaN"}`}, fast: true},
	{name: "float minus zero", md: allDesc, args: []string{`{"fDouble": -0, "fFloat": -0.0}`}, fast: true},
	{name: "float lowercase nan", md: allDesc, args: []string{`{"fDouble": "nan"}`}},
	{name: "float inf", md: allDesc, args: []string{`{"fDouble": "inf"}`}},
	{name: "float bare NaN", md: allDesc, args: []string{`{"fDouble": NaN}`}},
	{name: "float32 overflow", md: allDesc, args: []string{`{"fFloat": 3.5e38}`}},
	{name: "float32 max", md: allDesc, args: []string{`{"fFloat": 3.4028234e38}`}, fast: true},
	{name: "float32 tiny", md: allDesc, args: []string{`{"fFloat": 1e-50, "fDouble": 1e-400}`}, fast: true},
	{name: "double overflow", md: allDesc, args: []string{`{"fDouble": "1e309"}`}},
	{name: "float string space", md: allDesc, args: []string{`{"fDouble": "1 "}`}},
	{name: "float dot", md: allDesc, args: []string{`{"fDouble": 1.}`}},
	{name: "float dot first", md: allDesc, args: []string{`{"fDouble": .5}`}},
	{name: "float long", md: allDesc, args: []string{`{"fDouble": 0.100000000000000000000000000000000000000000000000000000001}`}, fast: true},

	// Bools.
	{name: "bools", md: allDesc, args: []string{`{"fBool": true, "rBool": [true, false, true]}`}, fast: true},
	{name: "bool false", md: allDesc, args: []string{`{"fBool": false}`}, fast: true},
	{name: "bool string", md: allDesc, args: []string{`{"fBool": "true"}`}},
	{name: "bool number", md: allDesc, args: []string{`{"fBool": 1}`}},
	{name: "bool glued", md: allDesc, args: []string{`{"fBool": truex}`}},

	// Strings: every escape, UTF-8 checked.
	{name: "string escapes", md: allDesc, args: []string{`{"fString": "a\"\\\/\b\f\n\r\t\u0000\u00e9\ud83d\ude00é😀"}`}, fast: true},
	{name: "string empty", md: allDesc, args: []string{`{"fString": "", "optString": ""}`}, fast: true},
	{name: "string long", md: allDesc, args: []string{`{"fString": "` + strings.Repeat("x", 300) + `"}`}, fast: true},
	{name: "string lone high surrogate", md: allDesc, args: []string{`{"fString": "\ud83d"}`}},
	{name: "string lone low surrogate", md: allDesc, args: []string{`{"fString": "\ude00x"}`}},
	{name: "string reversed surrogates", md: allDesc, args: []string{`{"fString": "\ude00\ud83d"}`}},
	{name: "string surrogate then escape", md: allDesc, args: []string{`{"fString": "\ud83d\n"}`}},
	{name: "string bad escape", md: allDesc, args: []string{`{"fString": "\x"}`}},
	{name: "string short unicode", md: allDesc, args: []string{`{"fString": "\u12"}`}},
	{name: "string control", md: allDesc, args: []string{"{\"fString\": \"a\tb\"}"}},
	{name: "string invalid utf8", md: allDesc, args: []string{"{\"fString\": \"\xc3\"}"}},
	{name: "string encoded surrogate", md: allDesc, args: []string{"{\"fString\": \"\xed\xa0\x80\"}"}},
	{name: "string replacement char", md: allDesc, args: []string{"{\"fString\": \"\xef\xbf\xbd\\ufffd\"}"}, fast: true},
	{name: "string number", md: allDesc, args: []string{`{"fString": 1}`}},
	{name: "string delete char", md: allDesc, args: []string{"{\"fString\": \"\x7f\"}"}, fast: true},

	// Bytes: standard or URL-safe base64, padded or not.
	{name: "bytes std", md: allDesc, args: []string{`{"fBytes": "+/8=", "rBytes": ["", "AA==", "AAA", "-_8", "-_8=", "AQID"]}`}, fast: true},
	{name: "bytes escaped", md: allDesc, args: []string{`{"fBytes": "\u0041\u0051\u003d\u003d"}`}, fast: true},
	{name: "bytes newline", md: allDesc, args: []string{`{"fBytes": "AQ\nID"}`}, fast: true},
	{name: "bytes newline padded", md: allDesc, args: []string{`{"fBytes": "AQI\r\nD"}`}, fast: true},
	{name: "bytes mixed alphabets", md: allDesc, args: []string{`{"fBytes": "+_8="}`}},
	{name: "bytes bad padding", md: allDesc, args: []string{`{"fBytes": "AA="}`}},
	{name: "bytes bad", md: allDesc, args: []string{`{"fBytes": "A"}`}},
	{name: "bytes long", md: allDesc, args: []string{`{"fBytes": "` + strings.Repeat("AQID", 60) + `"}`}, fast: true},
	{name: "bytes long escaped", md: allDesc, args: []string{`{"fBytes": "` + strings.Repeat("AQ\u0049D", 60) + `"}`}, fast: true},
	{name: "bytes empty", md: allDesc, args: []string{`{"fBytes": ""}`}, fast: true},

	// Enums: names, numbers, open and closed.
	{name: "enum name", md: allDesc, args: []string{`{"fEnum": "GREEN", "optEnum": "COLOR_UNSPECIFIED"}`}, fast: true},
	{name: "enum alias", md: allDesc, args: []string{`{"fEnum": "CRIMSON", "rEnum": ["RED", 1, "FAR", 7, -3]}`}, fast: true},
	{name: "enum unknown number open", md: allDesc, args: []string{`{"fEnum": 12345, "cEnum": 1e1}`}, fast: true},
	{name: "enum numeric string", md: allDesc, args: []string{`{"fEnum": "1"}`}},
	{name: "enum unknown name", md: allDesc, args: []string{`{"fEnum": "BLUE"}`}},
	{name: "enum unknown name discarded", md: allDesc, opts: &Options{DiscardUnknown: true}, args: []string{`{"fEnum": "BLUE"}`}},
	{name: "enum number too big", md: allDesc, args: []string{`{"fEnum": 2147483648}`}},
	{name: "enum bool", md: allDesc, args: []string{`{"fEnum": true}`}},
	{name: "enum closed", md: p2Desc, args: []string{`{"lvl": "HIGH"}`}, fast: true},
	{name: "enum closed number", md: p2Desc, args: []string{`{"lvl": 5}`}, fast: true},
	{name: "enum closed unknown number", md: p2Desc, args: []string{`{"lvl": 6}`}},
	{name: "enum closed zero", md: p2Desc, args: []string{`{"lvl": 0}`}},

	// Nested messages.
	{name: "nested", md: allDesc, args: []string{`{"fMsg": {"fInt32": 1, "fMsg": {"fString": "x", "fMsg": {}}}}`}, fast: true},
	{name: "nested null", md: allDesc, args: []string{`{"fMsg": null, "optMsg": {"fMsg": null}}`}, fast: true},
	{name: "nested long", md: allDesc, args: []string{`{"fMsg": {"fString": "` + strings.Repeat("y", 200) + `"}}`}, fast: true},
	{name: "nested very long", md: allDesc, args: []string{`{"fMsg": {"fMsg": {"fBytes": "` + strings.Repeat("AQID", 6000) + `"}}}`}, fast: true},
	{name: "nested not object", md: allDesc, args: []string{`{"fMsg": []}`}},
	{name: "nested duplicate", md: allDesc, args: []string{`{"fMsg": {"fInt32": 1, "f_int32": 2}}`}},
	{name: "nested deep", md: allDesc, args: []string{strings.Repeat(`{"fMsg": `, 31) + `{}` + strings.Repeat(`}`, 31)}, fast: true},
	{name: "nested too deep", md: allDesc, args: []string{strings.Repeat(`{"fMsg": `, 40) + `{}` + strings.Repeat(`}`, 40)}},
	{name: "nested required", md: p2Desc, args: []string{`{"req": {"id": 1}}`}},
	{name: "nested required absent", md: p2Desc, args: []string{`{"child": {"a": 1, "s": "x", "plain": "p"}}`}, fast: true},

	// Repeated fields, packed or not.
	{name: "repeated scalars", md: allDesc, args: []string{`{"rInt32": [1, -1, "2"], "rSint64": [-5, 5], "rFixed32": [1, 2], "rSfixed64": [-1],
		"rFloat": [1.5, "NaN"], "rUint64": ["18446744073709551615"], "rString": ["a", "", "\u00e9"], "rDouble": []}`}, fast: true},
	{name: "repeated long packed", md: allDesc, args: []string{`{"rInt64": [` + strings.Repeat(`-1, `, 100) + `1]}`}, fast: true},
	{name: "repeated messages", md: allDesc, args: []string{`{"rMsg": [{}, {"fInt32": 1}, {"rMsg": [{}]}]}`}, fast: true},
	{name: "repeated null element", md: allDesc, args: []string{`{"rInt32": [1, null]}`}},
	{name: "repeated null message", md: allDesc, args: []string{`{"rMsg": [null]}`}},
	{name: "repeated not array", md: allDesc, args: []string{`{"rInt32": 1}`}},
	{name: "repeated null", md: allDesc, args: []string{`{"rInt32": null, "rMsg": null, "mInt32": null}`}, fast: true},
	{name: "repeated trailing comma", md: allDesc, args: []string{`{"rInt32": [1,]}`}},
	{name: "repeated empty comma", md: allDesc, args: []string{`{"rInt32": [,]}`}},
	{name: "repeated proto2", md: p2Desc, args: []string{`{"unpacked": [1, 2, 0], "packed": [-1, 0, 1]}`}, fast: true},

	// Maps, every key kind.
	{name: "maps", md: allDesc, args: []string{`{"mInt64": {"-1": 1.5, "+2": 0}, "mUint64": {"0": true, "007": false},
		"mInt32": {"-2147483648": "-5"}, "mFixed64": {"18446744073709551615": 7}, "mFixed32": {"1": -1},
		"mBool": {"true": "1", "false": 0}, "mString": {"": 1, "a\"b": 2, "\u00e9": -3},
		"mUint32": {"4294967295": 1}, "mSfixed32": {"-0": 0}, "mSfixed64": {"1": "1"},
		"mSint32": {"5": 1}, "mSint64": {"-5": "-1"}}`}, fast: true},
	{name: "map messages", md: allDesc, args: []string{`{"mMsg": {"a": {}, "b": {"fInt32": 1}}, "mEnum": {"1": "RED", "2": 2}}`}, fast: true},
	{name: "map duplicate key", md: allDesc, args: []string{`{"mString": {"a": 1, "a": 2}}`}},
	{name: "map duplicate escaped key", md: allDesc, args: []string{`{"mString": {"a": 1, "\u0061": 2}}`}},
	{name: "map duplicate int key", md: allDesc, args: []string{`{"mInt32": {"1": 1, "01": 2}}`}},
	{name: "map duplicate bool key", md: allDesc, args: []string{`{"mBool": {"true": 1, "tru\u0065": 2}}`}},
	{name: "map many keys", md: allDesc, args: []string{manyKeys(100, false)}, fast: true},
	{name: "map many keys duplicate", md: allDesc, args: []string{manyKeys(100, true)}},
	{name: "map bad int key", md: allDesc, args: []string{`{"mInt32": {"1.0": 1}}`}},
	{name: "map int key space", md: allDesc, args: []string{`{"mInt32": {" 1": 1}}`}},
	{name: "map uint key plus", md: allDesc, args: []string{`{"mUint32": {"+1": 1}}`}},
	{name: "map bool key", md: allDesc, args: []string{`{"mBool": {"True": 1}}`}},
	{name: "map null value", md: allDesc, args: []string{`{"mString": {"a": null}}`}},
	{name: "map null message", md: allDesc, args: []string{`{"mMsg": {"a": null}}`}},
	{name: "map not object", md: allDesc, args: []string{`{"mString": [1]}`}},
	{name: "map value message", md: allDesc, args: []string{`{"mValue": {"a": 1}}`}},
	{name: "map proto2 enum", md: p2Desc, args: []string{`{"levels": {"a": "ONE", "b": 0}}`}, fast: true},
	{name: "map long entry", md: allDesc, args: []string{`{"mMsg": {"k": {"fString": "` + strings.Repeat("z", 200) + `"}}}`}, fast: true},
	{name: "map long entries duplicate", md: allDesc, args: []string{`{"mMsg": {"k": {"fString": "` + strings.Repeat("z", 200) + `"}, "k": {}}}`}},
	{name: "map long keys", md: allDesc, args: []string{`{"mString": {"` + strings.Repeat("a", 200) + `": 1, "` + strings.Repeat("a", 199) + `": 2}}`}, fast: true},
	{name: "map long keys duplicate", md: allDesc, args: []string{`{"mString": {"` + strings.Repeat("a", 200) + `": 1, "` + strings.Repeat("a", 200) + `": 2}}`}},

	// Oneofs and proto3 optional.
	{name: "oneof", md: allDesc, args: []string{`{"cString": "x"}`}, fast: true},
	{name: "oneof zero", md: allDesc, args: []string{`{"cInt32": 0}`}, fast: true},
	{name: "oneof message", md: allDesc, args: []string{`{"cMsg": {}}`}, fast: true},
	{name: "oneof two", md: allDesc, args: []string{`{"cString": "x", "cInt32": 1}`}},
	{name: "oneof two by null", md: allDesc, args: []string{`{"cString": null, "cInt32": 1, "cEnum": null}`}, fast: true},
	{name: "oneof null value", md: allDesc, args: []string{`{"cNull": null}`}},
	{name: "optional zeros", md: allDesc, args: []string{`{"optInt32": 0, "optString": "", "optEnum": 0, "optMsg": {}, "optDouble": -0}`}, fast: true},

	// Names: JSON and proto names, custom JSON names.
	{name: "proto names", md: allDesc, args: []string{`{"f_int32": 1, "r_string": ["a"], "opt_int32": 2, "c_string": "c", "m_int32": {"1": 1}}`}, fast: true},
	{name: "custom json name", md: allDesc, args: []string{`{"Custom \"Name\"é": 5}`}, fast: true},
	{name: "custom json name escaped", md: allDesc, args: []string{`{"Custom \u0022Name\"\u00e9": 5}`}, fast: true},
	{name: "custom json name proto", md: allDesc, args: []string{`{"custom_name": 5}`}, fast: true},
	{name: "default json name of custom", md: allDesc, args: []string{`{"customName": 5}`}},
	{name: "far field", md: allDesc, args: []string{`{"far": "x"}`}, fast: true},
	{name: "name and proto name", md: allDesc, args: []string{`{"fInt32": 1, "f_int32": 1}`}},

	// Well-known types: wrappers and Empty here, the rest with Request.
	{name: "wrappers", md: allDesc, args: []string{`{"wInt32value": 5, "wStringvalue": "s", "wBoolvalue": false, "wDoublevalue": "NaN",
		"wBytesvalue": "AQ==", "wUint64value": "18446744073709551615", "wFloatvalue": 0, "wInt64value": "-1", "wUint32value": 1}`}, fast: true},
	{name: "wrappers repeated", md: allDesc, args: []string{`{"rwInt32value": [0, 1, "2"], "rwStringvalue": ["", "a"]}`}, fast: true},
	{name: "wrapper null element", md: allDesc, args: []string{`{"rwInt32value": [null]}`}},
	{name: "wrapper object", md: allDesc, args: []string{`{"wInt32value": {"value": 1}}`}},
	{name: "empty", md: allDesc, args: []string{`{"wEmpty": {}, "rwEmpty": [{}, {}]}`}, fast: true},
	{name: "empty with key", md: allDesc, args: []string{`{"wEmpty": {"a": 1}}`}},
	{name: "empty with key discarded", md: allDesc, opts: &Options{DiscardUnknown: true}, args: []string{`{"wEmpty": {"a": 1}}`}, fast: true},
	{name: "timestamp", md: allDesc, args: []string{`{"wTimestamp": "2026-01-01T00:00:00Z"}`}},
	{name: "duration", md: allDesc, args: []string{`{"wDuration": "1s"}`}},
	{name: "struct", md: allDesc, args: []string{`{"wStruct": {}}`}},
	{name: "any", md: allDesc, args: []string{`{"wAny": {"@type": "type.googleapis.com/google.protobuf.Empty"}}`}},
	{name: "value null", md: allDesc, args: []string{`{"wValue": null}`}},
	{name: "null value", md: allDesc, args: []string{`{"null": null}`}},
	{name: "wkt null", md: allDesc, args: []string{`{"wTimestamp": null, "wAny": null, "rwDuration": null}`}, fast: true},
	{name: "wrapper request", md: (&wrapperspb.Int32Value{}).ProtoReflect().Descriptor(), args: []string{`5`}},
	{name: "empty request", md: (&emptypb.Empty{}).ProtoReflect().Descriptor(), args: []string{`{}`}, fast: true},

	// Positional arguments.
	{name: "positional", md: echoDesc, args: []string{`"t"`, `"7"`, `"9007199254740993"`, `0.5`, `true`, `"AAE="`, `"COLOR_GREEN"`,
		`{"name": "n", "values": [1, "2"]}`, `["a", "b"]`, `{"x": 1}`}, fast: true},
	{name: "positional nulls", md: echoDesc, args: []string{`null`, `5`, ` null `}, fast: true},
	{name: "positional zero", md: echoDesc, args: []string{`""`, `0`, `"0"`, `-0`, `false`, `""`, `0`}, fast: true},
	{name: "positional oneof", md: echoDesc, args: []string{`null`, `null`, `null`, `null`, `null`, `null`, `null`, `null`, `null`, `null`,
		`null`, `null`, `null`, `null`, `"a"`, `null`, `0`}, fast: true},
	{name: "positional oneof conflict", md: echoDesc, args: []string{`null`, `null`, `null`, `null`, `null`, `null`, `null`, `null`, `null`, `null`,
		`null`, `null`, `null`, `null`, `"a"`, `2`}},
	{name: "positional wkt", md: clockDesc, args: []string{`20`, `"1s"`}},
	{name: "positional before wkt", md: clockDesc, args: []string{`20`}, fast: true},
	{name: "positional wrong kind", md: echoDesc, args: []string{`5`}},
	{name: "positional list not array", md: echoDesc, args: []string{`null`, `null`, `null`, `null`, `null`, `null`, `null`, `null`, `"a"`}},
	{name: "positional message not object", md: echoDesc, args: []string{`null`, `null`, `null`, `null`, `null`, `null`, `null`, `"x"`}},
	{name: "positional two values", md: echoDesc, args: []string{`"a" "b"`}},
	{name: "positional array first", md: echoDesc, args: []string{`["not", "text"]`}},
	{name: "positional nested discard", md: echoDesc, opts: &Options{DiscardUnknown: true},
		args: []string{`null`, `null`, `null`, `null`, `null`, `null`, `null`, `{"nme": [1], "name": "n"}`}, fast: true},
	{name: "positional nested unknown", md: echoDesc, args: []string{`null`, `null`, `null`, `null`, `null`, `null`, `null`, `{"nme": 1}`}},
	{name: "positional proto2", md: p2Desc, args: []string{`0`, `""`, `"LOW"`, `[1]`, `[]`, `{"a": 0}`}, fast: true},
	{name: "positional required", md: p2Desc, args: []string{`null`, `null`, `null`, `null`, `null`, `null`, `null`, `null`, `null`, `null`, `null`, `{"id": 1}`}},
	{name: "positional group", md: p2Desc, args: []string{`null`, `null`, `null`, `null`, `null`, `null`, `{"g": 1}`}},
	{name: "positional no fields", md: (&emptypb.Empty{}).ProtoReflect().Descriptor(), args: []string{`1`}},

	// Proto2.
	{name: "proto2 zeros are set", md: p2Desc, args: []string{`{"a": 0, "s": "", "bb": "", "d": 0, "fl": -0, "plain": ""}`}, fast: true},
	{name: "proto2 group", md: p2Desc, args: []string{`{"grp": {"g": 1}}`}},
	{name: "proto2 group null", md: p2Desc, args: []string{`{"grp": null}`}},
	{name: "proto2 extension", md: testMessage("Legacy"), args: []string{`{"id": 1, "[tc.test.note]": "hi"}`}},
	{name: "required top", md: testMessage("Legacy"), args: []string{`{"id": 1}`}},
	{name: "any list empty", md: testMessage("Envelope"), args: []string{`{"items": []}`}, fast: true},
	{name: "any list", md: testMessage("Envelope"), args: []string{`{"items": [{}]}`}},
	{name: "recursive", md: testMessage("Envelope"), args: []string{`{"next": {"next": {"next": {}}}}`}, fast: true},
}

// manyKeys is an object setting mString with n keys, one of them twice if
// dup.
func manyKeys(n int, dup bool) string {
	var b strings.Builder
	b.WriteString(`{"mString": {`)
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		k := i
		if dup && i == n-1 {
			k = n / 2
		}
		fmt.Fprintf(&b, `"k%d": %d`, k, i)
	}
	b.WriteString(`}}`)
	return b.String()
}

func TestRequestWire(t *testing.T) {
	t.Parallel()
	for _, tc := range reqWireCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			opts := DefaultOptions()
			if tc.opts != nil {
				opts = *tc.opts
			}
			var r Resolver = wireTestTypes
			if tc.md.ParentFile().Path() == testFile.Path() {
				r = testTypes
			}
			c := New(r, opts)
			if got := checkRequestWire(t, c, tc.md, rawArgs(tc.args)); got != tc.fast {
				_, err := c.Request("test", tc.md, rawArgs(tc.args))
				t.Fatalf("AppendRequestWire answered %v, want %v (Request error: %v)", got, tc.fast, err)
			}
		})
	}
}

// TestRequestWireBytes pins the encoding of the benchmark's request: the
// varint of field 1.
func TestRequestWireBytes(t *testing.T) {
	t.Parallel()
	c := New(nil, DefaultOptions())
	want := protowire.AppendVarint(protowire.AppendTag(nil, 1, protowire.VarintType), 12345)
	for _, args := range [][]string{{`{"seq":12345}`}, {`12345`}} {
		got, ok := c.AppendRequestWire(nil, benchReqDesc, rawArgs(args))
		if !ok || !bytes.Equal(got, want) {
			t.Errorf("AppendRequestWire(%s) = %x, %v; want %x, true", args, got, ok, want)
		}
	}
}

// TestRequestWireAllocs checks that the fast path allocates nothing once
// the plan is compiled and b has room.
func TestRequestWireAllocs(t *testing.T) {
	c := New(wireTestTypes, DefaultOptions())
	b := make([]byte, 0, 1024)
	for _, tc := range []struct {
		md   protoreflect.MessageDescriptor
		args []string
	}{
		{benchReqDesc, []string{`{"seq":12345}`}},
		{benchReqDesc, []string{`12345`}},
		{allDesc, []string{`{"fDouble": 1.5, "fFloat": "1e10", "fBytes": "AAE", "rBytes": ["-_8", "\u0041A=="],
			"fString": "a\u00e9\ud83d\ude00", "f_enum": "GREEN", "mString": {"a": 1, "b\n": 2}, "mInt32": {"\u0031": 1},
			"rMsg": [{"fInt32": "1e2"}, {"fMsg": {"fString": "` + strings.Repeat("x", 200) + `"}}],
			"rInt64": [1, -1, "5"], "wInt32value": 3, "cString": "c", "optInt32": 0}`}},
	} {
		args := rawArgs(tc.args)
		if _, ok := c.AppendRequestWire(b, tc.md, args); !ok {
			t.Fatalf("AppendRequestWire(%s) gave up", showArgs(args))
		}
		if n := testing.AllocsPerRun(100, func() { c.AppendRequestWire(b, tc.md, args) }); n != 0 {
			t.Errorf("AppendRequestWire(%s) allocates %v times", showArgs(args), n)
		}
	}
}

// TestRequestWirePlanBound checks that a Codec stops compiling plans past
// its bound, and keeps answering for the types it has plans for.
func TestRequestWirePlanBound(t *testing.T) {
	t.Parallel()
	c := New(nil, DefaultOptions())
	c.req.max = 3
	bench := rawArgs([]string{`{"seq": 1}`})
	echo := rawArgs([]string{`{"text": "t"}`})
	if _, ok := c.AppendRequestWire(nil, benchReqDesc, bench); !ok {
		t.Fatal("the fast path gave up on UnaryRequest, within the bound")
	}
	for range 2 {
		if _, ok := c.AppendRequestWire(nil, echoDesc, echo); ok {
			t.Fatal("the fast path answered for EchoRequest, whose types pass the bound")
		}
	}
	if _, ok := c.AppendRequestWire(nil, benchReqDesc, bench); !ok {
		t.Fatal("the fast path gave up on UnaryRequest after the bound was reached")
	}
	if c.req.n != 1 || !c.req.full {
		t.Fatalf("cache holds %d plans, full %v; want 1, true", c.req.n, c.req.full)
	}
}
