package transcode

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	bridgetestv1 "github.com/wampbridge/grpcwamp/gen/bridgetest/v1"
)

func mustAny(m proto.Message) *anypb.Any {
	a, err := anypb.New(m)
	if err != nil {
		panic(err)
	}
	return a
}

// unknownAny is an Any of a type nothing resolves, packing {1: 1}.
var unknownAny = &anypb.Any{TypeUrl: "type.example.com/x.v1.Unknown", Value: []byte{0x08, 0x01}}

// unknownJSON is how unknownAny renders.
const unknownJSON = `{"@type": "type.example.com/x.v1.Unknown", "value": "CAE="}`

func TestAppendResponse(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		opts Options
		msg  proto.Message
		want string // compared as a JSON value
	}{
		{
			name: "known any",
			msg:  &bridgetestv1.EchoResponse{Any: mustAny(&bridgetestv1.Inner{Name: "n", Values: []int32{1}})},
			want: `{"any": {"@type": "type.googleapis.com/bridgetest.v1.Inner", "name": "n", "values": [1]}}`,
		},
		{
			name: "unknown any",
			msg:  &bridgetestv1.EchoResponse{Any: unknownAny},
			want: `{"any": ` + unknownJSON + `}`,
		},
		{
			name: "unknown any with empty value",
			msg:  &bridgetestv1.EchoResponse{Any: &anypb.Any{TypeUrl: "type.example.com/x.v1.Empty"}},
			want: `{"any": {"@type": "type.example.com/x.v1.Empty", "value": ""}}`,
		},
		{
			name: "unknown any emitting unpopulated",
			opts: Options{EmitUnpopulated: true, UseProtoNames: true},
			msg:  &bridgetestv1.EchoResponse{Any: unknownAny},
			want: `{"request": null, "any": ` + unknownJSON + `}`,
		},
		{
			name: "unknown any in repeated, map and nested fields",
			msg: envelope(
				[]*anypb.Any{mustAny(&bridgetestv1.Inner{Name: "a"}), unknownAny},
				map[string]*anypb.Any{"u": unknownAny},
				nil,
				envelope([]*anypb.Any{unknownAny}, nil, nil, nil)),
			want: `{
				"items": [{"@type": "type.googleapis.com/bridgetest.v1.Inner", "name": "a"}, ` + unknownJSON + `],
				"byName": {"u": ` + unknownJSON + `},
				"next": {"items": [` + unknownJSON + `]}
			}`,
		},
		{
			name: "unknown any inside a known any",
			msg:  envelope(nil, nil, mustAnyDynamic(envelope(nil, nil, unknownAny, nil)), nil),
			want: `{"one": {"@type": "type.googleapis.com/tc.test.Envelope", "one": ` + unknownJSON + `}}`,
		},
		{
			name: "unknown detail as the root",
			msg:  unknownAny,
			want: unknownJSON,
		},
		{
			name: "emit unpopulated",
			opts: DefaultOptions(),
			msg:  &bridgetestv1.EchoRequest{},
			want: `{"text": "", "number": 0, "big": "0", "ratio": 0, "flag": false, "blob": "",
				"color": "COLOR_UNSPECIFIED", "inner": null, "tags": [], "counts": {}, "at": null,
				"wait": null, "extra": null, "label": null, "anyKind": ""}`,
		},
		{
			name: "zero options",
			msg:  &bridgetestv1.EchoRequest{},
			want: `{}`,
		},
		{
			name: "proto names",
			opts: Options{UseProtoNames: true},
			msg:  &bridgetestv1.EchoRequest{AnyKind: "k", Choice: &bridgetestv1.EchoRequest_ChoiceText{ChoiceText: "c"}},
			want: `{"any_kind": "k", "choice_text": "c"}`,
		},
		{
			name: "json names",
			msg:  &bridgetestv1.EchoRequest{AnyKind: "k", Choice: &bridgetestv1.EchoRequest_ChoiceText{ChoiceText: "c"}},
			want: `{"anyKind": "k", "choiceText": "c"}`,
		},
		{
			name: "enum numbers",
			opts: Options{UseEnumNumbers: true},
			msg:  &bridgetestv1.EchoRequest{Color: bridgetestv1.Color_COLOR_GREEN},
			want: `{"color": 2}`,
		},
		{
			name: "enum names",
			msg:  &bridgetestv1.EchoRequest{Color: bridgetestv1.Color_COLOR_GREEN},
			want: `{"color": "COLOR_GREEN"}`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := New(testTypes, tc.opts)
			got, err := c.AppendResponse([]byte("prefix"), tc.msg)
			if err != nil {
				t.Fatalf("AppendResponse: %v", err)
			}
			rest, ok := bytes.CutPrefix(got, []byte("prefix"))
			if !ok {
				t.Fatalf("AppendResponse = %s: dst lost", got)
			}
			assertJSONEqual(t, rest, tc.want)
		})
	}
}

// TestAppendResponseIsProtojson checks that the bytes are protojson's own,
// not reformatted.
func TestAppendResponseIsProtojson(t *testing.T) {
	t.Parallel()
	msg := &bridgetestv1.EchoResponse{
		Request: &bridgetestv1.EchoRequest{Text: "t", Tags: []string{"a", "b"}, Counts: map[string]int32{"x": 1}},
		Any:     mustAny(&bridgetestv1.Inner{Name: "n"}),
	}
	opts := Options{EmitUnpopulated: true, UseEnumNumbers: true}
	got, err := New(nil, opts).AppendResponse(nil, msg)
	if err != nil {
		t.Fatal(err)
	}
	want, err := protojson.MarshalOptions{EmitUnpopulated: true, UseEnumNumbers: true}.Marshal(msg)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("AppendResponse =\n%s\nprotojson =\n%s", got, want)
	}
}

func TestAppendResponseErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		msg     proto.Message
		wantErr string
	}{
		{
			name:    "value without type URL",
			msg:     &bridgetestv1.EchoResponse{Any: &anypb.Any{Value: []byte{1}}},
			wantErr: "type_url is not set",
		},
		{
			name:    "known type with a bad value",
			msg:     &bridgetestv1.EchoResponse{Any: &anypb.Any{TypeUrl: "type.googleapis.com/bridgetest.v1.Inner", Value: []byte{0xff}}},
			wantErr: "unable to unmarshal",
		},
		{
			name: "bad known value beside an unknown one",
			msg: envelope([]*anypb.Any{
				unknownAny,
				{TypeUrl: "type.googleapis.com/bridgetest.v1.Inner", Value: []byte{0xff}},
			}, nil, nil, nil),
			wantErr: "unable to unmarshal",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dst := []byte("prefix")
			got, err := New(testTypes, DefaultOptions()).AppendResponse(dst, tc.msg)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("AppendResponse = %s, %v; want an error containing %q", got, err, tc.wantErr)
			}
			if string(got) != "prefix" {
				t.Fatalf("AppendResponse returned %q with its error, want dst unextended", got)
			}
		})
	}
}

// TestAppendResponseLeavesMessage checks that the Any fallback works on a
// copy: the caller's message is unchanged.
func TestAppendResponseLeavesMessage(t *testing.T) {
	t.Parallel()
	msg := &bridgetestv1.EchoResponse{Any: proto.Clone(unknownAny).(*anypb.Any)}
	if _, err := New(nil, DefaultOptions()).AppendResponse(nil, msg); err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(msg.Any, unknownAny) {
		t.Fatalf("the message's Any became %v", msg.Any)
	}
}

// mustAnyDynamic packs m, as protojson does (deterministically).
func mustAnyDynamic(m proto.Message) *anypb.Any {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		panic(err)
	}
	return &anypb.Any{TypeUrl: "type.googleapis.com/" + string(m.ProtoReflect().Descriptor().FullName()), Value: b}
}

// assertJSONEqual compares got and want as JSON values.
func assertJSONEqual(t *testing.T, got []byte, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("got invalid JSON %s: %v", got, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("want invalid JSON %s: %v", want, err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}
