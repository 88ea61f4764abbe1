package bridgetest

import (
	"os"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/types/descriptorpb"
)

// The descriptor set lists every file after its dependencies and resolves
// on its own, as `buf build -o` output does.
func TestWriteDescriptorSet(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile(WriteDescriptorSet(t))
	if err != nil {
		t.Fatal(err)
	}
	var set descriptorpb.FileDescriptorSet
	if err := proto.Unmarshal(data, &set); err != nil {
		t.Fatal(err)
	}
	seen := make(map[string]bool)
	for _, f := range set.GetFile() {
		for _, dep := range f.GetDependency() {
			if !seen[dep] {
				t.Errorf("%s comes before its dependency %s", f.GetName(), dep)
			}
		}
		seen[f.GetName()] = true
	}
	for _, want := range []string{"bridgetest/v1/test.proto", "demo/v1/clock.proto", "bridge/v1/options.proto", "google/protobuf/descriptor.proto"} {
		if !seen[want] {
			t.Errorf("descriptor set lacks %s", want)
		}
	}
	if _, err := protodesc.NewFiles(&set); err != nil {
		t.Errorf("descriptor set does not resolve on its own: %v", err)
	}
}

// The frame checks accept the contract's shapes and name what is wrong in
// any other.
func TestParseCallError(t *testing.T) {
	t.Parallel()
	good := `[4,"c","wamp.error.invalid_argument","bad",{"code":3,"status":"INVALID_ARGUMENT","message":"bad","details":[]}]`
	if _, err := ParseCallError([]byte(good), "c", 3); err != nil {
		t.Errorf("ParseCallError(%s): %v", good, err)
	}
	bad := []struct{ frame, mention string }{
		{`[3,"c",null]`, "type 3"},
		{`[4,"d","wamp.error.invalid_argument","bad",{"code":3,"status":"INVALID_ARGUMENT","message":"bad","details":[]}]`, "callId"},
		{`[4,"c","grpc.error.invalid_argument","bad",{"code":3,"status":"INVALID_ARGUMENT","message":"bad","details":[]}]`, "errorURI"},
		{`[4,"c","wamp.error.invalid_argument","bad",{"code":4,"status":"INVALID_ARGUMENT","message":"bad","details":[]}]`, "errorDetails.code"},
		{`[4,"c","wamp.error.invalid_argument","bad",{"code":3,"status":"InvalidArgument","message":"bad","details":[]}]`, "errorDetails.status"},
		{`[4,"c","wamp.error.invalid_argument","bad",{"code":3,"status":"INVALID_ARGUMENT","message":"other","details":[]}]`, "errorDetails.message"},
		{`[4,"c","wamp.error.invalid_argument","bad",{"code":3,"status":"INVALID_ARGUMENT","message":"bad"}]`, `lacks "details"`},
		{`[4,"c","wamp.error.invalid_argument","bad",{"code":3,"status":"INVALID_ARGUMENT","message":"bad","details":null}]`, "not an array"},
		{`[4,"c","wamp.error.invalid_argument","bad",{"code":3,"status":"INVALID_ARGUMENT","message":"bad","details":[],"x":1}]`, `key "x"`},
		{`[4,"c","wamp.error.invalid_argument","bad"]`, "4 elements"},
		{`[4,"c","wamp.error.invalid_argument",1,{}]`, "errorDesc"},
	}
	for _, tc := range bad {
		_, err := ParseCallError([]byte(tc.frame), "c", 3)
		if err == nil || !strings.Contains(err.Error(), tc.mention) {
			t.Errorf("ParseCallError(%s) = %v, want an error mentioning %q", tc.frame, err, tc.mention)
		}
	}
}

func TestJSONEqual(t *testing.T) {
	t.Parallel()
	if err := JSONEqual([]byte(`[1, {"a":1,"b":[true,null]}]`), []byte(`[1.0,{"b":[true,null],"a":1}]`)); err != nil {
		t.Errorf("equal values: %v", err)
	}
	for _, pair := range [][2]string{
		{`[1]`, `[2]`}, {`{"a":1}`, `{"a":1,"b":2}`}, {`[null]`, `[]`}, {`"1"`, `1`}, {`[`, `[]`},
	} {
		if JSONEqual([]byte(pair[0]), []byte(pair[1])) == nil {
			t.Errorf("JSONEqual(%s, %s) = nil, want a difference", pair[0], pair[1])
		}
	}
}
