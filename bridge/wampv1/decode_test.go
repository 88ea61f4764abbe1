package wampv1_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/wampbridge/grpcwamp/bridge/wampv1"
)

// decodeCases are frames that decode, with the message they decode to.
var decodeCases = []struct {
	name  string
	frame string
	want  wampv1.Message
}{
	{"welcome", `[0,"v59mbCGDXZ7WTyxB",1,"Autobahn/0.5.1"]`,
		&wampv1.Welcome{SessionID: "v59mbCGDXZ7WTyxB", ProtocolVersion: 1, ServerIdent: "Autobahn/0.5.1"}},
	{"welcome version as 1.0", `[0,"s",1.0,"x"]`,
		&wampv1.Welcome{SessionID: "s", ProtocolVersion: 1, ServerIdent: "x"}},
	{"prefix", `[1,"calc","http://example.com/simple/calc#"]`,
		&wampv1.Prefix{Prefix: "calc", URI: "http://example.com/simple/calc#"}},
	{"call with the most arguments", `[2,"c","p"` + strings.Repeat(",0", wampv1.MaxArgs) + `]`,
		&wampv1.Call{CallID: "c", ProcURI: "p", Args: slices.Repeat([]json.RawMessage{json.RawMessage("0")}, wampv1.MaxArgs)}},
	{"publish with the most excluded ids", `[7,"t",1,[` + strings.Repeat(`"x",`, wampv1.MaxSessionIDs-1) + `"x"]]`,
		&wampv1.Publish{TopicURI: "t", Event: json.RawMessage("1"), Exclude: slices.Repeat([]string{"x"}, wampv1.MaxSessionIDs)}},
	{"call without args", `[2,"7DK6TdN4wLiUJgNM","http://example.com/api#howdy"]`,
		&wampv1.Call{CallID: "7DK6TdN4wLiUJgNM", ProcURI: "http://example.com/api#howdy"}},
	{"call positional args", `[2,"Yp9EFZt9DFkuKndg","api:add2",23,99]`,
		&wampv1.Call{CallID: "Yp9EFZt9DFkuKndg", ProcURI: "api:add2", Args: raws("23", "99")}},
	{"call sgc", `[2,"0.6cd2v1pa8z","GetProgressiveTime",20]`,
		&wampv1.Call{CallID: "0.6cd2v1pa8z", ProcURI: "GetProgressiveTime", Args: raws("20")}},
	{"call every JSON type as arg", `[2,"c","p",null,true,false,"s",{"a":[1,2]},[],-1.5e3,0]`,
		&wampv1.Call{CallID: "c", ProcURI: "p", Args: raws("null", "true", "false", `"s"`, `{"a":[1,2]}`, "[]", "-1.5e3", "0")}},
	{"call keeps arg bytes exactly", " \t[ 2 , \"c1\" ,\"p\",\n{ \"a\" : 1 ,\"b\":\"\\u00e9\" } , [ ] ]\r\n",
		&wampv1.Call{CallID: "c1", ProcURI: "p", Args: raws(`{ "a" : 1 ,"b":"\u00e9" }`, "[ ]")}},
	{"call escaped strings", `[2,"c\"1\\\/","a\u00e9\ud83d\ude00\n",1]`,
		&wampv1.Call{CallID: "c\"1\\/", ProcURI: "aé😀\n", Args: raws("1")}},
	{"call lone surrogate becomes U+FFFD", `[2,"\ud800x","\udc00\ud800\ud800\udc00"]`,
		&wampv1.Call{CallID: "\ufffdx", ProcURI: "\ufffd\ufffd\U00010000"}},
	{"call UTF-8 strings", `[2,"ключ","процедура","日本"]`,
		&wampv1.Call{CallID: "ключ", ProcURI: "процедура", Args: raws(`"日本"`)}},
	{"call type id 2.0", `[2.0,"c","p"]`, &wampv1.Call{CallID: "c", ProcURI: "p"}},
	{"call type id 2e0", `[2e0,"c","p"]`, &wampv1.Call{CallID: "c", ProcURI: "p"}},
	{"call type id 0.2E1", `[0.2E1,"c","p"]`, &wampv1.Call{CallID: "c", ProcURI: "p"}},
	{"call type id 20e-1", `[20e-1,"c","p"]`, &wampv1.Call{CallID: "c", ProcURI: "p"}},
	{"call type id 0.0000002e+7", `[0.0000002e+7,"c","p"]`, &wampv1.Call{CallID: "c", ProcURI: "p"}},
	{"welcome type id -0", `[-0,"s",1,"x"]`, &wampv1.Welcome{SessionID: "s", ProtocolVersion: 1, ServerIdent: "x"}},
	{"welcome type id 0e400", `[0e400,"s",1,"x"]`, &wampv1.Welcome{SessionID: "s", ProtocolVersion: 1, ServerIdent: "x"}},
	{"call empty strings", `[2,"",""]`, &wampv1.Call{}},
	{"callresult null", `[3,"CcDnuI2bl2oLGBzO",null]`,
		&wampv1.CallResult{CallID: "CcDnuI2bl2oLGBzO", Result: json.RawMessage("null")}},
	{"callresult object", `[3,"c",{"time":"2024-01-01T00:00:00Z"}]`,
		&wampv1.CallResult{CallID: "c", Result: json.RawMessage(`{"time":"2024-01-01T00:00:00Z"}`)}},
	{"callerror without details", `[4,"gwbN3EDtFv6JvNV5","http://autobahn.tavendo.de/error#generic","math domain error"]`,
		&wampv1.CallError{CallID: "gwbN3EDtFv6JvNV5", ErrorURI: "http://autobahn.tavendo.de/error#generic", ErrorDesc: "math domain error"}},
	{"callerror with details", `[4,"c","wamp.error.invalid_argument","bad",{"code":3,"status":"INVALID_ARGUMENT","message":"bad","details":[]}]`,
		&wampv1.CallError{CallID: "c", ErrorURI: "wamp.error.invalid_argument", ErrorDesc: "bad",
			ErrorDetails: json.RawMessage(`{"code":3,"status":"INVALID_ARGUMENT","message":"bad","details":[]}`)}},
	{"callerror null details", `[4,"c","u","d",null]`,
		&wampv1.CallError{CallID: "c", ErrorURI: "u", ErrorDesc: "d", ErrorDetails: json.RawMessage("null")}},
	{"subscribe", `[5,"http://example.com/simple"]`, &wampv1.Subscribe{TopicURI: "http://example.com/simple"}},
	{"unsubscribe curie", `[6,"event:myevent1"]`, &wampv1.Unsubscribe{TopicURI: "event:myevent1"}},
	{"publish", `[7,"http://example.com/simple","Hello, world!"]`,
		&wampv1.Publish{TopicURI: "http://example.com/simple", Event: json.RawMessage(`"Hello, world!"`)}},
	{"publish excludeMe true", `[7,"event:myevent1",{"rand":0.1},true]`,
		&wampv1.Publish{TopicURI: "event:myevent1", Event: json.RawMessage(`{"rand":0.1}`), ExcludeMe: ptr(true)}},
	{"publish excludeMe false", `[7,"t",null,false]`,
		&wampv1.Publish{TopicURI: "t", Event: json.RawMessage("null"), ExcludeMe: ptr(false)}},
	{"publish exclude", `[7,"t",{},["NwtXQ8rdfPsy-ewS"]]`,
		&wampv1.Publish{TopicURI: "t", Event: json.RawMessage("{}"), Exclude: []string{"NwtXQ8rdfPsy-ewS"}}},
	{"publish empty exclude", `[7,"t",1,[ ]]`,
		&wampv1.Publish{TopicURI: "t", Event: json.RawMessage("1"), Exclude: []string{}}},
	{"publish exclude eligible", `[7,"t","e",["a"],[ "b" , "c\u0041" ]]`,
		&wampv1.Publish{TopicURI: "t", Event: json.RawMessage(`"e"`), Exclude: []string{"a"}, Eligible: []string{"b", "cA"}}},
	{"publish empty exclude eligible", `[7,"t","e",[],["b"]]`,
		&wampv1.Publish{TopicURI: "t", Event: json.RawMessage(`"e"`), Exclude: []string{}, Eligible: []string{"b"}}},
	{"event", `[8,"http://example.com/simple","Hello, I am a simple event."]`,
		&wampv1.Event{TopicURI: "http://example.com/simple", Event: json.RawMessage(`"Hello, I am a simple event."`)}},
	{"call progress result", `[1000,"c1",{"time":"x"}]`,
		&wampv1.CallProgressResult{CallID: "c1", Result: json.RawMessage(`{"time":"x"}`)}},
	{"call cancel", `[1001,"c1"]`, &wampv1.CallCancel{CallID: "c1"}},
}

func TestDecode(t *testing.T) {
	t.Parallel()
	for _, tc := range decodeCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := wampv1.Decode([]byte(tc.frame))
			if err != nil {
				t.Fatalf("Decode(%s): %v", tc.frame, err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Decode(%s):\n got %s\nwant %s", tc.frame, describe(got), describe(tc.want))
			}
			if got.Type() != tc.want.Type() {
				t.Errorf("Type() = %v, want %v", got.Type(), tc.want.Type())
			}
		})
	}
}

type errKind int

const (
	notArray errKind = iota
	unknownType
	malformed
)

var kindSentinel = map[errKind]error{
	notArray:    wampv1.ErrNotArray,
	unknownType: wampv1.ErrUnknownType,
	malformed:   wampv1.ErrMalformed,
}

// decodeErrorCases are frames Decode refuses, with the error it gives.
var decodeErrorCases = []struct {
	name   string
	frame  string
	kind   errKind
	msg    string // the whole Error() text
	callID string // FrameError.CallID
	field  string // FrameError.Field
	// emptyID: FrameError.HasCallID with CallID "" (HasCallID is expected
	// whenever callID is set)
	emptyID bool
}{
	// Not a WAMP frame at all.
	{name: "empty input", frame: "", kind: notArray,
		msg: "wampv1: not a WAMP frame: invalid JSON: unexpected end of input at offset 0"},
	{name: "whitespace only", frame: " \n", kind: notArray,
		msg: "wampv1: not a WAMP frame: invalid JSON: unexpected end of input at offset 2"},
	{name: "object", frame: `{"type":2}`, kind: notArray, msg: "wampv1: not a WAMP frame: want a JSON array, got object"},
	{name: "string", frame: `"[2]"`, kind: notArray, msg: "wampv1: not a WAMP frame: want a JSON array, got string"},
	{name: "number", frame: ` 2 `, kind: notArray, msg: "wampv1: not a WAMP frame: want a JSON array, got number"},
	{name: "null", frame: `null`, kind: notArray, msg: "wampv1: not a WAMP frame: want a JSON array, got null"},
	{name: "empty array", frame: `[]`, kind: notArray, msg: "wampv1: not a WAMP frame: empty array, want [typeId, ...]"},
	{name: "empty array with space", frame: " [ \n] ", kind: notArray, msg: "wampv1: not a WAMP frame: empty array, want [typeId, ...]"},
	{name: "invalid object", frame: `{"a"}`, kind: notArray,
		msg: `wampv1: not a WAMP frame: invalid JSON: invalid character '}' after object key at offset 4`},
	{name: "truncated", frame: `[2,"c","p"`, kind: notArray,
		msg: "wampv1: not a WAMP frame: invalid JSON: unexpected end of input at offset 10"},
	{name: "truncated string", frame: `[2,"c`, kind: notArray,
		msg: "wampv1: not a WAMP frame: invalid JSON: unexpected end of input at offset 5"},
	{name: "truncated nested", frame: `[2,"c","p",{"a":[1,`, kind: notArray,
		msg: "wampv1: not a WAMP frame: invalid JSON: unexpected end of input at offset 19"},
	{name: "trailing garbage", frame: `[2,"c","p"]x`, kind: notArray,
		msg: `wampv1: not a WAMP frame: invalid JSON: invalid character 'x' after top-level value at offset 11`},
	{name: "two arrays", frame: `[1002][1002]`, kind: notArray,
		msg: `wampv1: not a WAMP frame: invalid JSON: invalid character '[' after top-level value at offset 6`},
	{name: "trailing comma", frame: `[2,"c","p",]`, kind: notArray,
		msg: `wampv1: not a WAMP frame: invalid JSON: invalid character ']' looking for beginning of value at offset 11`},
	{name: "missing comma", frame: `[2 "c"]`, kind: notArray,
		msg: `wampv1: not a WAMP frame: invalid JSON: invalid character '"' after array element at offset 3`},
	{name: "single quotes", frame: `[2,'c','p']`, kind: notArray,
		msg: `wampv1: not a WAMP frame: invalid JSON: invalid character '\'' looking for beginning of value at offset 3`},
	{name: "leading zero", frame: `[2,"c","p",01]`, kind: notArray,
		msg: `wampv1: not a WAMP frame: invalid JSON: invalid character '1' after array element at offset 12`},
	{name: "bare minus", frame: `[2,"c","p",-]`, kind: notArray,
		msg: `wampv1: not a WAMP frame: invalid JSON: invalid character ']' in numeric literal at offset 12`},
	{name: "fraction without digits", frame: `[2,"c","p",1.]`, kind: notArray,
		msg: `wampv1: not a WAMP frame: invalid JSON: invalid character ']' in numeric literal at offset 13`},
	{name: "NaN", frame: `[2,"c","p",NaN]`, kind: notArray,
		msg: `wampv1: not a WAMP frame: invalid JSON: invalid character 'N' looking for beginning of value at offset 11`},
	{name: "bad literal", frame: `[2,"c","p",tru]`, kind: notArray,
		msg: `wampv1: not a WAMP frame: invalid JSON: invalid character ']' in literal true at offset 14`},
	{name: "control character in string", frame: "[2,\"c\t\",\"p\"]", kind: notArray,
		msg: `wampv1: not a WAMP frame: invalid JSON: control character '\t' in string at offset 5`},
	{name: "bad escape", frame: `[2,"\q","p"]`, kind: notArray,
		msg: `wampv1: not a WAMP frame: invalid JSON: invalid character 'q' in string escape code at offset 5`},
	{name: "short unicode escape", frame: `[2,"\u12","p"]`, kind: notArray,
		msg: `wampv1: not a WAMP frame: invalid JSON: invalid character '"' in \u escape at offset 8`},
	{name: "invalid UTF-8 in string", frame: "[2,\"c\xff\",\"p\"]", kind: notArray,
		msg: "wampv1: not a WAMP frame: invalid UTF-8 at offset 5"},
	{name: "invalid UTF-8 in arg", frame: "[2,\"c\",\"p\",{\"\xc3\":1}]", kind: notArray,
		msg: "wampv1: not a WAMP frame: invalid UTF-8 at offset 13"},
	{name: "UTF-8 encoded surrogate", frame: "[2,\"\xed\xa0\x80\",\"p\"]", kind: notArray,
		msg: "wampv1: not a WAMP frame: invalid UTF-8 at offset 4"},
	{name: "invalid UTF-8 outside strings", frame: "\xff[2]", kind: notArray,
		msg: "wampv1: not a WAMP frame: invalid UTF-8 at offset 0"},
	{name: "byte order mark", frame: "\ufeff[2,\"c\",\"p\"]", kind: notArray,
		msg: `wampv1: not a WAMP frame: invalid JSON: invalid character '\ufeff' looking for beginning of value at offset 0`},
	{name: "invalid JSON wins over unknown type", frame: `[99,`, kind: notArray,
		msg: "wampv1: not a WAMP frame: invalid JSON: unexpected end of input at offset 4"},
	{name: "type id string", frame: `["2","c","p"]`, kind: notArray,
		msg: "wampv1: not a WAMP frame: element 0 (type id): want an integer, got string"},
	{name: "type id fraction", frame: `[2.5,"c","p"]`, kind: notArray,
		msg: "wampv1: not a WAMP frame: element 0 (type id): want an integer, got 2.5"},
	// An integer is a type id, however large: one without a frame type is
	// unknown (ignored), not "not an array".
	{name: "type id overflows float64", frame: `[1e400,"c","p"]`, kind: unknownType,
		msg: "wampv1: unknown message type 1e400"},
	{name: "type id overflows int", frame: `[9223372036854775808]`, kind: unknownType,
		msg: "wampv1: unknown message type 9223372036854775808"},
	{name: "type id below int", frame: `[-9223372036854775809]`, kind: unknownType,
		msg: "wampv1: unknown message type -9223372036854775809"},
	{name: "type id 1e20", frame: `[100000000000000000000,"x"]`, kind: unknownType,
		msg: "wampv1: unknown message type 100000000000000000000"},
	{name: "type id long integer is clipped", frame: `[1000000000000000000000000000000000000000000000]`, kind: unknownType,
		msg: "wampv1: unknown message type 10000000000000000000000000000000..."},
	{name: "type id tiny fraction", frame: `[2e-400]`, kind: notArray,
		msg: "wampv1: not a WAMP frame: element 0 (type id): want an integer, got 2e-400"},
	{name: "type id long literal is clipped", frame: `[2.00000000000000000000000000000000000000001]`, kind: notArray,
		msg: "wampv1: not a WAMP frame: element 0 (type id): want an integer, got 2.000000000000000000000000000000..."},
	{name: "type id boolean", frame: `[true]`, kind: notArray,
		msg: "wampv1: not a WAMP frame: element 0 (type id): want an integer, got boolean"},
	{name: "type id null", frame: `[null,"c"]`, kind: notArray,
		msg: "wampv1: not a WAMP frame: element 0 (type id): want an integer, got null"},
	{name: "type id array", frame: `[[2],"c","p"]`, kind: notArray,
		msg: "wampv1: not a WAMP frame: element 0 (type id): want an integer, got array"},
	{name: "type id object", frame: `[{},"c","p"]`, kind: notArray,
		msg: "wampv1: not a WAMP frame: element 0 (type id): want an integer, got object"},

	// Unknown type ids.
	{name: "unknown 9", frame: `[9,"x"]`, kind: unknownType, msg: "wampv1: unknown message type 9"},
	{name: "unknown negative", frame: `[-1]`, kind: unknownType, msg: "wampv1: unknown message type -1"},
	{name: "unknown 1002", frame: `[1002,{"a":[1]}]`, kind: unknownType, msg: "wampv1: unknown message type 1002"},
	{name: "unknown 48 (WAMP v2 CALL)", frame: `[48,1,{},"p"]`, kind: unknownType, msg: "wampv1: unknown message type 48"},
	{name: "unknown as 9.0", frame: `[9.0]`, kind: unknownType, msg: "wampv1: unknown message type 9"},
	{name: "unknown 1E2", frame: `[1E2]`, kind: unknownType, msg: "wampv1: unknown message type 100"},
	{name: "unknown 1.5e1", frame: `[1.5e1]`, kind: unknownType, msg: "wampv1: unknown message type 15"},
	{name: "unknown smallest int", frame: `[-9223372036854775808]`, kind: unknownType,
		msg: "wampv1: unknown message type -9223372036854775808"},
	{name: "unknown largest int", frame: `[9223372036854775807]`, kind: unknownType,
		msg: "wampv1: unknown message type 9223372036854775807"},

	// Known types, wrong shape.
	{name: "call with too many arguments", frame: `[2,"c1","p"` + strings.Repeat(",0", wampv1.MaxArgs+1) + `]`, kind: malformed, callID: "c1",
		msg: "wampv1: CALL: 1025 arguments: the limit is 1024; send the request as one JSON object"},
	{name: "call with too many arguments, numeric callId", frame: `[2,1,"p"` + strings.Repeat(",0", wampv1.MaxArgs+1) + `]`, kind: malformed, field: "callId",
		msg: `wampv1: CALL: field "callId": want a string, got number`},
	{name: "subscribe with too many elements", frame: `[5,"t"` + strings.Repeat(",0", 2000) + `]`, kind: malformed,
		msg: "wampv1: SUBSCRIBE: 2002 elements, far too many"},
	{name: "unknown type with many elements", frame: `[9` + strings.Repeat(",0", 2000) + `]`, kind: unknownType, msg: "wampv1: unknown message type 9"},
	{name: "invalid JSON after many elements", frame: `[2,"c1","p"` + strings.Repeat(",0", 2000) + `,x]`, kind: notArray,
		msg: "wampv1: not a WAMP frame: invalid JSON: invalid character 'x' looking for beginning of value at offset 4012"},
	{name: "publish with too many excluded ids", frame: `[7,"t",1,[` + strings.Repeat(`"x",`, wampv1.MaxSessionIDs) + `"x"]]`, kind: malformed, field: "exclude",
		msg: `wampv1: PUBLISH: field "exclude": more than 10000 session ids`},
	{name: "publish with too many eligible ids", frame: `[7,"t",1,[],[` + strings.Repeat(`"x",`, wampv1.MaxSessionIDs) + `"x"]]`, kind: malformed, field: "eligible",
		msg: `wampv1: PUBLISH: field "eligible": more than 10000 session ids`},
	{name: "call alone", frame: `[2]`, kind: malformed, field: "callId",
		msg: `wampv1: CALL: field "callId": missing`},
	{name: "call without procURI", frame: `[2,"c1"]`, kind: malformed, callID: "c1", field: "procURI",
		msg: `wampv1: CALL: field "procURI": missing`},
	{name: "call empty callId, numeric procURI", frame: `[2,"",5]`, kind: malformed, emptyID: true, field: "procURI",
		msg: `wampv1: CALL: field "procURI": want a string, got number`},
	{name: "call numeric procURI", frame: `[2,"c1",5]`, kind: malformed, callID: "c1", field: "procURI",
		msg: `wampv1: CALL: field "procURI": want a string, got number`},
	{name: "call null procURI", frame: `[2,"c\u00e9",null,1]`, kind: malformed, callID: "cé", field: "procURI",
		msg: `wampv1: CALL: field "procURI": want a string, got null`},
	{name: "call numeric callId", frame: `[2,5,"p"]`, kind: malformed, field: "callId",
		msg: `wampv1: CALL: field "callId": want a string, got number`},
	{name: "call object callId", frame: `[2,{"id":"c"},"p"]`, kind: malformed, field: "callId",
		msg: `wampv1: CALL: field "callId": want a string, got object`},
	{name: "call cancel alone", frame: `[1001]`, kind: malformed, field: "callId",
		msg: `wampv1: CALL_CANCEL: field "callId": missing`},
	{name: "call cancel numeric", frame: `[1001,7]`, kind: malformed, field: "callId",
		msg: `wampv1: CALL_CANCEL: field "callId": want a string, got number`},
	{name: "call cancel extra", frame: `[1001,"c1",{}]`, kind: malformed, callID: "c1",
		msg: `wampv1: CALL_CANCEL: want 2 elements, got 3`},
	{name: "welcome string version", frame: `[0,"s","1","x"]`, kind: malformed, field: "protocolVersion",
		msg: `wampv1: WELCOME: field "protocolVersion": want an integer, got string`},
	{name: "welcome fractional version", frame: `[0,"s",1.5,"x"]`, kind: malformed, field: "protocolVersion",
		msg: `wampv1: WELCOME: field "protocolVersion": want an integer, got 1.5`},
	{name: "welcome short", frame: `[0,"s",1]`, kind: malformed, field: "serverIdent",
		msg: `wampv1: WELCOME: field "serverIdent": missing`},
	{name: "welcome numeric session", frame: `[0,1,1,"x"]`, kind: malformed, field: "sessionId",
		msg: `wampv1: WELCOME: field "sessionId": want a string, got number`},
	{name: "prefix short", frame: `[1,"p"]`, kind: malformed, field: "uri",
		msg: `wampv1: PREFIX: field "uri": missing`},
	{name: "prefix long", frame: `[1,"p","u","x"]`, kind: malformed,
		msg: `wampv1: PREFIX: want 3 elements, got 4`},
	{name: "prefix null uri", frame: `[1,"p",null]`, kind: malformed, field: "uri",
		msg: `wampv1: PREFIX: field "uri": want a string, got null`},
	{name: "callresult short", frame: `[3,"c"]`, kind: malformed, field: "result",
		msg: `wampv1: CALLRESULT: field "result": missing`},
	{name: "callresult long", frame: `[3,"c",1,2]`, kind: malformed,
		msg: `wampv1: CALLRESULT: want 3 elements, got 4`},
	{name: "callresult numeric callId", frame: `[3,1,null]`, kind: malformed, field: "callId",
		msg: `wampv1: CALLRESULT: field "callId": want a string, got number`},
	{name: "callerror short", frame: `[4,"c","u"]`, kind: malformed, field: "errorDesc",
		msg: `wampv1: CALLERROR: field "errorDesc": missing`},
	{name: "callerror long", frame: `[4,"c","u","d",{},1]`, kind: malformed,
		msg: `wampv1: CALLERROR: want 4 or 5 elements, got 6`},
	{name: "callerror numeric desc", frame: `[4,"c","u",1]`, kind: malformed, field: "errorDesc",
		msg: `wampv1: CALLERROR: field "errorDesc": want a string, got number`},
	{name: "callerror boolean uri", frame: `[4,"c",false,"d"]`, kind: malformed, field: "errorURI",
		msg: `wampv1: CALLERROR: field "errorURI": want a string, got boolean`},
	{name: "subscribe short", frame: `[5]`, kind: malformed, field: "topicURI",
		msg: `wampv1: SUBSCRIBE: field "topicURI": missing`},
	{name: "subscribe numeric", frame: `[5,1]`, kind: malformed, field: "topicURI",
		msg: `wampv1: SUBSCRIBE: field "topicURI": want a string, got number`},
	{name: "subscribe long", frame: `[5,"t","x"]`, kind: malformed,
		msg: `wampv1: SUBSCRIBE: want 2 elements, got 3`},
	{name: "unsubscribe array", frame: `[6,[]]`, kind: malformed, field: "topicURI",
		msg: `wampv1: UNSUBSCRIBE: field "topicURI": want a string, got array`},
	{name: "publish short", frame: `[7,"t"]`, kind: malformed, field: "event",
		msg: `wampv1: PUBLISH: field "event": missing`},
	{name: "publish long", frame: `[7,"t","e",[],[],1]`, kind: malformed,
		msg: `wampv1: PUBLISH: want 3 to 5 elements, got 6`},
	{name: "publish numeric topic", frame: `[7,1,"e"]`, kind: malformed, field: "topicURI",
		msg: `wampv1: PUBLISH: field "topicURI": want a string, got number`},
	{name: "publish numeric excludeMe", frame: `[7,"t","e",1]`, kind: malformed, field: "excludeMe",
		msg: `wampv1: PUBLISH: field "excludeMe": want a boolean or an array of session ids (exclude), got number`},
	{name: "publish null excludeMe", frame: `[7,"t","e",null]`, kind: malformed, field: "excludeMe",
		msg: `wampv1: PUBLISH: field "excludeMe": want a boolean or an array of session ids (exclude), got null`},
	{name: "publish numeric session id", frame: `[7,"t","e",[1]]`, kind: malformed, field: "exclude[0]",
		msg: `wampv1: PUBLISH: field "exclude[0]": want a string, got number`},
	{name: "publish second session id", frame: `[7,"t","e",["a", null]]`, kind: malformed, field: "exclude[1]",
		msg: `wampv1: PUBLISH: field "exclude[1]": want a string, got null`},
	{name: "publish excludeMe with eligible", frame: `[7,"t","e",true,["b"]]`, kind: malformed, field: "exclude",
		msg: `wampv1: PUBLISH: field "exclude": want an array of session ids, got boolean`},
	{name: "publish eligible string", frame: `[7,"t","e",["a"],"b"]`, kind: malformed, field: "eligible",
		msg: `wampv1: PUBLISH: field "eligible": want an array of session ids, got string`},
	{name: "publish eligible nested", frame: `[7,"t","e",[],[["b"]]]`, kind: malformed, field: "eligible[0]",
		msg: `wampv1: PUBLISH: field "eligible[0]": want a string, got array`},
	{name: "event short", frame: `[8,"t"]`, kind: malformed, field: "event",
		msg: `wampv1: EVENT: field "event": missing`},
	{name: "progress short", frame: `[1000,"c"]`, kind: malformed, field: "result",
		msg: `wampv1: CALL_PROGRESS_RESULT: field "result": missing`},
	{name: "progress long", frame: `[1000,"c",1,2]`, kind: malformed,
		msg: `wampv1: CALL_PROGRESS_RESULT: want 3 elements, got 4`},
}

func TestDecodeErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range decodeErrorCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m, err := wampv1.Decode([]byte(tc.frame))
			if err == nil {
				t.Fatalf("Decode(%q) = %s, want an error", tc.frame, describe(m))
			}
			if m != nil {
				t.Errorf("Decode(%q) returned message %s with its error", tc.frame, describe(m))
			}
			if got := err.Error(); got != tc.msg {
				t.Errorf("Decode(%q) error:\n got %s\nwant %s", tc.frame, got, tc.msg)
			}
			for kind, sentinel := range kindSentinel {
				if got, want := errors.Is(err, sentinel), kind == tc.kind; got != want {
					t.Errorf("errors.Is(%v, %v) = %t, want %t", err, sentinel, got, want)
				}
			}
			var fe *wampv1.FrameError
			if errors.As(err, &fe) != (tc.kind == malformed) {
				t.Fatalf("errors.As(%v, *FrameError) = %t", err, !(tc.kind == malformed))
			}
			if fe != nil {
				if fe.CallID != tc.callID || fe.Field != tc.field {
					t.Errorf("FrameError CallID=%q Field=%q, want CallID=%q Field=%q", fe.CallID, fe.Field, tc.callID, tc.field)
				}
				if want := tc.callID != "" || tc.emptyID; fe.HasCallID != want {
					t.Errorf("FrameError.HasCallID = %t, want %t", fe.HasCallID, want)
				}
				if want := wampv1.Type(firstInt(tc.frame)); fe.Type != want {
					t.Errorf("FrameError.Type = %v, want %v", fe.Type, want)
				}
			}
			var ue *wampv1.UnknownTypeError
			if errors.As(err, &ue) != (tc.kind == unknownType) {
				t.Errorf("errors.As(%v, *UnknownTypeError) = %t", err, !(tc.kind == unknownType))
			}
			if ue != nil {
				if want := clampedTypeID(tc.frame); ue.Type != want {
					t.Errorf("UnknownTypeError.Type = %d, want %d", ue.Type, want)
				}
			}
		})
	}
}

// firstInt reads the type id of a well-formed test frame.
// clampedTypeID reads the integer type id of a test frame, clamped to the
// range of int, as UnknownTypeError.Type holds it.
func clampedTypeID(frame string) int {
	var elems []json.RawMessage
	if err := json.Unmarshal([]byte(frame), &elems); err != nil || len(elems) == 0 {
		return -1
	}
	r, ok := new(big.Rat).SetString(string(elems[0]))
	switch {
	case !ok:
		return -1
	case r.Num().IsInt64() && r.IsInt():
		return int(r.Num().Int64())
	case r.Sign() < 0:
		return math.MinInt
	}
	return math.MaxInt
}

func firstInt(frame string) int {
	var elems []json.RawMessage
	if err := json.Unmarshal([]byte(frame), &elems); err != nil || len(elems) == 0 {
		return -1
	}
	var f float64
	if err := json.Unmarshal(elems[0], &f); err != nil {
		return -1
	}
	return int(f)
}

func TestDecodeNesting(t *testing.T) {
	t.Parallel()
	// frame is a frame of type typ whose arrays nest depth deep, the frame
	// array included.
	frame := func(typ string, depth int) []byte {
		inner := depth - 1
		return []byte(typ + strings.Repeat("[", inner) + strings.Repeat("]", inner) + "]")
	}
	const call, result = `[2,"c","p",`, `[3,"c",`

	// Frames clients send: at most MaxNesting.
	m, err := wampv1.Decode(frame(call, wampv1.MaxNesting))
	if err != nil {
		t.Fatalf("Decode(CALL, depth %d): %v", wampv1.MaxNesting, err)
	}
	if args := m.(*wampv1.Call).Args; len(args) != 1 || len(args[0]) != 2*(wampv1.MaxNesting-1) {
		t.Errorf("Decode(CALL, depth %d) args = %d", wampv1.MaxNesting, len(args))
	}
	_, err = wampv1.Decode(frame(call, wampv1.MaxNesting+1))
	var fe *wampv1.FrameError
	want := fmt.Sprint("wampv1: CALL: arrays and objects nested deeper than ", wampv1.MaxNesting)
	if !errors.As(err, &fe) || fe.CallID != "c" || err.Error() != want {
		t.Errorf("Decode(CALL, depth %d) error = %v, want a FrameError of call \"c\": %s", wampv1.MaxNesting+1, err, want)
	}
	if _, err := wampv1.Decode(frame(`[7,"t",`, wampv1.MaxNesting+1)); !errors.Is(err, wampv1.ErrMalformed) {
		t.Errorf("Decode(PUBLISH, depth %d) error = %v, want ErrMalformed", wampv1.MaxNesting+1, err)
	}
	// Brackets inside strings do not count.
	if _, err := wampv1.Decode([]byte(call + `"` + strings.Repeat("[{", 1000) + `"]`)); err != nil {
		t.Errorf("Decode(brackets in a string): %v", err)
	}

	// Frames servers send carry the upstream's messages: encoding/json's
	// 10000 nested containers.
	ok := frame(result, 10000)
	if !json.Valid(ok) {
		t.Fatal("encoding/json refuses depth 10000")
	}
	if _, err := wampv1.Decode(ok); err != nil {
		t.Fatalf("Decode(CALLRESULT, depth 10000): %v", err)
	}
	deep := frame(result, 10001)
	if json.Valid(deep) {
		t.Fatal("encoding/json accepts depth 10001")
	}
	if _, err := wampv1.Decode(deep); !errors.Is(err, wampv1.ErrNotArray) || !strings.Contains(err.Error(), "nesting deeper than 10000") {
		t.Errorf("Decode(CALLRESULT, depth 10001) error = %v, want ErrNotArray about nesting", err)
	}
	objects := []byte(result + strings.Repeat(`{"a":`, 10000) + "1" + strings.Repeat("}", 10000) + "]")
	if _, err := wampv1.Decode(objects); !errors.Is(err, wampv1.ErrNotArray) {
		t.Errorf("Decode(10000 nested objects in the frame) error = %v, want ErrNotArray", err)
	}
}

// TestDecodeAliasing pins the documented memory sharing: raw fields are
// views of the input, but appending to one cannot overwrite the input.
func TestDecodeAliasing(t *testing.T) {
	t.Parallel()
	data := []byte(`[2,"c1","p",1,2]`)
	m, err := wampv1.Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	c := m.(*wampv1.Call)
	_ = append(c.Args[0], "00"...)
	if got := string(data); got != `[2,"c1","p",1,2]` {
		t.Errorf("appending to Args[0] changed the input to %s", got)
	}
	data[1] = '3' // strings are copies
	if c.CallID != "c1" || c.ProcURI != "p" {
		t.Errorf("strings changed with the input: %+v", c)
	}
}

func TestDecodeNeverPanicsOnPrefixes(t *testing.T) {
	t.Parallel()
	// Every prefix of every table frame is handled (mostly as truncated).
	for _, tc := range decodeCases {
		for i := range len(tc.frame) {
			_, _ = wampv1.Decode([]byte(tc.frame[:i]))
		}
	}
}

func TestTypeString(t *testing.T) {
	t.Parallel()
	for typ, want := range map[wampv1.Type]string{
		wampv1.TypeWelcome:            "Welcome",
		wampv1.TypePrefix:             "Prefix",
		wampv1.TypeCall:               "Call",
		wampv1.TypeCallResult:         "CallResult",
		wampv1.TypeCallError:          "CallError",
		wampv1.TypeSubscribe:          "Subscribe",
		wampv1.TypeUnsubscribe:        "Unsubscribe",
		wampv1.TypePublish:            "Publish",
		wampv1.TypeEvent:              "Event",
		wampv1.TypeCallProgressResult: "CallProgressResult",
		wampv1.TypeCallCancel:         "CallCancel",
		42:                            "Type(42)",
		-1:                            "Type(-1)",
	} {
		if got := typ.String(); got != want {
			t.Errorf("Type(%d).String() = %q, want %q", int(typ), got, want)
		}
	}
}
