package bridge_test

// End-to-end tests of introspection: the built-in procedures
// wamp.reflection.procedure.list and wamp.reflection.procedure.describe, and
// GET /procedures.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/wampbridge/grpcwamp/bridge"
	"github.com/wampbridge/grpcwamp/bridge/internal/bridgetest"
)

const (
	listProc     = "wamp.reflection.procedure.list"
	describeProc = "wamp.reflection.procedure.describe"
)

// procedureDoc is the part of a procedure description the tests read.
type procedureDoc struct {
	URIs     []string   `json:"uris"`
	Method   string     `json:"method"`
	FullName string     `json:"fullName"`
	Kind     string     `json:"kind"`
	Request  messageDoc `json:"request"`
	Response messageDoc `json:"response"`
}

type messageDoc struct {
	Type      string     `json:"type"`
	WellKnown string     `json:"wellKnown"`
	Recursive bool       `json:"recursive"`
	Fields    []fieldDoc `json:"fields"`
}

type fieldDoc struct {
	Name      string          `json:"name"`
	ProtoName string          `json:"protoName"`
	Number    int             `json:"number"`
	Type      string          `json:"type"`
	Repeated  bool            `json:"repeated"`
	Optional  bool            `json:"optional"`
	Oneof     string          `json:"oneof"`
	JSON      string          `json:"json"`
	Enum      json.RawMessage `json:"enum"`
	Message   *messageDoc     `json:"message"`
	Key       string          `json:"key"`
	Value     json.RawMessage `json:"value"`
}

func (m messageDoc) field(t *testing.T, name string) fieldDoc {
	t.Helper()
	for _, f := range m.Fields {
		if f.Name == name {
			return f
		}
	}
	t.Fatalf("message %s has no field %q", m.Type, name)
	return fieldDoc{}
}

// callResult sends CALL id proc args and returns the result of the
// CALLRESULT that must come next.
func callResult(t *testing.T, c *bridgetest.Client, id, proc, args string) json.RawMessage {
	t.Helper()
	c.Send(t, fmt.Sprintf(`[2,%q,%q%s]`, id, proc, args))
	f := c.ReadFrame(t)
	if f.Type() != 3 || len(f) != 3 || f.CallID() != id {
		t.Fatalf("CALL %s%s: got %s, want [3, %q, result]", proc, args, f.Raw(), id)
	}
	return f[2]
}

// getProcedures sends method /procedures and returns the status, Content-Type and body.
func getProcedures(t *testing.T, b *bridgetest.Bridge, method string) (int, string, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), bridgetest.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, b.HTTP+"/procedures", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := b.Client.Do(req)
	if err != nil {
		t.Fatalf("%s /procedures: %v", method, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s /procedures: read body: %v", method, err)
	}
	return resp.StatusCode, resp.Header.Get("Content-Type"), body
}

// TestE2EIntrospectionList: the list over WAMP and over HTTP is the same
// JSON: every method of the upstream, sorted by full name, with every name
// it answers to.
func TestE2EIntrospectionList(t *testing.T) {
	t.Parallel()
	forEachDiscovery(t, func(t *testing.T, d bridgetest.Discovery) {
		e := start(t, d)
		c := e.connect(t, "")
		overWAMP := callResult(t, c, "l1", listProc, "")
		if again := callResult(t, c, "l2", listProc, ",null"); bridgetest.JSONEqual(again, overWAMP) != nil {
			t.Errorf("list with one null argument differs from list with none:\n%s\n%s", again, overWAMP)
		}
		code, ctype, overHTTP := getProcedures(t, e.b, http.MethodGet)
		if code != http.StatusOK || ctype != "application/json" {
			t.Fatalf("GET /procedures: %d %q, want 200 application/json; body %s", code, ctype, overHTTP)
		}
		if err := bridgetest.JSONEqual(overHTTP, overWAMP); err != nil {
			t.Fatalf("GET /procedures differs from %s: %v\nHTTP: %s\nWAMP: %s", listProc, err, overHTTP, overWAMP)
		}

		var list struct {
			Procedures []procedureDoc `json:"procedures"`
		}
		if err := json.Unmarshal(overWAMP, &list); err != nil {
			t.Fatalf("list %s: %v", overWAMP, err)
		}
		want := []struct {
			fullName, kind string
			uris           []string
		}{
			{chatProc, "bidi", []string{chatProc, "/bridgetest.v1.TestService/Chat", "test.Chat"}},
			{echoProc, "unary", []string{echoProc, "/bridgetest.v1.TestService/Echo", "http://example.com/test#echo", "test.Echo"}},
			{failProc, "unary", []string{failProc, "/bridgetest.v1.TestService/Fail", "test.Fail"}},
			{streamProc, "server-stream", []string{streamProc, "/bridgetest.v1.TestService/Stream", "test.Stream"}},
			{sumProc, "client-stream", []string{sumProc, "/bridgetest.v1.TestService/Sum", "test.Sum"}},
			{"demo.v1.ClockService.GetProgressiveTime", "server-stream",
				[]string{"demo.v1.ClockService.GetProgressiveTime", "/demo.v1.ClockService/GetProgressiveTime", "GetProgressiveTime"}},
			{"demo.v1.ClockService.GetTime", "unary",
				[]string{"demo.v1.ClockService.GetTime", "/demo.v1.ClockService/GetTime", "GetTime"}},
		}
		if len(list.Procedures) != len(want) {
			t.Fatalf("list has %d procedures, want %d: %s", len(list.Procedures), len(want), overWAMP)
		}
		for i, w := range want {
			p := list.Procedures[i]
			if p.FullName != w.fullName || p.Kind != w.kind || !slices.Equal(p.URIs, w.uris) {
				t.Errorf("procedure %d: %s %s %q, want %s %s %q", i, p.FullName, p.Kind, p.URIs, w.fullName, w.kind, w.uris)
			}
			if p.Method != w.uris[1] {
				t.Errorf("procedure %s: method %q, want %q", p.FullName, p.Method, w.uris[1])
			}
		}

		// Other HTTP methods are refused; a HEAD is a GET without a body.
		if code, _, body := getProcedures(t, e.b, http.MethodPost); code != http.StatusMethodNotAllowed {
			t.Errorf("POST /procedures: %d %s, want 405", code, body)
		}
		if code, _, body := getProcedures(t, e.b, http.MethodHead); code != http.StatusOK || len(body) != 0 {
			t.Errorf("HEAD /procedures: %d %q, want 200 and no body", code, body)
		}
	})
}

// TestE2EIntrospectionDescribe: describe resolves its argument as a CALL
// resolves a procedure name, and the description holds what a client needs
// to build the call.
func TestE2EIntrospectionDescribe(t *testing.T) {
	t.Parallel()
	forEachDiscovery(t, func(t *testing.T, d bridgetest.Discovery) {
		e := start(t, d)
		c := e.connect(t, "")
		list := callResult(t, c, "l", listProc, "")
		var all struct {
			Procedures []json.RawMessage `json:"procedures"`
		}
		if err := json.Unmarshal(list, &all); err != nil {
			t.Fatal(err)
		}
		var echoEntry json.RawMessage
		for _, p := range all.Procedures {
			var doc procedureDoc
			if err := json.Unmarshal(p, &doc); err != nil {
				t.Fatal(err)
			}
			if doc.FullName == echoProc {
				echoEntry = p
			}
		}
		if echoEntry == nil {
			t.Fatalf("list has no %s: %s", echoProc, list)
		}

		names := []string{echoProc, "/bridgetest.v1.TestService/Echo", "http://example.com/test#echo", "test.Echo"}
		for i, name := range names {
			got := callResult(t, c, fmt.Sprintf("d%d", i), describeProc, ","+string(mustJSON(t, name)))
			if err := bridgetest.JSONEqual(got, echoEntry); err != nil {
				t.Errorf("describe %q differs from the list's entry: %v\n got: %s\nwant: %s", name, err, got, echoEntry)
			}
		}
		// The built-ins are reachable through CURIEs like any procedure.
		c.Send(t, `[1,"refl","wamp.reflection.procedure."]`)
		if got := callResult(t, c, "curie", "refl:describe", `,"test.Echo"`); bridgetest.JSONEqual(got, echoEntry) != nil {
			t.Errorf("refl:describe: got %s, want %s", got, echoEntry)
		}

		var echo procedureDoc
		if err := json.Unmarshal(echoEntry, &echo); err != nil {
			t.Fatal(err)
		}
		req := echo.Request
		if echo.Method != "/bridgetest.v1.TestService/Echo" || echo.Kind != "unary" || req.Type != "bridgetest.v1.EchoRequest" ||
			echo.Response.Type != "bridgetest.v1.EchoResponse" {
			t.Errorf("Echo: %s %s %s -> %s", echo.Method, echo.Kind, req.Type, echo.Response.Type)
		}
		var order []string
		for _, f := range req.Fields {
			order = append(order, f.Name)
		}
		wantOrder := []string{"text", "number", "big", "ratio", "flag", "blob", "color", "inner", "tags", "counts",
			"at", "wait", "extra", "label", "choiceText", "choiceNumber", "maybe", "anyKind"}
		if !slices.Equal(order, wantOrder) {
			t.Errorf("EchoRequest fields %q, want %q (declaration order)", order, wantOrder)
		}
		checks := []struct {
			field string
			want  string // the field as JSON
		}{
			{"text", `{"name":"text","protoName":"text","number":1,"type":"string"}`},
			{"big", `{"name":"big","protoName":"big","number":3,"type":"int64","json":"string"}`},
			{"blob", `{"name":"blob","protoName":"blob","number":6,"type":"bytes","json":"base64 string"}`},
			{"color", `{"name":"color","protoName":"color","number":7,"type":"enum","enum":{"type":"bridgetest.v1.Color",` +
				`"values":[{"name":"COLOR_UNSPECIFIED","number":0},{"name":"COLOR_RED","number":1},{"name":"COLOR_GREEN","number":2}]}}`},
			{"inner", `{"name":"inner","protoName":"inner","number":8,"type":"message","message":{"type":"bridgetest.v1.Inner","fields":[` +
				`{"name":"name","protoName":"name","number":1,"type":"string"},` +
				`{"name":"values","protoName":"values","number":2,"type":"int32","repeated":true}]}}`},
			{"tags", `{"name":"tags","protoName":"tags","number":9,"type":"string","repeated":true}`},
			{"counts", `{"name":"counts","protoName":"counts","number":10,"type":"map","key":"string","value":{"type":"int32"}}`},
			{"at", `{"name":"at","protoName":"at","number":11,"type":"message","message":{"type":"google.protobuf.Timestamp","wellKnown":"RFC 3339 string"}}`},
			{"wait", `{"name":"wait","protoName":"wait","number":12,"type":"message","message":{"type":"google.protobuf.Duration","wellKnown":"string like \"1.5s\""}}`},
			{"extra", `{"name":"extra","protoName":"extra","number":13,"type":"message","message":{"type":"google.protobuf.Struct","wellKnown":"JSON object"}}`},
			{"label", `{"name":"label","protoName":"label","number":14,"type":"message","message":{"type":"google.protobuf.StringValue","wellKnown":"string"}}`},
			{"choiceText", `{"name":"choiceText","protoName":"choice_text","number":15,"type":"string","oneof":"choice"}`},
			{"choiceNumber", `{"name":"choiceNumber","protoName":"choice_number","number":16,"type":"int32","oneof":"choice"}`},
			{"maybe", `{"name":"maybe","protoName":"maybe","number":17,"type":"int32","optional":true}`},
			{"anyKind", `{"name":"anyKind","protoName":"any_kind","number":18,"type":"string"}`},
		}
		var raw struct {
			Request struct {
				Fields []json.RawMessage `json:"fields"`
			} `json:"request"`
			Response struct {
				Fields []json.RawMessage `json:"fields"`
			} `json:"response"`
		}
		if err := json.Unmarshal(echoEntry, &raw); err != nil {
			t.Fatal(err)
		}
		for _, ch := range checks {
			i := slices.Index(wantOrder, ch.field)
			if err := bridgetest.JSONEqual(raw.Request.Fields[i], []byte(ch.want)); err != nil {
				t.Errorf("EchoRequest.%s: %v\n got: %s\nwant: %s", ch.field, err, raw.Request.Fields[i], ch.want)
			}
		}
		anyField := echo.Response.field(t, "any")
		if anyField.Message == nil || anyField.Message.Type != "google.protobuf.Any" ||
			anyField.Message.WellKnown != "object with @type" || anyField.Message.Fields != nil {
			t.Errorf("EchoResponse.any: %+v, want Any described as an object with @type, not expanded", anyField)
		}
		if r := echo.Response.field(t, "request").Message; r == nil || r.Type != "bridgetest.v1.EchoRequest" || len(r.Fields) != len(wantOrder) {
			t.Errorf("EchoResponse.request: %+v, want EchoRequest expanded", r)
		}
		c.Sync(t)
	})
}

// TestE2EIntrospectionErrors: an unknown procedure is UNIMPLEMENTED naming
// it; arguments that are not one procedure name are INVALID_ARGUMENT.
func TestE2EIntrospectionErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		proc string
		args string
		code int
		in   string // the errorDesc contains this
	}{
		{"describe unknown", describeProc, `,"bridgetest.v1.TestService.Nope"`, 12, `"bridgetest.v1.TestService.Nope"`},
		{"describe unknown custom URI", describeProc, `,"http://example.com/test#nope"`, 12, `"http://example.com/test#nope"`},
		{"describe no argument", describeProc, ``, 3, describeProc},
		{"describe null", describeProc, `,null`, 3, describeProc},
		{"describe two arguments", describeProc, `,"test.Echo","test.Echo"`, 3, describeProc},
		{"describe a number", describeProc, `,42`, 3, describeProc},
		{"describe an object", describeProc, `,{"procedure":"test.Echo"}`, 3, describeProc},
		{"describe a built-in", describeProc, `,"wamp.reflection.procedure.list"`, 3, "built-in"},
		{"list with an argument", listProc, `,"x"`, 3, listProc},
		{"list with two arguments", listProc, `,null,null`, 3, listProc},
		{"unknown reflection procedure", "wamp.reflection.topic.list", ``, 12, "wamp.reflection.topic.list"},
	}
	forEachDiscovery(t, func(t *testing.T, d bridgetest.Discovery) {
		e := start(t, d)
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				c := e.connect(t, "")
				c.Send(t, fmt.Sprintf(`[2,"e",%q%s]`, tc.proc, tc.args))
				if ce := c.ExpectCallError(t, "e", tc.code); !strings.Contains(ce.Desc, tc.in) {
					t.Errorf("errorDesc %q does not contain %q", ce.Desc, tc.in)
				}
				c.Sync(t)
			})
		}
	})
}

// TestE2EIntrospectionStreamModes: the built-ins answer with one plain
// CALLRESULT in every stream mode: no progress, no array in collect mode.
func TestE2EIntrospectionStreamModes(t *testing.T) {
	t.Parallel()
	forEachDiscovery(t, func(t *testing.T, d bridgetest.Discovery) {
		e := start(t, d, bridge.WithStreamMode(bridge.StreamCollect))
		c := e.connect(t, "?stream=progress")
		want := callResult(t, c, "p", describeProc, `,"GetTime"`)
		wantList := callResult(t, c, "pl", listProc, "")
		for _, q := range []string{"", "?stream=collect", "?stream=last"} {
			c := e.connect(t, q)
			if got := callResult(t, c, "d", describeProc, `,"GetTime"`); bridgetest.JSONEqual(got, want) != nil {
				t.Errorf("mode %q: describe GetTime: %s, want %s", q, got, want)
			}
			if got := callResult(t, c, "l", listProc, ""); bridgetest.JSONEqual(got, wantList) != nil {
				t.Errorf("mode %q: list: %s, want %s", q, got, wantList)
			}
			c.Sync(t)
		}
		var doc procedureDoc
		if err := json.Unmarshal(want, &doc); err != nil || doc.FullName != "demo.v1.ClockService.GetTime" {
			t.Errorf("describe GetTime: %s (%v)", want, err)
		}
	})
}

// TestE2EIntrospectionUnready: while the upstream is not ready the
// built-ins are UNAVAILABLE, and GET /procedures answers 503 with the
// errorDetails object.
func TestE2EIntrospectionUnready(t *testing.T) {
	t.Parallel()
	for _, d := range bridgetest.Discoveries {
		t.Run(d.String(), func(t *testing.T) {
			t.Parallel()
			b := bridgetest.StartBridgeUnready(t, bridgetest.ClosedAddr(t), d)
			code, ctype, body := getProcedures(t, b, http.MethodGet)
			if code != http.StatusServiceUnavailable || ctype != "application/json" {
				t.Errorf("GET /procedures: %d %q %s, want 503 application/json", code, ctype, body)
			}
			var details bridgetest.ErrorDetails
			if err := json.Unmarshal(body, &details); err != nil || details.Code != 14 || details.Status != "UNAVAILABLE" || details.Message == "" {
				t.Errorf("GET /procedures: body %s (%v), want the errorDetails of UNAVAILABLE", body, err)
			}
			c := bridgetest.Dial(t, b.URL, "wamp")
			c.ReadWelcome(t)
			c.Send(t, `[2,"l",`+fmt.Sprintf("%q", listProc)+`]`)
			c.ExpectCallError(t, "l", 14)
			c.Send(t, `[2,"d",`+fmt.Sprintf("%q", describeProc)+`,"test.Echo"]`)
			c.ExpectCallError(t, "d", 14)
		})
	}
}

// TestE2EIntrospectionPathTaken: the WebSocket path cannot be /procedures.
func TestE2EIntrospectionPathTaken(t *testing.T) {
	t.Parallel()
	cc, err := grpc.NewClient(bridgetest.ClosedAddr(t), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	if h, err := bridge.NewHandler(cc, bridge.WithPath("/procedures")); err == nil || !strings.Contains(err.Error(), `"/procedures"`) ||
		!strings.Contains(err.Error(), "choose another") || strings.Contains(err.Error(), "must start with /") {
		if h != nil {
			_ = h.Shutdown(t.Context())
		}
		t.Fatalf("NewHandler with path /procedures: %v, want an error naming it", err)
	}
}
