package bridge_test

// §2 frames: PREFIX and CURIEs, bad frames, unknown type ids.

import (
	"fmt"
	"strings"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/wampbridge/grpcwamp/bridge"
	"github.com/wampbridge/grpcwamp/bridge/internal/bridgetest"
	"github.com/wampbridge/grpcwamp/bridge/wampv1"
)

// TestE2EPrefix: §2, §3. PREFIX declares a CURIE prefix for later procURIs
// of this session only; an undeclared prefix is not expanded; a prefix can
// be declared again.
func TestE2EPrefix(t *testing.T) {
	t.Parallel()
	forEachDiscovery(t, func(t *testing.T, d bridgetest.Discovery) {
		e := start(t, d)
		t.Run("declared", func(t *testing.T) {
			t.Parallel()
			c := e.connect(t, "?stream=collect")
			c.Send(t, `[1,"t","bridgetest.v1.TestService."]`)
			c.Send(t, `[2,"c1","t:Echo","hi"]`)
			c.ExpectFrame(t, echoResult(t, "c1", `{"text":"hi"}`, ""))
			c.Send(t, `[2,"c2","t:Stream",{"count":2,"tag":"p"}]`)
			c.ExpectFrame(t, `[3,"c2",[{"index":1,"tag":"p"},{"index":2,"tag":"p"}]]`)

			c.Send(t, `[2,"c3","u:Echo","hi"]`)
			if ce := c.ExpectCallError(t, "c3", 12); !strings.Contains(ce.Desc, "u:Echo") {
				t.Errorf("errorDesc %q does not name the procedure u:Echo", ce.Desc)
			}
			c.Send(t, `[2,"c4","t","hi"]`)
			c.ExpectCallError(t, "c4", 12)

			// Declared again, the prefix means the new URI.
			c.Send(t, `[1,"t","demo.v1.ClockService."]`)
			c.Send(t, `[2,"c5","t:Echo","hi"]`)
			c.ExpectCallError(t, "c5", 12)
			c.Send(t, `[2,"c6","t:GetProgressiveTime",0]`)
			c.ExpectFrame(t, `[3,"c6",[]]`)
			c.Sync(t)
		})
		t.Run("limit", func(t *testing.T) {
			// A session keeps at most 256 prefixes. At the limit a prefix
			// can still be declared again, which adds none; a new one
			// closes the session with 1008.
			t.Parallel()
			c := e.connect(t, "")
			for i := range 256 {
				c.Send(t, fmt.Sprintf(`[1,"p%d","x%d."]`, i, i))
			}
			c.Sync(t)
			c.Send(t, `[1,"p0","bridgetest.v1.TestService."]`)
			c.Send(t, `[2,"c1","p0:Echo","hi"]`)
			c.ExpectFrame(t, echoResult(t, "c1", `{"text":"hi"}`, ""))
			c.Send(t, `[1,"p256","x."]`)
			if reason, want := c.ExpectClose(t, websocket.ClosePolicyViolation), "too many PREFIX declarations: the limit is 256 per session"; reason != want {
				t.Errorf("close reason %q, want %q", reason, want)
			}
		})
		t.Run("custom URI and path", func(t *testing.T) {
			t.Parallel()
			c := e.connect(t, "")
			c.Send(t, `[1,"ex","http://example.com/test#"]`)
			c.Send(t, `[1,"svc","/bridgetest.v1.TestService/"]`)
			c.Send(t, `[2,"c1","ex:echo","a"]`)
			c.ExpectFrame(t, echoResult(t, "c1", `{"text":"a"}`, ""))
			c.Send(t, `[2,"c2","svc:Echo","b"]`)
			c.ExpectFrame(t, echoResult(t, "c2", `{"text":"b"}`, ""))
		})
		t.Run("per session", func(t *testing.T) {
			t.Parallel()
			c1 := e.connect(t, "")
			c1.Send(t, `[1,"t","bridgetest.v1.TestService."]`)
			c1.Send(t, `[2,"c","t:Echo","hi"]`)
			c1.ExpectFrame(t, echoResult(t, "c", `{"text":"hi"}`, ""))
			c2 := e.connect(t, "")
			c2.Send(t, `[2,"c","t:Echo","hi"]`)
			c2.ExpectCallError(t, "c", 12)
		})
	})
}

// maxMessageSize is the frame size limit of TestE2EBadFrames' bridges.
const maxMessageSize = 1024

// echoFrameOfSize returns a CALL of Echo with callId id that is exactly n
// bytes long, and the text it carries.
func echoFrameOfSize(t *testing.T, id string, n int) (frame, text string) {
	t.Helper()
	head := fmt.Sprintf(`[2,%q,%q,"`, id, echoProc)
	const tail = `"]`
	if n < len(head)+len(tail) {
		t.Fatalf("test bug: %d bytes is too short for a CALL", n)
	}
	text = strings.Repeat("x", n-len(head)-len(tail))
	return head + text + tail, text
}

// TestE2EBadFrames: §2, §3. A frame that is not a UTF-8 JSON array closes
// that session with 1007, a binary frame with 1003, a frame over the size
// limit with 1009, each with a reason; the session's calls are cancelled.
// Another session on the same bridge, with a call in flight, never
// notices.
func TestE2EBadFrames(t *testing.T) {
	t.Parallel()
	tooBig, _ := echoFrameOfSize(t, "big", maxMessageSize+1)
	farTooBig, _ := echoFrameOfSize(t, "big", 2000)
	cases := []struct {
		name string
		typ  int
		data string
		code int
	}{
		{"not JSON", websocket.TextMessage, `hello`, websocket.CloseInvalidFramePayloadData},
		{"empty message", websocket.TextMessage, ``, websocket.CloseInvalidFramePayloadData},
		{"truncated JSON", websocket.TextMessage, `[2,"c","bridgetest.v1.TestService.Echo"`, websocket.CloseInvalidFramePayloadData},
		{"trailing data", websocket.TextMessage, `[2,"c","bridgetest.v1.TestService.Echo"] [1]`, websocket.CloseInvalidFramePayloadData},
		{"object", websocket.TextMessage, `{}`, websocket.CloseInvalidFramePayloadData},
		{"object like a call", websocket.TextMessage, `{"0":2,"1":"c","2":"bridgetest.v1.TestService.Echo"}`, websocket.CloseInvalidFramePayloadData},
		{"number", websocket.TextMessage, `42`, websocket.CloseInvalidFramePayloadData},
		{"string", websocket.TextMessage, `"[2]"`, websocket.CloseInvalidFramePayloadData},
		{"null", websocket.TextMessage, `null`, websocket.CloseInvalidFramePayloadData},
		{"empty array", websocket.TextMessage, `[]`, websocket.CloseInvalidFramePayloadData},
		{"type id a string", websocket.TextMessage, `["2","c","bridgetest.v1.TestService.Echo"]`, websocket.CloseInvalidFramePayloadData},
		{"type id fractional", websocket.TextMessage, `[2.5,"c","bridgetest.v1.TestService.Echo"]`, websocket.CloseInvalidFramePayloadData},
		{"CALL without callId", websocket.TextMessage, `[2]`, websocket.CloseInvalidFramePayloadData},
		{"CALL with a numeric callId", websocket.TextMessage, `[2,7,"bridgetest.v1.TestService.Echo"]`, websocket.CloseInvalidFramePayloadData},
		{"PREFIX with one element", websocket.TextMessage, `[1,"p"]`, websocket.CloseInvalidFramePayloadData},
		{"CALL_CANCEL without callId", websocket.TextMessage, `[1001]`, websocket.CloseInvalidFramePayloadData},
		{"CALL_CANCEL with extra elements", websocket.TextMessage, `[1001,"v",1]`, websocket.CloseInvalidFramePayloadData},
		{"invalid UTF-8 in a string", websocket.TextMessage, "[2,\"c\",\"bridgetest.v1.TestService.Echo\",\"\xff\xfe\"]", websocket.CloseInvalidFramePayloadData},
		{"invalid UTF-8 outside strings", websocket.TextMessage, "[2,\"c\",\"bridgetest.v1.TestService.Echo\"]\xc0", websocket.CloseInvalidFramePayloadData},
		{"binary CALL", websocket.BinaryMessage, `[2,"c","bridgetest.v1.TestService.Echo","hi"]`, websocket.CloseUnsupportedData},
		{"binary garbage", websocket.BinaryMessage, "\x00\x01\x02", websocket.CloseUnsupportedData},
		{"PUBLISH nested deeper than 128", websocket.TextMessage, `[7,"t",` +
			strings.Repeat(`{"a":`, wampv1.MaxNesting) + "1" + strings.Repeat("}", wampv1.MaxNesting) + "]", websocket.CloseInvalidFramePayloadData},
		{"one byte over the size limit", websocket.TextMessage, tooBig, websocket.CloseMessageTooBig},
		{"2000 bytes", websocket.TextMessage, farTooBig, websocket.CloseMessageTooBig},
	}
	forEachDiscovery(t, func(t *testing.T, d bridgetest.Discovery) {
		e := start(t, d, bridge.WithMaxMessageSize(maxMessageSize))
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				victimTag, bystanderTag := t.Name()+"/victim", t.Name()+"/bystander"
				bystander := e.connect(t, "?stream=progress")
				bystander.Send(t, fmt.Sprintf(`[2,"b",%q,{"block":true,"tag":%q}]`, streamProc, bystanderTag))
				victim := e.connect(t, "?stream=progress")
				victim.Send(t, fmt.Sprintf(`[2,"v",%q,{"block":true,"tag":%q}]`, streamProc, victimTag))
				for _, tag := range []string{victimTag, bystanderTag} {
					if err := e.svc.WaitBlocked(t.Context(), tag); err != nil {
						t.Fatal(err)
					}
				}

				victim.SendMessage(t, tc.typ, []byte(tc.data))
				reason := victim.ExpectClose(t, tc.code)
				if want := fmt.Sprintf("frame of more than %d bytes, the limit: send less in one frame", maxMessageSize); tc.code == websocket.CloseMessageTooBig && reason != want {
					t.Errorf("close reason %q, want %q", reason, want)
				}
				if err := e.svc.WaitCanceled(t.Context(), victimTag); err != nil {
					t.Fatal(err)
				}

				if e.svc.Canceled(bystanderTag) {
					t.Fatal("a bad frame in one session cancelled a call of another")
				}
				e.svc.Release(bystanderTag)
				bystander.ExpectFrame(t, `[3,"b",null]`)
				bystander.Sync(t)
			})
		}
		t.Run("at the size limit", func(t *testing.T) {
			t.Parallel()
			c := e.connect(t, "")
			frame, text := echoFrameOfSize(t, "big", maxMessageSize)
			c.Send(t, frame)
			c.ExpectFrame(t, echoResult(t, "big", fmt.Sprintf(`{"text":%q}`, text), ""))
		})
	})
}

// TestE2EIgnoredFrames: §2, §3. A frame of an unknown type id is ignored:
// the session stays open and answers the next call. So are frames only a
// server sends (session package contract).
func TestE2EIgnoredFrames(t *testing.T) {
	t.Parallel()
	cases := []struct{ name, frame string }{
		{"unknown type id", `[99,"x"]`},
		{"unknown type id alone", `[99]`},
		{"unknown type id with payload", `[1002,"c",{"a":[1,2]},null]`},
		{"negative type id", `[-1,"x"]`},
		{"type id beyond int", `[100000000000000000000,"x"]`},
		{"type id beyond float64", `[-1e400]`},
		{"WELCOME from the client", `[0,"s",1,"client"]`},
		{"CALLRESULT from the client", `[3,"c",null]`},
		{"CALL_PROGRESS_RESULT from the client", `[1000,"c",1]`},
	}
	forEachDiscovery(t, func(t *testing.T, d bridgetest.Discovery) {
		e := start(t, d)
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				c := e.connect(t, "")
				c.Send(t, tc.frame)
				c.Send(t, tc.frame)
				c.Sync(t)
			})
		}
	})
}

// TestE2EIgnoredFramesCounted shows that ignored frames are counted, on a
// bridge of its own so that no other test's frames add to the count.
func TestE2EIgnoredFramesCounted(t *testing.T) {
	t.Parallel()
	e := start(t, bridgetest.Reflection)
	c := e.connect(t, "")
	for _, f := range []string{`[99,"x"]`, `[1002]`, `[0,"s",1,"client"]`, `[3,"c",null]`} {
		c.Send(t, f)
	}
	c.Sync(t) // the reader has dispatched every frame before the CALL it answers
	if got := bridge.UnknownFrames(e.b.Handler); got != 4 {
		t.Errorf("ignored frames counted = %d, want 4", got)
	}
}
