package transcode

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	bridgetestv1 "github.com/wampbridge/grpcwamp/gen/bridgetest/v1"
	demov1 "github.com/wampbridge/grpcwamp/gen/demo/v1"
)

const (
	clockProc = "demo.v1.ClockService.GetProgressiveTime"
	echoProc  = "bridgetest.v1.TestService.Echo"
)

var (
	clockDesc = (&demov1.GetProgressiveTimeRequest{}).ProtoReflect().Descriptor()
	echoDesc  = (&bridgetestv1.EchoRequest{}).ProtoReflect().Descriptor()
)

type requestCase struct {
	name    string
	proc    string
	md      protoreflect.MessageDescriptor
	opts    *Options // nil: DefaultOptions
	args    []string // each one JSON argument; nil: no arguments
	want    proto.Message
	wantErr string // the status message; the code is always INVALID_ARGUMENT
}

// requestCases are shared with FuzzRequest as its seed corpus.
var requestCases = []requestCase{
	// The empty request.
	{name: "no args", proc: clockProc, md: clockDesc, want: &demov1.GetProgressiveTimeRequest{}},
	{name: "one null", proc: clockProc, md: clockDesc, args: []string{" null "}, want: &demov1.GetProgressiveTimeRequest{}},
	{name: "empty object", proc: clockProc, md: clockDesc, args: []string{`{}`}, want: &demov1.GetProgressiveTimeRequest{}},

	// Object form.
	{
		name: "object json names", proc: clockProc, md: clockDesc,
		args: []string{`{"count": 20, "interval": "1.5s"}`},
		want: &demov1.GetProgressiveTimeRequest{Count: 20, Interval: durationpb.New(1500 * time.Millisecond)},
	},
	{
		name: "object proto and json names", proc: echoProc, md: echoDesc,
		args:    []string{`{"choice_text": "c", "anyKind": "known", "any_kind": null}`},
		wantErr: `procedure "bridgetest.v1.TestService.Echo": duplicate field "any_kind" (also given as "anyKind")`,
	},
	{
		name: "object every kind", proc: echoProc, md: echoDesc,
		args: []string{`{"text": "t", "number": "7", "big": "9007199254740993", "ratio": 0.5, "flag": true,
			"blob": "AAE=", "color": "COLOR_GREEN", "inner": {"name": "n", "values": [1, "2"]},
			"tags": ["a", "b"], "counts": {"x": 1}, "at": "2026-01-02T03:04:05Z", "wait": "3s",
			"extra": {"k": [1, null, "s"]}, "label": "l", "choice_number": 4, "maybe": 0, "any_kind": "unknown"}`},
		want: &bridgetestv1.EchoRequest{
			Text: "t", Number: 7, Big: 9007199254740993, Ratio: 0.5, Flag: true,
			Blob: []byte{0, 1}, Color: bridgetestv1.Color_COLOR_GREEN,
			Inner: &bridgetestv1.Inner{Name: "n", Values: []int32{1, 2}},
			Tags:  []string{"a", "b"}, Counts: map[string]int32{"x": 1},
			At: timestamppb.New(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)), Wait: durationpb.New(3 * time.Second),
			Extra: mustStruct(map[string]any{"k": []any{1, nil, "s"}}), Label: wrapperspb.String("l"),
			Choice: &bridgetestv1.EchoRequest_ChoiceNumber{ChoiceNumber: 4}, Maybe: proto.Int32(0), AnyKind: "unknown",
		},
	},
	{
		name: "object nulls leave fields unset", proc: echoProc, md: echoDesc,
		args: []string{`{"text": null, "inner": null, "choiceText": null, "choiceNumber": 3, "tags": null}`},
		want: &bridgetestv1.EchoRequest{Choice: &bridgetestv1.EchoRequest_ChoiceNumber{ChoiceNumber: 3}},
	},
	{
		name: "object enum number", proc: echoProc, md: echoDesc,
		args: []string{`{"color": 1}`},
		want: &bridgetestv1.EchoRequest{Color: bridgetestv1.Color_COLOR_RED},
	},
	{
		name: "object empty nested message is set", proc: echoProc, md: echoDesc,
		args: []string{`{"inner": {}}`},
		want: &bridgetestv1.EchoRequest{Inner: &bridgetestv1.Inner{}},
	},

	// Positional form.
	{
		name: "positional number", proc: clockProc, md: clockDesc,
		args: []string{`20`},
		want: &demov1.GetProgressiveTimeRequest{Count: 20},
	},
	{
		name: "positional numeric string", proc: clockProc, md: clockDesc,
		args: []string{`"20"`},
		want: &demov1.GetProgressiveTimeRequest{Count: 20},
	},
	{
		name: "positional duration string", proc: clockProc, md: clockDesc,
		args: []string{`20`, `"0.25s"`},
		want: &demov1.GetProgressiveTimeRequest{Count: 20, Interval: durationpb.New(250 * time.Millisecond)},
	},
	{
		name: "positional null leaves field unset", proc: clockProc, md: clockDesc,
		args: []string{`null`, `"2s"`},
		want: &demov1.GetProgressiveTimeRequest{Interval: durationpb.New(2 * time.Second)},
	},
	{
		name: "positional nested object and list", proc: echoProc, md: echoDesc,
		args: []string{`"t"`, `null`, `null`, `null`, `null`, `null`, `"COLOR_RED"`, `{"name": "n"}`, `["x"]`},
		want: &bridgetestv1.EchoRequest{Text: "t", Color: bridgetestv1.Color_COLOR_RED, Inner: &bridgetestv1.Inner{Name: "n"}, Tags: []string{"x"}},
	},
	{
		name: "positional array is positional", proc: echoProc, md: echoDesc,
		args:    []string{`["not", "text"]`},
		wantErr: `procedure "bridgetest.v1.TestService.Echo": argument 1 (field "text", string): invalid value ["not", "text"]`,
	},

	// Too many arguments.
	{
		name: "too many positional", proc: clockProc, md: clockDesc,
		args:    []string{`1`, `"1s"`, `3`},
		wantErr: `procedure "demo.v1.ClockService.GetProgressiveTime": takes at most 2 positional arguments (count, interval), got 3`,
	},
	{
		name: "too many positional for one field", proc: "bridgetest.v1.TestService.Sum",
		md:      (&bridgetestv1.SumRequest{}).ProtoReflect().Descriptor(),
		args:    []string{`[1]`, `[2]`},
		wantErr: `procedure "bridgetest.v1.TestService.Sum": takes at most 1 positional argument (numbers), got 2`,
	},
	{
		name: "no fields", proc: "demo.v1.ClockService.GetTime", md: (&demov1.GetTimeRequest{}).ProtoReflect().Descriptor(),
		args:    []string{`5`},
		wantErr: `procedure "demo.v1.ClockService.GetTime": takes no arguments (demo.v1.GetTimeRequest has no fields), got 1`,
	},

	// Bad values name the argument, the field and its type.
	{
		name: "bad positional value", proc: clockProc, md: clockDesc,
		args:    []string{`"abc"`},
		wantErr: `procedure "demo.v1.ClockService.GetProgressiveTime": argument 1 (field "count", int32): invalid value "abc"; want an integer from -2147483648 to 2147483647`,
	},
	{
		name: "bad positional duration", proc: clockProc, md: clockDesc,
		args:    []string{`1`, `"soon"`},
		wantErr: `procedure "demo.v1.ClockService.GetProgressiveTime": argument 2 (field "interval", google.protobuf.Duration): invalid google.protobuf.Duration value "soon"; want a string of seconds such as "1.5s"`,
	},
	{
		name: "int32 out of range", proc: clockProc, md: clockDesc,
		args:    []string{`{"count": 3000000000}`},
		wantErr: `procedure "demo.v1.ClockService.GetProgressiveTime": field "count" (int32): invalid value 3000000000; want an integer from -2147483648 to 2147483647`,
	},
	{
		name: "bad object value", proc: echoProc, md: echoDesc,
		args:    []string{`{"text": 5}`},
		wantErr: `procedure "bridgetest.v1.TestService.Echo": field "text" (string): invalid value 5`,
	},
	{
		name: "bad enum", proc: echoProc, md: echoDesc,
		args:    []string{`{"color": "COLOR_PURPLE"}`},
		wantErr: `procedure "bridgetest.v1.TestService.Echo": field "color" (bridgetest.v1.Color): invalid value "COLOR_PURPLE"; want one of COLOR_UNSPECIFIED, COLOR_RED, COLOR_GREEN, or the value's number`,
	},
	{
		name: "bad map value", proc: echoProc, md: echoDesc,
		args:    []string{`{"counts": {"a": "x"}}`},
		wantErr: `procedure "bridgetest.v1.TestService.Echo": field "counts" (map<string, int32>): invalid value "x"; want an integer from -2147483648 to 2147483647`,
	},
	{
		name: "list wanted", proc: echoProc, md: echoDesc,
		args:    []string{`{"tags": "x"}`},
		wantErr: `procedure "bridgetest.v1.TestService.Echo": field "tags" (repeated string): want a JSON array, got "x"`,
	},
	{
		name: "object wanted", proc: echoProc, md: echoDesc,
		args:    []string{`{"inner": 5}`},
		wantErr: `procedure "bridgetest.v1.TestService.Echo": field "inner" (bridgetest.v1.Inner): want a JSON object, got 5`,
	},
	{
		name: "long value is cut", proc: echoProc, md: echoDesc,
		args:    []string{`{"inner": "ééééééééééééééééééééééééééééééé"}`},
		wantErr: `procedure "bridgetest.v1.TestService.Echo": field "inner" (bridgetest.v1.Inner): want a JSON object, got "ééééééééééééééééééé…`,
	},

	// Unknown, duplicate and conflicting fields.
	{
		name: "unknown field", proc: clockProc, md: clockDesc,
		args:    []string{`{"cout": 1}`},
		wantErr: `procedure "demo.v1.ClockService.GetProgressiveTime": unknown field "cout" in demo.v1.GetProgressiveTimeRequest (fields: count, interval)`,
	},
	{
		name: "unknown field discarded", proc: clockProc, md: clockDesc, opts: &Options{DiscardUnknown: true},
		args: []string{`{"cout": 1, "count": 2, "interval": null}`},
		want: &demov1.GetProgressiveTimeRequest{Count: 2},
	},
	{
		name: "unknown nested field discarded", proc: echoProc, md: echoDesc, opts: &Options{DiscardUnknown: true},
		args: []string{`{"inner": {"nme": 1, "name": "n"}}`},
		want: &bridgetestv1.EchoRequest{Inner: &bridgetestv1.Inner{Name: "n"}},
	},
	{
		name: "invalid UTF-8 in a discarded value", proc: clockProc, md: clockDesc, opts: &Options{DiscardUnknown: true},
		args:    []string{"{\"count\": 2, \"cout\": \"a\xff\"}"},
		wantErr: `procedure "demo.v1.ClockService.GetProgressiveTime": invalid JSON object: invalid UTF-8 at byte 23`,
	},
	{
		name: "invalid UTF-8 in a discarded key", proc: echoProc, md: echoDesc, opts: &Options{DiscardUnknown: true},
		args:    []string{"{\"inner\": {\"n\xffme\": 1}}"},
		wantErr: `procedure "bridgetest.v1.TestService.Echo": invalid JSON object: invalid UTF-8 at byte 13`,
	},
	{
		name: "invalid UTF-8 in a discarded key, positional", proc: echoProc, md: echoDesc, opts: &Options{DiscardUnknown: true},
		args:    []string{`"t"`, `1`, `"2"`, `0.5`, `true`, `""`, `null`, "{\"\xff\": 1}"},
		wantErr: `procedure "bridgetest.v1.TestService.Echo": argument 8: invalid UTF-8 at byte 2`,
	},
	{
		name: "duplicate key", proc: clockProc, md: clockDesc,
		args:    []string{`{"count": 1, "count": 2}`},
		wantErr: `procedure "demo.v1.ClockService.GetProgressiveTime": duplicate field "count"`,
	},
	{
		name: "duplicate key by both names", proc: echoProc, md: echoDesc,
		args:    []string{`{"choiceText": "a", "choice_text": "b"}`},
		wantErr: `procedure "bridgetest.v1.TestService.Echo": duplicate field "choice_text" (also given as "choiceText")`,
	},
	{
		name: "oneof conflict", proc: echoProc, md: echoDesc,
		args:    []string{`{"choiceText": "a", "choice_number": 2}`},
		wantErr: `procedure "bridgetest.v1.TestService.Echo": fields "choiceText" and "choice_number" are both set, but they belong to one oneof "choice"`,
	},
	{
		name: "oneof conflict positional", proc: echoProc, md: echoDesc,
		args: []string{`null`, `null`, `null`, `null`, `null`, `null`, `null`, `null`, `null`, `null`,
			`null`, `null`, `null`, `null`, `"a"`, `2`},
		wantErr: `procedure "bridgetest.v1.TestService.Echo": argument 16: fields "choiceText" and "choiceNumber" are both set, but they belong to one oneof "choice"`,
	},

	// Nested messages report the key path.
	{
		name: "nested bad value", proc: echoProc, md: echoDesc,
		args:    []string{`{"inner": {"values": [1, "x"]}}`},
		wantErr: `procedure "bridgetest.v1.TestService.Echo": field "inner.values" (repeated int32): invalid value "x"; want an integer from -2147483648 to 2147483647`,
	},
	{
		name: "nested bad value positional", proc: echoProc, md: echoDesc,
		args:    []string{`"t"`, `1`, `2`, `0.5`, `true`, `""`, `0`, `{"name": 7}`},
		wantErr: `procedure "bridgetest.v1.TestService.Echo": argument 8 (field "inner.name", string): invalid value 7`,
	},
	{
		name: "nested unknown field", proc: echoProc, md: echoDesc,
		args:    []string{`{"inner": {"nme": "n"}}`},
		wantErr: `procedure "bridgetest.v1.TestService.Echo": unknown field "inner.nme" in bridgetest.v1.Inner (fields: name, values)`,
	},
	{
		name: "nested duplicate", proc: echoProc, md: echoDesc,
		args:    []string{`{"inner": {"name": "a", "name": "b"}}`},
		wantErr: `procedure "bridgetest.v1.TestService.Echo": duplicate field "inner.name"`,
	},
	{
		name: "struct value", proc: echoProc, md: echoDesc,
		args:    []string{`{"extra": [1]}`},
		wantErr: `procedure "bridgetest.v1.TestService.Echo": field "extra" (google.protobuf.Struct): syntax error: unexpected token [`,
	},

	// Names follow UseProtoNames in messages.
	{
		name: "proto names listed", proc: echoProc, md: echoDesc, opts: &Options{UseProtoNames: true},
		args:    []string{`{"inner": {"nme": "n"}}`},
		wantErr: `procedure "bridgetest.v1.TestService.Echo": unknown field "inner.nme" in bridgetest.v1.Inner (fields: name, values)`,
	},
	{
		name: "proto name of positional field", proc: echoProc, md: echoDesc, opts: &Options{UseProtoNames: true},
		args: []string{`null`, `null`, `null`, `null`, `null`, `null`, `null`, `null`, `null`, `null`,
			`null`, `null`, `null`, `null`, `null`, `null`, `null`, `5`},
		wantErr: `procedure "bridgetest.v1.TestService.Echo": argument 18 (field "any_kind", string): invalid value 5`,
	},

	// Bad JSON.
	{
		name: "trailing data", proc: echoProc, md: echoDesc,
		args:    []string{`{"text": "a"} x`},
		wantErr: `procedure "bridgetest.v1.TestService.Echo": invalid JSON object: unexpected data after the object`,
	},
	{
		name: "truncated object", proc: echoProc, md: echoDesc,
		args:    []string{`{"text": "a"`},
		wantErr: `procedure "bridgetest.v1.TestService.Echo": invalid JSON object: unexpected EOF`,
	},
	{
		// The request as an object with another argument after it: the
		// error says why the object was taken for the first field.
		name: "object among positional arguments", proc: echoProc, md: echoDesc,
		args: []string{`{"text": "a"}`, `1`},
		wantErr: `procedure "bridgetest.v1.TestService.Echo": argument 1 (field "text", string): invalid value {"text": "a"}; ` +
			`an object is the whole request only as the one argument, and positional arguments set the fields in order: ` +
			`text, number, big, ratio, flag, blob, color, inner, tags, counts, at, wait, extra, label, choiceText, ` +
			`choiceNumber, maybe, anyKind`,
	},
	{
		name: "bad positional JSON", proc: echoProc, md: echoDesc,
		args:    []string{`"a"`, `1, "big": 2`},
		wantErr: `procedure "bridgetest.v1.TestService.Echo": argument 2: invalid JSON value`,
	},
	{
		name: "empty positional", proc: echoProc, md: echoDesc,
		args:    []string{`"a"`, ``},
		wantErr: `procedure "bridgetest.v1.TestService.Echo": argument 2: invalid JSON value`,
	},

	// Types with a JSON form of their own take one argument whole.
	{
		name: "timestamp request", proc: "x.Y.Z", md: (&timestamppb.Timestamp{}).ProtoReflect().Descriptor(),
		args: []string{`"2026-01-02T03:04:05Z"`},
		want: timestamppb.New(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)),
	},
	{
		name: "timestamp request positional", proc: "x.Y.Z", md: (&timestamppb.Timestamp{}).ProtoReflect().Descriptor(),
		args:    []string{`5`, `6`},
		wantErr: `procedure "x.Y.Z": takes one argument (a google.protobuf.Timestamp in its JSON form), got 2`,
	},
	{
		name: "struct request", proc: "x.Y.Z", md: (&structpb.Struct{}).ProtoReflect().Descriptor(),
		args: []string{`{"a": 1}`},
		want: mustStruct(map[string]any{"a": 1}),
	},
	{
		name: "bad wrapper request", proc: "x.Y.Z", md: (&wrapperspb.Int32Value{}).ProtoReflect().Descriptor(),
		args:    []string{`"x"`},
		wantErr: `procedure "x.Y.Z": argument 1: invalid value for int32 field value: "x"`,
	},

	// Types built in code: required fields and extensions.
	{
		name: "required missing", proc: "tc.test.S.M", md: testMessage("Legacy"),
		args:    []string{`{"name": "n"}`},
		wantErr: `procedure "tc.test.S.M": required field tc.test.Legacy.id not set`,
	},
	{
		name: "extension", proc: "tc.test.S.M", md: testMessage("Legacy"),
		args: []string{`{"id": 1, "[tc.test.note]": "hi"}`},
		want: legacy(1, "hi"),
	},
	{
		name: "extension of another message", proc: "tc.test.S.M", md: testMessage("Envelope"),
		args:    []string{`{"[tc.test.note]": "x"}`},
		wantErr: `procedure "tc.test.S.M": field "[tc.test.note]": tc.test.note does not extend tc.test.Envelope`,
	},
	{
		name: "unknown extension", proc: "tc.test.S.M", md: testMessage("Envelope"),
		args:    []string{`{"[tc.test.nope]": "x"}`},
		wantErr: `procedure "tc.test.S.M": unknown field "[tc.test.nope]" in tc.test.Envelope (fields: items, byName, one, next)`,
	},
	{
		name: "any of generated and upstream types", proc: "tc.test.S.M", md: testMessage("Envelope"),
		args: []string{`{"items": [{"@type": "type.googleapis.com/bridgetest.v1.Inner", "name": "n"},
			{"@type": "type.googleapis.com/tc.test.Legacy", "id": 3, "[tc.test.note]": "hi"}]}`},
		want: envelope([]*anypb.Any{mustAny(&bridgetestv1.Inner{Name: "n"}), mustAnyDynamic(legacy(3, "hi"))}, nil, nil, nil),
	},
	{
		name: "any of an unknown type", proc: "tc.test.S.M", md: testMessage("Envelope"),
		args:    []string{`{"one": {"@type": "type.googleapis.com/x.Nope"}}`},
		wantErr: `procedure "tc.test.S.M": field "one" (google.protobuf.Any): unable to resolve "type.googleapis.com/x.Nope": "not found"`,
	},
	{
		name: "deep nesting ends in protojson", proc: "tc.test.S.M", md: testMessage("Envelope"),
		args:    []string{strings.Repeat(`{"next":`, 10) + `{"nxt": 5}` + strings.Repeat(`}`, 10)},
		wantErr: `procedure "tc.test.S.M": field "next.next.next.next.next.next.next.next.next" (tc.test.Envelope): unknown field "nxt"`,
	},
}

func mustStruct(m map[string]any) *structpb.Struct {
	s, err := structpb.NewStruct(m)
	if err != nil {
		panic(err)
	}
	return s
}

func legacy(id int32, note string) proto.Message {
	md := testMessage("Legacy")
	m := dynamicpb.NewMessage(md)
	m.Set(md.Fields().ByName("id"), protoreflect.ValueOfInt32(id))
	xt, err := testTypes.FindExtensionByName("tc.test.note")
	if err != nil {
		panic(err)
	}
	m.Set(xt.TypeDescriptor(), protoreflect.ValueOfString(note))
	return m
}

func rawArgs(args []string) []json.RawMessage {
	if args == nil {
		return nil
	}
	out := make([]json.RawMessage, len(args))
	for i, a := range args {
		out[i] = json.RawMessage(a)
	}
	return out
}

func TestRequest(t *testing.T) {
	t.Parallel()
	for _, tc := range requestCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			opts := DefaultOptions()
			if tc.opts != nil {
				opts = *tc.opts
			}
			got, err := New(testTypes, opts).Request(tc.proc, tc.md, rawArgs(tc.args))
			if tc.wantErr != "" {
				if err == nil {
					t.Fatalf("Request = %v, want error %q", got, tc.wantErr)
				}
				st, ok := status.FromError(err)
				if !ok || st.Code() != codes.InvalidArgument {
					t.Fatalf("Request error %v: want a status with code InvalidArgument", err)
				}
				if st.Message() != tc.wantErr {
					t.Fatalf("Request error\n got: %s\nwant: %s", st.Message(), tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Request: %v", err)
			}
			if got.Descriptor() != tc.md {
				t.Fatalf("Request returned a %s, want %s", got.Descriptor().FullName(), tc.md.FullName())
			}
			// Compare as the wanted type, which may be generated code.
			conv := tc.want.ProtoReflect().New().Interface()
			b, err := proto.Marshal(got)
			if err != nil {
				t.Fatal(err)
			}
			if err := (proto.UnmarshalOptions{Resolver: testTypes}).Unmarshal(b, conv); err != nil {
				t.Fatal(err)
			}
			if !proto.Equal(conv, tc.want) {
				t.Fatalf("Request =\n%v\nwant\n%v", conv, tc.want)
			}
		})
	}
}

// TestRequestErrorsClipped: an error quotes the client's keys and values,
// but only so much of them: a megabyte key or value is not sent back whole.
func TestRequestErrorsClipped(t *testing.T) {
	t.Parallel()
	c := New(nil, DefaultOptions())
	big := strings.Repeat(`\u0001`, 1<<17) // 768 KiB of JSON, 512 KiB quoted
	for _, tc := range []struct{ name, arg, want string }{
		{"unknown key", `{"` + big + `":1}`, `unknown field "\x01\x01`},
		{"nested unknown key", `{"inner":{"` + big + `":1}}`, `unknown field "inner.\x01`},
		{"bad value", `{"text":"t","number":"` + big + `"}`, `field "number"`},
		{"bad value, long path", `{"inner":{"` + strings.Repeat("x", 4096) + `":1}}`, `unknown field "inner.xxx`},
	} {
		_, err := c.Request(echoProc, echoDesc, []json.RawMessage{json.RawMessage(tc.arg)})
		msg := status.Convert(err).Message()
		if status.Code(err) != codes.InvalidArgument || !strings.Contains(msg, tc.want) || !strings.Contains(msg, "bytes more)") {
			t.Errorf("%s: %v %.200q, want INVALID_ARGUMENT containing %q, clipped", tc.name, status.Code(err), msg, tc.want)
		}
		if len(msg) > maxDetail+maxPath+200 {
			t.Errorf("%s: message of %d bytes, want at most %d", tc.name, len(msg), maxDetail+maxPath+200)
		}
	}
}

// TestRequestKeepsArgs checks that Request neither keeps nor changes the
// caller's argument bytes.
func TestRequestKeepsArgs(t *testing.T) {
	t.Parallel()
	c := New(nil, DefaultOptions())
	arg := []byte(`{"text": "a", "inner": {"name": "n"}}`)
	orig := string(arg)
	m, err := c.Request(echoProc, echoDesc, []json.RawMessage{arg})
	if err != nil {
		t.Fatal(err)
	}
	copy(arg, make([]byte, len(arg)))
	if got := m.Get(echoDesc.Fields().ByName("text")).String(); got != "a" {
		t.Fatalf("text = %q after the argument changed", got)
	}
	if string(arg) == orig {
		t.Fatal("test did not change the argument")
	}
}

// TestRequestMapKeyError: a map key that does not fit its type is named as
// the key, without the hint for the map's values (found in review: an
// int32 key "x" of a map of bools got "; want true or false").
func TestRequestMapKeyError(t *testing.T) {
	fdp := &descriptorpb.FileDescriptorProto{
		Name: proto.String("r.proto"), Package: proto.String("r"), Syntax: proto.String("proto3"),
		MessageType: []*descriptorpb.DescriptorProto{{
			Name: proto.String("M"),
			Field: []*descriptorpb.FieldDescriptorProto{{
				Name: proto.String("flags"), Number: proto.Int32(1), Label: descriptorpb.FieldDescriptorProto_LABEL_REPEATED.Enum(),
				Type: descriptorpb.FieldDescriptorProto_TYPE_MESSAGE.Enum(), TypeName: proto.String(".r.M.FlagsEntry"), JsonName: proto.String("flags"),
			}},
			NestedType: []*descriptorpb.DescriptorProto{{
				Name: proto.String("FlagsEntry"), Options: &descriptorpb.MessageOptions{MapEntry: proto.Bool(true)},
				Field: []*descriptorpb.FieldDescriptorProto{
					{Name: proto.String("key"), Number: proto.Int32(1), Label: descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum(), Type: descriptorpb.FieldDescriptorProto_TYPE_INT32.Enum(), JsonName: proto.String("key")},
					{Name: proto.String("value"), Number: proto.Int32(2), Label: descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum(), Type: descriptorpb.FieldDescriptorProto_TYPE_BOOL.Enum(), JsonName: proto.String("value")},
				},
			}},
		}},
	}
	fd, err := protodesc.NewFile(fdp, nil)
	if err != nil {
		t.Fatal(err)
	}
	md := fd.Messages().Get(0)
	_, err = New(testTypes, DefaultOptions()).Request("p", md, rawArgs([]string{`{"flags": {"x": true}}`}))
	if msg := status.Convert(err).Message(); !strings.Contains(msg, `int32 key: "x"`) || strings.Contains(msg, "; want") {
		t.Errorf("error %q, want it to name the int32 key \"x\" and no hint for the values", msg)
	}
}
