package bridge_test

import (
	"bytes"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/wampbridge/grpcwamp/bridge/internal/bridgetest"
)

// fuzzSyncIDs numbers the closing CALL of each FuzzSession input.
var fuzzSyncIDs atomic.Int64

// FuzzSession sends a session whatever frames the fuzzer makes, up to 16
// of them: the input split at newlines, each a text message, or a binary
// one when it starts with 0x01. A first line "?stream=last" or
// "?stream=collect" opens the session in that stream mode. Whatever they are, the bridge does not
// panic; every frame it sends is a JSON array with a numeric type id; the
// session then either answers an Echo CALL or has been closed with a close
// code for bad input (1003, 1007, 1008, 1009) and a reason; and a session
// opened afterwards is served as if nothing had happened.
func FuzzSession(f *testing.F) {
	for _, s := range []string{
		`[2,"c","bridgetest.v1.TestService.Echo",{"text":"hi"}]`,
		`[1,"t","bridgetest.v1.TestService."]` + "\n" + `[2,"c","t:Echo","a",2]`,
		`[2,"c","bridgetest.v1.TestService.Stream",{"count":3,"block":true}]` + "\n" + `[1001,"c"]`,
		`[2,"c","bridgetest.v1.TestService.Stream",{"count":5}]` + "\n" + `[2,"c","bridgetest.v1.TestService.Echo",{}]`,
		`[5,"topic"]` + "\n" + `[7,"topic",{"a":1}]` + "\n" + `[7,"topic",1,[],["x"]]` + "\n" + `[6,"topic"]`,
		`[2,"c","wamp.reflection.procedure.describe","Echo"]`,
		`[2,"c","bridgetest.v1.TestService.Fail",{"code":5,"message":"m"}]`,
		`[2,"c","bridgetest.v1.TestService.Sum",[1,2],[3]]`,
		`[1001,"nope"]` + "\n" + `[0,"x",1,"y"]` + "\n" + `[99]`,
		`not json`,
		"\x01\x00\x01",
		"[2,\"c\",\"p\",\"\xff\"]",
		`[2,1,2]`,
		`{}`,
		"?stream=last\n" + `[2,"c","bridgetest.v1.TestService.Stream",{"count":3}]` + "\n" + `[2,"d","bridgetest.v1.TestService.Stream",{"count":0}]`,
		"?stream=collect\n" + `[2,"c","bridgetest.v1.TestService.Chat",{"text":"x","repeat":3}]` + "\n" + `[1001,"c"]`,
	} {
		f.Add([]byte(s))
	}
	addr, _ := bridgetest.StartUpstream(f, bridgetest.UpstreamOptions{Reflection: bridgetest.ReflectionBoth})
	b := bridgetest.StartBridge(f, addr, bridgetest.Reflection)
	f.Fuzz(func(t *testing.T, data []byte) {
		query := ""
		for _, q := range []string{"?stream=last\n", "?stream=collect\n"} {
			if rest, ok := bytes.CutPrefix(data, []byte(q)); ok {
				query, data = q[:len(q)-1], rest
			}
		}
		c := bridgetest.Dial(t, b.URL+query, "wamp")
		c.ReadWelcome(t)
		for i, frame := range bytes.SplitN(data, []byte("\n"), 17) {
			if i == 16 {
				break
			}
			typ := websocket.TextMessage
			if len(frame) > 0 && frame[0] == 0x01 {
				typ, frame = websocket.BinaryMessage, frame[1:]
			}
			// A write fails once the bridge has closed the session: the
			// reads below find out why.
			if err := c.Conn.WriteMessage(typ, frame); err != nil {
				break
			}
		}
		id := fmt.Sprintf("fuzz-sync-%d", fuzzSyncIDs.Add(1))
		_ = c.Conn.WriteMessage(websocket.TextMessage,
			fmt.Appendf(nil, `[2,%q,"bridgetest.v1.TestService.Echo",{"text":%q}]`, id, id))
		for answered := false; !answered; {
			data, err := c.Next()
			var ce *websocket.CloseError
			switch {
			case errors.As(err, &ce):
				switch ce.Code {
				case websocket.CloseUnsupportedData, websocket.CloseInvalidFramePayloadData,
					websocket.ClosePolicyViolation, websocket.CloseMessageTooBig:
				default:
					t.Fatalf("session closed with %d %q, want a close code for bad input", ce.Code, ce.Text)
				}
				if ce.Text == "" {
					t.Fatalf("session closed with %d and no reason", ce.Code)
				}
				answered = true
			case err != nil:
				t.Fatalf("no answer to the closing CALL %q and no close: %v", id, err)
			default:
				fr, err := bridgetest.ParseFrame(data)
				if err != nil {
					t.Fatalf("the bridge sent %.200q: %v", data, err)
				}
				answered = fr.CallID() == id && (fr.Type() == 3 || fr.Type() == 4)
			}
		}
		c.Close()
		// Another session is served as usual.
		other := bridgetest.Dial(t, b.URL, "wamp")
		other.ReadWelcome(t)
		other.Sync(t)
		other.Close()
	})
}
