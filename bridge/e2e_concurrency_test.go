package bridge_test

// §2, §3 under load: many sessions each with many streaming calls at once.

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/wampbridge/grpcwamp/bridge"
	"github.com/wampbridge/grpcwamp/bridge/internal/bridgetest"
)

// TestE2EConcurrentStreams: 200 streaming calls of 50 messages spread over
// 20 sessions at once (sessions in all three stream modes, a small send
// queue so that back-pressure is exercised): every message is delivered
// exactly once and in order within its call, every call ends with exactly
// one terminal frame, and nothing follows.
func TestE2EConcurrentStreams(t *testing.T) {
	t.Parallel()
	const (
		sessions = 20
		calls    = 10
		messages = 50
	)
	forEachDiscovery(t, func(t *testing.T, d bridgetest.Discovery) {
		e := start(t, d, bridge.WithSendQueue(4))
		for s := range sessions {
			mode := streamModes[s%len(streamModes)]
			t.Run(fmt.Sprintf("session %d %s", s, mode), func(t *testing.T) {
				t.Parallel()
				c := e.connect(t, "?stream="+mode.String())
				for i := range calls {
					c.Send(t, fmt.Sprintf(`[2,"c%d",%q,{"count":%d,"tag":"s%d-c%d"}]`, i, streamProc, messages, s, i))
				}
				// next[id] is the index of the next message expected for
				// the call; ended[id] that its terminal frame arrived.
				next := make(map[string]int)
				ended := make(map[string]bool)
				for i := range calls {
					next[fmt.Sprintf("c%d", i)] = 1
				}
				check := func(id string, raw json.RawMessage) {
					t.Helper()
					var m struct {
						Index int    `json:"index"`
						Tag   string `json:"tag"`
					}
					if err := json.Unmarshal(raw, &m); err != nil {
						t.Fatalf("call %s: message %s: %v", id, raw, err)
					}
					want := fmt.Sprintf("s%d-%s", s, id)
					if m.Index != next[id] || m.Tag != want {
						t.Fatalf("call %s: got message %s, want index %d tag %q", id, raw, next[id], want)
					}
					next[id]++
				}
				for len(ended) < calls {
					f := c.ReadFrame(t)
					id := f.CallID()
					if _, ok := next[id]; !ok || ended[id] {
						t.Fatalf("frame %s: unknown or ended call %q", f.Raw(), id)
					}
					switch {
					case f.Type() == 1000 && len(f) == 3 && mode != bridge.StreamCollect:
						check(id, f[2])
					case f.Type() == 3 && len(f) == 3:
						ended[id] = true
						switch mode {
						case bridge.StreamProgress:
							if string(f[2]) != "null" {
								t.Fatalf("call %s: CALLRESULT %s, want null in progress mode", id, f.Raw())
							}
						case bridge.StreamLast:
							check(id, f[2])
						case bridge.StreamCollect:
							var all []json.RawMessage
							if err := json.Unmarshal(f[2], &all); err != nil {
								t.Fatalf("call %s: CALLRESULT %s, want an array in collect mode", id, f.Raw())
							}
							for _, m := range all {
								check(id, m)
							}
						}
						if next[id] != messages+1 {
							t.Fatalf("call %s ended after %d messages, want %d", id, next[id]-1, messages)
						}
					default:
						t.Fatalf("unexpected frame %s in %s mode", f.Raw(), mode)
					}
				}
				c.Sync(t) // nothing after the terminal frames
			})
		}
	})
}
