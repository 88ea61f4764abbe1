package wampv1_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/wampbridge/grpcwamp/bridge/wampv1"
)

// encodeCases are messages with the frame they encode to.
var encodeCases = []struct {
	name string
	msg  wampv1.Message
	want string
}{
	{"welcome", &wampv1.Welcome{SessionID: "s1", ProtocolVersion: 1, ServerIdent: "grpcwamp/dev"},
		`[0,"s1",1,"grpcwamp/dev"]`},
	{"prefix", &wampv1.Prefix{Prefix: "calc", URI: "http://example.com/simple/calc#"},
		`[1,"calc","http://example.com/simple/calc#"]`},
	{"call without args", &wampv1.Call{CallID: "c1", ProcURI: "demo.v1.Clock.Now"}, `[2,"c1","demo.v1.Clock.Now"]`},
	{"call empty args", &wampv1.Call{CallID: "c1", ProcURI: "p", Args: []json.RawMessage{}}, `[2,"c1","p"]`},
	{"call args", &wampv1.Call{CallID: "c1", ProcURI: "p", Args: raws(`20`, `{"a":[1,"x"]}`, "", "null")},
		`[2,"c1","p",20,{"a":[1,"x"]},null,null]`},
	{"callresult", &wampv1.CallResult{CallID: "c1", Result: json.RawMessage(`{"time":"x"}`)}, `[3,"c1",{"time":"x"}]`},
	{"callresult nil", &wampv1.CallResult{CallID: "c1"}, `[3,"c1",null]`},
	{"callerror without details", &wampv1.CallError{CallID: "c1", ErrorURI: "wamp.error.canceled", ErrorDesc: "canceled"},
		`[4,"c1","wamp.error.canceled","canceled"]`},
	{"callerror with details", &wampv1.CallError{CallID: "c1", ErrorURI: "wamp.error.no_such_procedure", ErrorDesc: `unknown procedure "x"`,
		ErrorDetails: json.RawMessage(`{"code":12,"status":"UNIMPLEMENTED","message":"unknown procedure \"x\"","details":[]}`)},
		`[4,"c1","wamp.error.no_such_procedure","unknown procedure \"x\"",{"code":12,"status":"UNIMPLEMENTED","message":"unknown procedure \"x\"","details":[]}]`},
	{"callerror null details", &wampv1.CallError{CallID: "c", ErrorURI: "u", ErrorDesc: "d", ErrorDetails: json.RawMessage("null")},
		`[4,"c","u","d",null]`},
	{"subscribe", &wampv1.Subscribe{TopicURI: "http://example.com/simple"}, `[5,"http://example.com/simple"]`},
	{"unsubscribe", &wampv1.Unsubscribe{TopicURI: "t"}, `[6,"t"]`},
	{"publish", &wampv1.Publish{TopicURI: "t", Event: json.RawMessage(`"hi"`)}, `[7,"t","hi"]`},
	{"publish nil event", &wampv1.Publish{TopicURI: "t"}, `[7,"t",null]`},
	{"publish excludeMe", &wampv1.Publish{TopicURI: "t", Event: json.RawMessage(`1`), ExcludeMe: ptr(true)}, `[7,"t",1,true]`},
	{"publish excludeMe false", &wampv1.Publish{TopicURI: "t", Event: json.RawMessage(`1`), ExcludeMe: ptr(false)}, `[7,"t",1,false]`},
	{"publish exclude", &wampv1.Publish{TopicURI: "t", Event: json.RawMessage(`1`), Exclude: []string{"a", "b"}}, `[7,"t",1,["a","b"]]`},
	{"publish empty exclude", &wampv1.Publish{TopicURI: "t", Event: json.RawMessage(`1`), Exclude: []string{}}, `[7,"t",1,[]]`},
	{"publish exclude wins over excludeMe", &wampv1.Publish{TopicURI: "t", Event: json.RawMessage(`1`), ExcludeMe: ptr(true), Exclude: []string{"a"}},
		`[7,"t",1,["a"]]`},
	{"publish eligible", &wampv1.Publish{TopicURI: "t", Event: json.RawMessage(`1`), Exclude: []string{"a"}, Eligible: []string{"b"}},
		`[7,"t",1,["a"],["b"]]`},
	{"publish eligible nil exclude", &wampv1.Publish{TopicURI: "t", Event: json.RawMessage(`1`), Eligible: []string{}},
		`[7,"t",1,[],[]]`},
	{"event", &wampv1.Event{TopicURI: "http://example.com/simple", Event: json.RawMessage(`{"n":1}`)},
		`[8,"http://example.com/simple",{"n":1}]`},
	{"call progress result", &wampv1.CallProgressResult{CallID: "c1", Result: json.RawMessage(`{"time":"x"}`)},
		`[1000,"c1",{"time":"x"}]`},
	{"call cancel", &wampv1.CallCancel{CallID: "c1"}, `[1001,"c1"]`},
	{"escaped strings", &wampv1.CallError{CallID: "a\"b\\c/", ErrorURI: "<&>", ErrorDesc: "tab\there\nnul\x00\x1f\b\f\r"},
		`[4,"a\"b\\c/","<&>","tab\there\nnul\u0000\u001f\b\f\r"]`},
	{"non-ASCII strings", &wampv1.Event{TopicURI: "тема/日本/😀", Event: json.RawMessage(`"é"`)}, `[8,"тема/日本/😀","é"]`},
	{"invalid UTF-8 becomes U+FFFD", &wampv1.CallCancel{CallID: "a\xffb\xc3"}, `[1001,"a\ufffdb\ufffd"]`},
	{"line separators escaped", &wampv1.CallCancel{CallID: "a\u2028b\u2029"}, `[1001,"a\u2028b\u2029"]`},
}

func TestEncode(t *testing.T) {
	t.Parallel()
	for _, tc := range encodeCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := wampv1.Encode(tc.msg)
			if eq, err := jsonEqual(got, []byte(tc.want)); err != nil || !eq {
				t.Errorf("Encode(%s)\n got %s\nwant %s (%v)", describe(tc.msg), got, tc.want, err)
			}
			var compact bytes.Buffer
			if err := json.Compact(&compact, got); err != nil || !bytes.Equal(compact.Bytes(), got) {
				t.Errorf("Encode(%s) = %s, not compact JSON (%v)", describe(tc.msg), got, err)
			}
			prefix := []byte("prefix")
			if appended := wampv1.Append(prefix, tc.msg); string(appended) != "prefix"+string(got) {
				t.Errorf("Append = %s, want prefix%s", appended, got)
			}
		})
	}
}

// TestEncodeDecode checks that the messages of the decode table re-encode to
// their frame, compared as JSON values.
func TestEncodeDecode(t *testing.T) {
	t.Parallel()
	for _, tc := range decodeCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := wampv1.Encode(tc.want)
			// 2.0 and 2e0 type ids come back as 2; otherwise the frame is
			// the same JSON value.
			want := []byte(tc.frame)
			if m, err := wampv1.Decode(got); err != nil {
				t.Fatalf("Decode(Encode(%s)) = %v", describe(tc.want), err)
			} else if describe(m) != describe(tc.want) {
				t.Errorf("Decode(Encode(m)) = %s, want %s", describe(m), describe(tc.want))
			}
			if strings.Contains(tc.name, "type id") || strings.Contains(tc.name, "surrogate") {
				return
			}
			if eq, err := jsonEqual(got, want); err != nil || !eq {
				t.Errorf("Encode(%s)\n got %s\nwant %s (%v)", describe(tc.want), got, want, err)
			}
		})
	}
}

// TestAppendStringMatchesEncodingJSON compares string escaping with
// encoding/json without HTML escaping, byte for byte.
func TestAppendStringMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	for _, s := range []string{
		"", "plain", `"`, `\`, "/", "<>&", "\x00\x01\x07\x08\x09\x0a\x0b\x0c\x0d\x1e\x1f\x20\x7f",
		"é", "😀", "\u2028\u2029", "\u2027\u202a", "\xff", "\xc3", "a\xe2\x80", "\xed\xa0\x80", "\xf4\x90\x80\x80",
		"mixed \"quote\" \u00e9\t\xfe end", strings.Repeat("x", 100) + "\n",
	} {
		checkStringEscaping(t, s)
	}
}

func checkStringEscaping(t *testing.T, s string) {
	t.Helper()
	var want bytes.Buffer
	enc := json.NewEncoder(&want)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		t.Fatal(err)
	}
	got := wampv1.Encode(&wampv1.CallCancel{CallID: s})
	wantFrame := `[1001,` + strings.TrimSuffix(want.String(), "\n") + `]`
	if string(got) != wantFrame {
		t.Errorf("Encode(CallCancel{%q})\n got %s\nwant %s", s, got, wantFrame)
	}
}

func TestAppendDoesNotAllocate(t *testing.T) {
	msgs := []wampv1.Message{
		&wampv1.CallProgressResult{CallID: "0.6cd2v1pa8z", Result: json.RawMessage(`{"time":"2024-01-01T00:00:00Z"}`)},
		&wampv1.CallError{CallID: "c\"1", ErrorURI: "wamp.error.canceled", ErrorDesc: "é\n", ErrorDetails: json.RawMessage(`{"code":1}`)},
		&wampv1.Publish{TopicURI: "t", Event: json.RawMessage(`1`), Exclude: []string{"a"}, Eligible: []string{"b"}},
		&wampv1.Welcome{SessionID: "s", ProtocolVersion: 1, ServerIdent: "x"},
	}
	buf := make([]byte, 0, 1024)
	for _, m := range msgs {
		if n := testing.AllocsPerRun(100, func() { buf = wampv1.Append(buf[:0], m) }); n != 0 {
			t.Errorf("Append(%T) allocates %v times", m, n)
		}
	}
}

type foreign struct{}

func (foreign) Type() wampv1.Type { return wampv1.TypeCall }

func TestAppendPanicsOnForeignMessage(t *testing.T) {
	t.Parallel()
	defer func() {
		r := recover()
		if s, _ := r.(string); !strings.Contains(s, "wampv1_test.foreign is not a frame") {
			t.Errorf("recover() = %v, want a panic naming the type", r)
		}
	}()
	wampv1.Append(nil, foreign{})
}
