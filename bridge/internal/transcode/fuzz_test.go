package transcode

import (
	"encoding/json"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/dynamicpb"
)

// FuzzRequest feeds arbitrary arguments to Request for EchoRequest, which has
// a field of most kinds. The input is the CALL's argument list as a JSON
// array; input that is not one is a single raw argument. Request must not
// panic, must fail only with INVALID_ARGUMENT, and what it builds must come
// back equal from its own protojson form given as the one object argument.
// A single object must be accepted exactly when protojson accepts it, with
// the codec's DiscardUnknown, as the same message: Request only adds better
// errors.
func FuzzRequest(f *testing.F) {
	for _, tc := range requestCases {
		f.Add("[" + strings.Join(tc.args, ",") + "]")
	}
	for _, s := range []string{
		`{"text": "a"`, `{"inner": {"inner": {}}}`, `[{"extra": {"a": {"b": [null, true, 1e300]}}}]`,
		`[{"wait": "-315576000000.999999999s", "at": "0001-01-01T00:00:00Z"}]`,
		`[{"ratio": "NaN"}]`, `[{"ratio": "-Infinity", "big": "-9223372036854775808"}]`,
		`[{"color": 99, "maybe": -1, "label": "", "counts": {"": 0}}]`, `[{"blob": "-_8="}]`,
		`[{"[x.y]": 1}]`, `[{"choiceText": null, "choiceNumber": null}]`, `["\ud800"]`,
	} {
		f.Add(s)
	}
	codecs := []*Codec{
		New(nil, DefaultOptions()),
		New(nil, Options{UseProtoNames: true, DiscardUnknown: true}),
	}
	f.Fuzz(func(t *testing.T, data string) {
		var args []json.RawMessage
		if err := json.Unmarshal([]byte(data), &args); err != nil {
			args = []json.RawMessage{json.RawMessage(data)}
		}
		if len(args) == 1 && startsObject(trimSpace(args[0])) {
			for _, c := range codecs {
				sameAsProtojson(t, c, args[0])
			}
		}
		for _, c := range codecs {
			m, err := c.Request("fuzz", echoDesc, args)
			if err != nil {
				if st, ok := status.FromError(err); !ok || st.Code() != codes.InvalidArgument {
					t.Fatalf("Request(%s) error %v: want an INVALID_ARGUMENT status", data, err)
				}
				continue
			}
			b, err := protojson.Marshal(m)
			if err != nil {
				t.Fatalf("Request(%s) built %v, which protojson cannot marshal: %v", data, m, err)
			}
			again, err := c.Request("fuzz", echoDesc, []json.RawMessage{b})
			if err != nil {
				t.Fatalf("Request(%s) built %s, which Request refuses: %v", data, b, err)
			}
			if !proto.Equal(m, again) {
				t.Fatalf("Request(%s) built %s, which Request turns into %v", data, b, again)
			}
		}
	})
}

// sameAsProtojson checks that Request in object form agrees with protojson.
func sameAsProtojson(t *testing.T, c *Codec, arg json.RawMessage) {
	t.Helper()
	got, err := c.Request("fuzz", echoDesc, []json.RawMessage{arg})
	want := dynamicpb.NewMessage(echoDesc)
	pjErr := protojson.UnmarshalOptions{DiscardUnknown: c.opts.DiscardUnknown}.Unmarshal(arg, want)
	switch {
	case err != nil && pjErr == nil:
		t.Fatalf("Request(%s) error %v; protojson accepts it as %v", arg, err, want)
	case err == nil && pjErr != nil:
		t.Fatalf("Request(%s) = %v; protojson refuses it: %v", arg, got, pjErr)
	case err == nil && !proto.Equal(got, want):
		t.Fatalf("Request(%s) = %v; protojson makes it %v", arg, got, want)
	}
}
