package bridge_test

// End-to-end tests of the wire contract (PROTOCOL.md §1-3): a real gRPC
// upstream on 127.0.0.1:0, the bridge in an httptest server, and a gorilla
// client writing WAMP v1 frames by hand. Every rule runs under both ways of
// discovering the upstream's methods. This file holds the shared helpers,
// the transport (§1) and the unary calls of §3.

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/wampbridge/grpcwamp/bridge"
	"github.com/wampbridge/grpcwamp/bridge/internal/bridgetest"
)

const (
	echoProc   = "bridgetest.v1.TestService.Echo"
	failProc   = "bridgetest.v1.TestService.Fail"
	streamProc = "bridgetest.v1.TestService.Stream"
	sumProc    = "bridgetest.v1.TestService.Sum"
	chatProc   = "bridgetest.v1.TestService.Chat"
)

// env is an upstream and a bridge to it.
type env struct {
	b   *bridgetest.Bridge
	svc *bridgetest.Service
}

// start starts an upstream and a ready bridge that discovers it as d. With
// DescriptorSet the upstream serves no reflection at all, which shows that
// the bridge needs none then.
func start(t *testing.T, d bridgetest.Discovery, opts ...bridge.Option) env {
	t.Helper()
	refl := bridgetest.ReflectionBoth
	if d == bridgetest.DescriptorSet {
		refl = bridgetest.ReflectionNone
	}
	addr, svc := bridgetest.StartUpstream(t, bridgetest.UpstreamOptions{Reflection: refl})
	return env{b: bridgetest.StartBridge(t, addr, d, opts...), svc: svc}
}

// connect opens a session at the default endpoint plus query (e.g.
// "?stream=last"), offering "wamp", and reads the WELCOME.
func (e env) connect(t *testing.T, query string) *bridgetest.Client {
	t.Helper()
	c := bridgetest.Dial(t, e.b.URL+query, "wamp")
	c.ReadWelcome(t)
	return c
}

// forEachDiscovery runs f as a parallel subtest for each discovery.
func forEachDiscovery(t *testing.T, f func(t *testing.T, d bridgetest.Discovery)) {
	t.Helper()
	for _, d := range bridgetest.Discoveries {
		t.Run(d.String(), func(t *testing.T) {
			t.Parallel()
			f(t, d)
		})
	}
}

// emptyEchoRequest is EchoRequest{} in the protobuf JSON mapping with
// unpopulated fields emitted: oneof members and proto3 optional fields are
// absent, message fields null, lists [] and maps {}.
const emptyEchoRequest = `{"text":"","number":0,"big":"0","ratio":0,"flag":false,"blob":"",` +
	`"color":"COLOR_UNSPECIFIED","inner":null,"tags":[],"counts":{},"at":null,"wait":null,` +
	`"extra":null,"label":null,"anyKind":""}`

// echoResult returns the CALLRESULT frame of an Echo call: populated lists
// the request's populated fields as the bridge renders them, over the
// unpopulated defaults; anyJSON is the response's "any" ("" for null).
func echoResult(t *testing.T, id, populated, anyJSON string) string {
	t.Helper()
	var req, set map[string]json.RawMessage
	if err := json.Unmarshal([]byte(emptyEchoRequest), &req); err != nil {
		t.Fatal(err)
	}
	if populated != "" {
		if err := json.Unmarshal([]byte(populated), &set); err != nil {
			t.Fatalf("test bug: populated %s: %v", populated, err)
		}
	}
	maps.Copy(req, set)
	if anyJSON == "" {
		anyJSON = "null"
	}
	result, err := json.Marshal(map[string]json.RawMessage{"request": mustJSON(t, req), "any": json.RawMessage(anyJSON)})
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf(`[3,%s,%s]`, mustJSON(t, id), result)
}

func mustJSON(t *testing.T, v any) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// callError returns the CALLERROR frame the contract prescribes.
func callError(id string, code int, desc string, details ...string) string {
	return fmt.Sprintf(`[4,%q,%q,%q,{"code":%d,"status":%q,"message":%q,"details":[%s]}]`,
		id, bridgetest.ErrorURIs[code], desc, code, bridgetest.StatusNames[code], desc, strings.Join(details, ","))
}

// TestE2EHandshake: §1. "wamp" is selected when offered; no subprotocol is
// served as WAMP v1; only unknown subprotocols are refused, with 400 Bad
// Request and a body that names what the bridge speaks and what the client
// offered.
func TestE2EHandshake(t *testing.T) {
	t.Parallel()
	forEachDiscovery(t, func(t *testing.T, d bridgetest.Discovery) {
		e := start(t, d)
		accepted := []struct {
			name    string
			offered []string
			want    string
		}{
			{"wamp offered", []string{"wamp"}, "wamp"},
			{"wamp offered after a v2 one", []string{"wamp.2.json", "wamp"}, "wamp"},
			{"wamp offered before a v2 one", []string{"wamp", "wamp.2.msgpack"}, "wamp"},
			{"nothing offered", nil, ""},
		}
		for _, tc := range accepted {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				c := bridgetest.Dial(t, e.b.URL, tc.offered...)
				if got := c.Conn.Subprotocol(); got != tc.want {
					t.Errorf("offered %q: selected subprotocol %q, want %q", tc.offered, got, tc.want)
				}
				if got := c.Response.Header.Get("Sec-WebSocket-Protocol"); got != tc.want {
					t.Errorf("offered %q: Sec-WebSocket-Protocol %q, want %q", tc.offered, got, tc.want)
				}
				c.ReadWelcome(t)
				c.Sync(t)
			})
		}
		refused := []struct {
			name    string
			offered []string
		}{
			{"wamp.2.json only", []string{"wamp.2.json"}},
			{"v2 only", []string{"wamp.2.json", "wamp.2.msgpack"}},
			{"unrelated", []string{"mqtt"}},
		}
		for _, tc := range refused {
			t.Run("refused "+tc.name, func(t *testing.T) {
				t.Parallel()
				code, body := bridgetest.DialRefused(t, e.b.URL, tc.offered...)
				if code != http.StatusBadRequest {
					t.Errorf("offered %q: handshake refused with %d %q, want %d Bad Request",
						tc.offered, code, body, http.StatusBadRequest)
				}
				// Names are quoted in the message, so "wamp" is not
				// mistaken for the start of "wamp.2.json".
				if !strings.Contains(body, `"wamp"`) {
					t.Errorf("offered %q: refusal %q does not name the subprotocol the bridge speaks, \"wamp\"", tc.offered, body)
				}
				for _, p := range tc.offered {
					if !strings.Contains(body, strconv.Quote(p)) {
						t.Errorf("offered %q: refusal %q does not name the offered subprotocol %q", tc.offered, body, p)
					}
				}
			})
		}
	})
}

// TestE2EWelcome: §2. WELCOME is [0, sessionId, 1, serverIdent], first on
// every connection, even when the client sends a CALL before reading; each
// session has its own id.
func TestE2EWelcome(t *testing.T) {
	t.Parallel()
	forEachDiscovery(t, func(t *testing.T, d bridgetest.Discovery) {
		e := start(t, d)
		c1 := bridgetest.Dial(t, e.b.URL, "wamp")
		c1.Send(t, `[2,"early","bridgetest.v1.TestService.Echo",{"text":"early"}]`)
		w1 := c1.ReadWelcome(t)
		c1.ExpectFrame(t, echoResult(t, "early", `{"text":"early"}`, ""))

		c2 := bridgetest.Dial(t, e.b.URL)
		w2 := c2.ReadWelcome(t)
		if w1.SessionID == w2.SessionID {
			t.Errorf("two sessions share the session id %q", w1.SessionID)
		}
	})
}

// TestE2EPath: §1. The WebSocket path is configurable; /healthz and /readyz
// stay where they are.
func TestE2EPath(t *testing.T) {
	t.Parallel()
	forEachDiscovery(t, func(t *testing.T, d bridgetest.Discovery) {
		e := start(t, d, bridge.WithPath("/wamp"))
		c := bridgetest.Dial(t, strings.TrimSuffix(e.b.URL, "/")+"/wamp", "wamp")
		c.ReadWelcome(t)
		c.Sync(t)
		for _, path := range []string{"/healthz", "/readyz"} {
			if code, body := e.b.Get(t, path); code != http.StatusOK {
				t.Errorf("GET %s with path /wamp: %d %q, want 200", path, code, body)
			}
		}
	})
}

// TestE2EHealth: §1. /healthz and /readyz answer 200 once the upstream is
// connected and its methods known (StartBridge waited for that).
func TestE2EHealth(t *testing.T) {
	t.Parallel()
	forEachDiscovery(t, func(t *testing.T, d bridgetest.Discovery) {
		e := start(t, d)
		for _, path := range []string{"/healthz", "/readyz"} {
			if code, body := e.b.Get(t, path); code != http.StatusOK {
				t.Errorf("GET %s: %d %q, want 200", path, code, body)
			}
		}
		if !e.b.Handler.Ready() {
			t.Error("Handler.Ready() = false after /readyz answered 200")
		}
	})
}

// TestE2EUpstreamUnreachable: §1, §3. With nothing listening upstream the
// bridge serves /healthz, answers /readyz with 503 and refuses calls with
// UNAVAILABLE. A reflection upstream that does not serve reflection is
// equally not ready.
func TestE2EUpstreamUnreachable(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		d    bridgetest.Discovery
		addr func(t testing.TB) string
	}{
		{"closed port/reflection", bridgetest.Reflection, bridgetest.ClosedAddr},
		{"closed port/descriptor-set", bridgetest.DescriptorSet, bridgetest.ClosedAddr},
		{"no reflection service/reflection", bridgetest.Reflection, func(t testing.TB) string {
			addr, _ := bridgetest.StartUpstream(t, bridgetest.UpstreamOptions{Reflection: bridgetest.ReflectionNone})
			return addr
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			upstreamAddr := tc.addr(t)
			b := bridgetest.StartBridgeUnready(t, upstreamAddr, tc.d)
			if code, body := b.Get(t, "/healthz"); code != http.StatusOK {
				t.Errorf("GET /healthz: %d %q, want 200", code, body)
			}
			if code, body := b.Get(t, "/readyz"); code != http.StatusServiceUnavailable {
				t.Errorf("GET /readyz: %d %q, want 503", code, body)
			}
			c := bridgetest.Dial(t, b.URL, "wamp")
			c.ReadWelcome(t)
			for i, proc := range []string{echoProc, "bridgetest.v1.TestService.Nope"} {
				id := fmt.Sprintf("u%d", i)
				c.Send(t, fmt.Sprintf(`[2,%q,%q,{"text":"x"}]`, id, proc))
				// It names the procedure and says to retry, and keeps the
				// upstream's address, which /readyz gives, from clients.
				e := c.ExpectCallError(t, id, 14)
				if !strings.Contains(e.Desc, proc) || !strings.Contains(e.Desc, "not ready") || !strings.Contains(e.Desc, "retry") ||
					strings.Contains(e.Desc, upstreamAddr) {
					t.Errorf("CALL %s: UNAVAILABLE %q, want it to name the procedure, say not ready and retry, and not name the upstream %s",
						proc, e.Desc, upstreamAddr)
				}
			}
		})
	}
}

// TestE2EReflectionV1Alpha: §3 procedure lookup works against an upstream
// that only serves grpc.reflection.v1alpha, custom procedure URIs included.
func TestE2EReflectionV1Alpha(t *testing.T) {
	t.Parallel()
	addr, _ := bridgetest.StartUpstream(t, bridgetest.UpstreamOptions{Reflection: bridgetest.ReflectionV1Alpha})
	b := bridgetest.StartBridge(t, addr, bridgetest.Reflection)
	c := bridgetest.Dial(t, b.URL, "wamp")
	c.ReadWelcome(t)
	for i, proc := range []string{echoProc, "http://example.com/test#echo", "test.Echo"} {
		id := fmt.Sprintf("v%d", i)
		c.Send(t, fmt.Sprintf(`[2,%q,%q,"hi"]`, id, proc))
		c.ExpectFrame(t, echoResult(t, id, `{"text":"hi"}`, ""))
	}
}

// TestE2EUnary: §3 arguments and results of a unary call.
func TestE2EUnary(t *testing.T) {
	t.Parallel()
	known := `{"@type":"type.googleapis.com/bridgetest.v1.Inner","name":"packed","values":[]}`
	every := `{"text":"hi","number":20,"big":"9007199254740993","ratio":0.5,"flag":true,` +
		`"blob":"aGk=","color":"COLOR_RED","inner":{"name":"n","values":[1,2]},"tags":["x","y"],` +
		`"counts":{"a":1},"at":"2026-11-25T14:03:07Z","wait":"1.500s","extra":{"a":[1,"x",null]},` +
		`"label":"lbl","choiceNumber":7,"maybe":0}`
	cases := []struct {
		name      string
		id        string
		args      string // after the procURI, with the leading comma
		populated string // the request's populated fields in the result
		anyJSON   string
	}{
		{"no arguments", "c1", ``, ``, ``},
		{"one null", "c1", `,null`, ``, ``},
		{"empty object", "c1", `,{}`, ``, ``},
		{"object json names", "c1", `,{"text":"hi","number":20,"choiceText":"c","anyKind":""}`,
			`{"text":"hi","number":20,"choiceText":"c"}`, ``},
		{"object proto names", "c1", `,{"text":"hi","choice_text":"c","any_kind":""}`,
			`{"text":"hi","choiceText":"c"}`, ``},
		{"object every kind", "c1", `,{"text":"hi","number":20,"big":"9007199254740993","ratio":0.5,"flag":true,` +
			`"blob":"aGk=","color":1,"inner":{"name":"n","values":[1,2]},"tags":["x","y"],"counts":{"a":1},` +
			`"at":"2026-11-25T14:03:07Z","wait":"1.5s","extra":{"a":[1,"x",null]},"label":"lbl",` +
			`"choice_number":7,"maybe":0}`, every, ``},
		{"one positional", "c1", `,"hi"`, `{"text":"hi"}`, ``},
		{"positional", "c1", `,"hi",20`, `{"text":"hi","number":20}`, ``},
		{"positional numeric string", "c1", `,"hi","20"`, `{"text":"hi","number":20}`, ``},
		{"positional in declaration order", "c1", `,"hi",20,"9007199254740993",0.5,true,"aGk=","COLOR_GREEN",{"name":"n"},["t"]`,
			`{"text":"hi","number":20,"big":"9007199254740993","ratio":0.5,"flag":true,"blob":"aGk=",` +
				`"color":"COLOR_GREEN","inner":{"name":"n","values":[]},"tags":["t"]}`, ``},
		{"positional null leaves the field unset", "c1", `,null,20`, `{"number":20}`, ``},
		{"any known", "c1", `,{"anyKind":"known"}`, `{"anyKind":"known"}`, known},
		{"any unknown", "c1", `,{"anyKind":"unknown"}`, `{"anyKind":"unknown"}`, bridgetest.UnknownDetailJSON},
		{"callId autobahn style", "0.6cd2v1pa8z", `,"hi"`, `{"text":"hi"}`, ``},
		{"callId guid", "{3F2504E0-4F89-11D3-9A0C-0305E82C3301}", `,"hi"`, `{"text":"hi"}`, ``},
		{"callId with quotes and unicode", `é "q" \ /`, `,"hi"`, `{"text":"hi"}`, ``},
	}
	forEachDiscovery(t, func(t *testing.T, d bridgetest.Discovery) {
		e := start(t, d)
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				c := e.connect(t, "")
				c.Send(t, fmt.Sprintf(`[2,%s,%q%s]`, mustJSON(t, tc.id), echoProc, tc.args))
				c.ExpectFrame(t, echoResult(t, tc.id, tc.populated, tc.anyJSON))
				c.Sync(t)
			})
		}
		// The shape of a result written out in full, independent of the
		// helpers above: lowerCamelCase names, unpopulated fields emitted.
		t.Run("result shape", func(t *testing.T) {
			t.Parallel()
			c := e.connect(t, "")
			c.Send(t, `[2,"shape","bridgetest.v1.TestService.Echo",{"any_kind":"known","choice_text":"x"}]`)
			c.ExpectFrame(t, `[3,"shape",{"request":{"text":"","number":0,"big":"0","ratio":0,"flag":false,`+
				`"blob":"","color":"COLOR_UNSPECIFIED","inner":null,"tags":[],"counts":{},"at":null,"wait":null,`+
				`"extra":null,"label":null,"choiceText":"x","anyKind":"known"},`+
				`"any":{"@type":"type.googleapis.com/bridgetest.v1.Inner","name":"packed","values":[]}}]`)
		})
	})
}

// TestE2EUnaryInEveryStreamMode: §3. Unary and client-streaming methods
// answer with one CALLRESULT carrying the response, whatever the stream
// mode: never an array, never a progress frame.
func TestE2EUnaryInEveryStreamMode(t *testing.T) {
	t.Parallel()
	forEachDiscovery(t, func(t *testing.T, d bridgetest.Discovery) {
		e := start(t, d)
		for _, mode := range []string{"progress", "last", "collect"} {
			t.Run(mode, func(t *testing.T) {
				t.Parallel()
				c := e.connect(t, "?stream="+mode)
				c.Send(t, `[2,"u","bridgetest.v1.TestService.Echo","hi"]`)
				c.ExpectFrame(t, echoResult(t, "u", `{"text":"hi"}`, ""))
				c.Send(t, `[2,"s","bridgetest.v1.TestService.Sum",[1,2,"3"]]`)
				c.ExpectFrame(t, `[3,"s",{"total":"6","requests":1}]`)
				c.Send(t, `[2,"f","bridgetest.v1.TestService.Fail",0]`)
				c.ExpectFrame(t, `[3,"f",{}]`)
				c.Sync(t)
			})
		}
	})
}

// TestE2EClientStreaming: §3. A client-streaming method receives the one
// request built from the arguments, then the request side is closed.
func TestE2EClientStreaming(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, args, want string
	}{
		{"positional list", `,[1,2,3]`, `{"total":"6","requests":1}`},
		{"object", `,{"numbers":["40",2]}`, `{"total":"42","requests":1}`},
		{"no arguments", ``, `{"total":"0","requests":1}`},
		{"empty list", `,[]`, `{"total":"0","requests":1}`},
	}
	forEachDiscovery(t, func(t *testing.T, d bridgetest.Discovery) {
		e := start(t, d)
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				c := e.connect(t, "")
				c.Send(t, fmt.Sprintf(`[2,"sum",%q%s]`, sumProc, tc.args))
				c.ExpectFrame(t, fmt.Sprintf(`[3,"sum",%s]`, tc.want))
				c.Sync(t)
			})
		}
	})
}

// TestE2EProcedureNames: §3. A method answers to its full name, its gRPC
// path, its custom procedure URI and its service prefix + name; the demo
// clock answers to the bare sgcWebSockets names.
func TestE2EProcedureNames(t *testing.T) {
	t.Parallel()
	echoNames := []string{
		"bridgetest.v1.TestService.Echo",
		"/bridgetest.v1.TestService/Echo",
		"http://example.com/test#echo",
		"test.Echo",
	}
	otherNames := []struct{ name, args, want string }{
		{"test.Sum", `,[5]`, `[3,"c",{"total":"5","requests":1}]`},
		{"/bridgetest.v1.TestService/Sum", `,[5]`, `[3,"c",{"total":"5","requests":1}]`},
		{"test.Fail", `,0`, `[3,"c",{}]`},
		{"test.Stream", `,{"count":1,"tag":"t"}`, `[3,"c",[{"index":1,"tag":"t"}]]`},
	}
	timeRE := regexp.MustCompile(`^\d{8} \d{2}:\d{2}:\d{2}$`)
	clockNames := []struct {
		name      string
		args      string
		streaming bool
	}{
		{"GetTime", ``, false},
		{"demo.v1.ClockService.GetTime", ``, false},
		{"/demo.v1.ClockService/GetTime", `,null`, false},
		{"GetProgressiveTime", `,1`, true},
		{"demo.v1.ClockService.GetProgressiveTime", `,{"count":1}`, true},
		{"/demo.v1.ClockService/GetProgressiveTime", `,1,"0.001s"`, true},
	}
	forEachDiscovery(t, func(t *testing.T, d bridgetest.Discovery) {
		e := start(t, d)
		for _, name := range echoNames {
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				c := e.connect(t, "")
				c.Send(t, fmt.Sprintf(`[2,"c",%q,"hi"]`, name))
				c.ExpectFrame(t, echoResult(t, "c", `{"text":"hi"}`, ""))
			})
		}
		for _, tc := range otherNames {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				c := e.connect(t, "?stream=collect")
				c.Send(t, fmt.Sprintf(`[2,"c",%q%s]`, tc.name, tc.args))
				c.ExpectFrame(t, tc.want)
			})
		}
		for _, tc := range clockNames {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				c := e.connect(t, "?stream=progress")
				c.Send(t, fmt.Sprintf(`[2,"c",%q%s]`, tc.name, tc.args))
				f := c.ReadFrame(t)
				wantType, wantKeys := 3, 1
				if tc.streaming {
					wantType, wantKeys = 1000, 2
				}
				var msg map[string]any
				if f.Type() != wantType || len(f) != 3 || f.CallID() != "c" || json.Unmarshal(f[2], &msg) != nil ||
					len(msg) != wantKeys {
					t.Fatalf("got %s, want [%d,\"c\",{time...}]", f.Raw(), wantType)
				}
				if s, _ := msg["time"].(string); !timeRE.MatchString(s) {
					t.Errorf("got %s: time %q, want yyyymmdd hh:nn:ss", f.Raw(), msg["time"])
				}
				if tc.streaming {
					if msg["index"] != 1.0 {
						t.Errorf("got %s: want index 1", f.Raw())
					}
					c.ExpectFrame(t, `[3,"c",null]`)
				}
				c.Sync(t)
			})
		}
	})
}

// TestE2EJSONOptions: §3. The JSON mapping of results is configurable:
// proto field names, unpopulated fields left out, enum numbers; unknown
// argument fields can be discarded instead of refused.
func TestE2EJSONOptions(t *testing.T) {
	t.Parallel()
	forEachDiscovery(t, func(t *testing.T, d bridgetest.Discovery) {
		e := start(t, d, bridge.WithJSONOptions(bridge.JSONOptions{
			UseProtoNames:  true,
			UseEnumNumbers: true,
			DiscardUnknown: true,
		}))
		c := e.connect(t, "?stream=collect")
		c.Send(t, `[2,"c1","bridgetest.v1.TestService.Echo",{"anyKind":"known","choice_text":"x","color":"COLOR_RED","number":0,"nope":1}]`)
		c.ExpectFrame(t, `[3,"c1",{"request":{"choice_text":"x","color":1,"any_kind":"known"},`+
			`"any":{"@type":"type.googleapis.com/bridgetest.v1.Inner","name":"packed"}}]`)
		c.Send(t, `[2,"c2","bridgetest.v1.TestService.Stream",{"count":2}]`)
		c.ExpectFrame(t, `[3,"c2",[{"index":1},{"index":2}]]`)
		c.Send(t, `[2,"c3","bridgetest.v1.TestService.Fail",{"code":5,"message":"m"}]`)
		c.ExpectFrame(t, callError("c3", 5, "m", bridgetest.ErrorInfoJSON))
	})
}
