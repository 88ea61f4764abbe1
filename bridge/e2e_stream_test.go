package bridge_test

// §3 results of server-streaming and bidirectional methods in the three
// stream modes, chosen per connection and server-wide, and streams that
// fail.

import (
	"fmt"
	"strings"
	"testing"

	"github.com/wampbridge/grpcwamp/bridge"
	"github.com/wampbridge/grpcwamp/bridge/internal/bridgetest"
)

var streamModes = []bridge.StreamMode{bridge.StreamProgress, bridge.StreamLast, bridge.StreamCollect}

// streamMsgs returns the Stream messages {index: 1..n, tag}.
func streamMsgs(n int, tag string) []string {
	msgs := make([]string, n)
	for i := range msgs {
		msgs[i] = fmt.Sprintf(`{"index":%d,"tag":%q}`, i+1, tag)
	}
	return msgs
}

// chatMsgs returns the Chat messages {text, index: 1..n}.
func chatMsgs(n int, text string) []string {
	msgs := make([]string, n)
	for i := range msgs {
		msgs[i] = fmt.Sprintf(`{"text":%q,"index":%d}`, text, i+1)
	}
	return msgs
}

// deliveryFrames returns the frames that deliver a stream of msgs ending
// OK for call id in mode:
//   - progress: one [1000, id, msg] per message, then [3, id, null];
//   - last: all but the last as progress, the last as [3, id, msg]
//     ([3, id, null] for none);
//   - collect: [3, id, [msgs...]] alone.
func deliveryFrames(mode bridge.StreamMode, id string, msgs []string) []string {
	var frames []string
	progress := func(msgs []string) {
		for _, m := range msgs {
			frames = append(frames, fmt.Sprintf(`[1000,%q,%s]`, id, m))
		}
	}
	switch mode {
	case bridge.StreamProgress:
		progress(msgs)
		frames = append(frames, fmt.Sprintf(`[3,%q,null]`, id))
	case bridge.StreamLast:
		if len(msgs) == 0 {
			frames = append(frames, fmt.Sprintf(`[3,%q,null]`, id))
			break
		}
		progress(msgs[:len(msgs)-1])
		frames = append(frames, fmt.Sprintf(`[3,%q,%s]`, id, msgs[len(msgs)-1]))
	case bridge.StreamCollect:
		frames = append(frames, fmt.Sprintf(`[3,%q,[%s]]`, id, strings.Join(msgs, ",")))
	}
	return frames
}

// failureFrames returns the frames of a stream that sends msgs and then
// fails with callErr: progress sends the messages as progress; last sends
// them all as progress too, the held-back one included (the bridge's rule:
// no message the upstream sent is lost); collect sends only the error.
func failureFrames(mode bridge.StreamMode, id string, msgs []string, callErr string) []string {
	var frames []string
	if mode != bridge.StreamCollect {
		for _, m := range msgs {
			frames = append(frames, fmt.Sprintf(`[1000,%q,%s]`, id, m))
		}
	}
	return append(frames, callErr)
}

func expectFrames(t *testing.T, c *bridgetest.Client, frames []string) {
	t.Helper()
	for _, f := range frames {
		c.ExpectFrame(t, f)
	}
	c.Sync(t) // nothing follows the terminal frame
}

// TestE2EStreamModes: §3. A server stream (Stream) and a bidirectional one
// (Chat) in each stream mode, chosen with ?stream= or by the server-wide
// default, the query winning over the default.
func TestE2EStreamModes(t *testing.T) {
	t.Parallel()
	selections := []struct {
		name  string
		mode  bridge.StreamMode
		query string
		opts  []bridge.Option
	}{
		{"query=progress", bridge.StreamProgress, "?stream=progress", nil},
		{"query=last", bridge.StreamLast, "?stream=last", nil},
		{"query=collect", bridge.StreamCollect, "?stream=collect", nil},
		{"default", bridge.StreamProgress, "", nil},
		{"option=progress", bridge.StreamProgress, "", []bridge.Option{bridge.WithStreamMode(bridge.StreamProgress)}},
		{"option=last", bridge.StreamLast, "", []bridge.Option{bridge.WithStreamMode(bridge.StreamLast)}},
		{"option=collect", bridge.StreamCollect, "", []bridge.Option{bridge.WithStreamMode(bridge.StreamCollect)}},
		{"option=collect,query=progress", bridge.StreamProgress, "?stream=progress",
			[]bridge.Option{bridge.WithStreamMode(bridge.StreamCollect)}},
		{"option=progress,query=last", bridge.StreamLast, "?stream=last",
			[]bridge.Option{bridge.WithStreamMode(bridge.StreamProgress)}},
		{"option=last,query=collect", bridge.StreamCollect, "?stream=collect",
			[]bridge.Option{bridge.WithStreamMode(bridge.StreamLast)}},
	}
	cases := []struct {
		name string
		call string // CALL frame with callId "c"
		msgs []string
	}{
		{"stream of 3", `[2,"c","bridgetest.v1.TestService.Stream",{"count":3,"tag":"s"}]`, streamMsgs(3, "s")},
		{"stream of 1", `[2,"c","bridgetest.v1.TestService.Stream",{"count":1,"tag":"s"}]`, streamMsgs(1, "s")},
		{"empty stream", `[2,"c","bridgetest.v1.TestService.Stream",{"count":0,"tag":"s"}]`, nil},
		{"empty stream no arguments", `[2,"c","bridgetest.v1.TestService.Stream"]`, nil},
		{"stream of 20 positional", `[2,"c","bridgetest.v1.TestService.Stream",20]`, streamMsgs(20, "")},
		{"bidi 3", `[2,"c","bridgetest.v1.TestService.Chat",{"text":"hi","repeat":3}]`, chatMsgs(3, "hi")},
		{"bidi positional", `[2,"c","bridgetest.v1.TestService.Chat","yo","2"]`, chatMsgs(2, "yo")},
		{"bidi empty", `[2,"c","bridgetest.v1.TestService.Chat",{"text":"hi"}]`, nil},
	}
	for _, d := range bridgetest.Discoveries {
		for _, sel := range selections {
			t.Run(d.String()+"/"+sel.name, func(t *testing.T) {
				t.Parallel()
				e := start(t, d, sel.opts...)
				for _, tc := range cases {
					t.Run(tc.name, func(t *testing.T) {
						t.Parallel()
						c := e.connect(t, sel.query)
						c.Send(t, tc.call)
						expectFrames(t, c, deliveryFrames(sel.mode, "c", tc.msgs))
					})
				}
			})
		}
	}
}

// TestE2EStreamModeQueryRefused: an unknown ?stream= value is refused at the
// handshake rather than silently served in some mode.
func TestE2EStreamModeQueryRefused(t *testing.T) {
	t.Parallel()
	forEachDiscovery(t, func(t *testing.T, d bridgetest.Discovery) {
		e := start(t, d)
		code, _ := bridgetest.DialRefused(t, e.b.URL+"?stream=bogus", "wamp")
		if code < 400 || code > 499 {
			t.Errorf("?stream=bogus: handshake refused with %d, want a 4xx client error", code)
		}
	})
}

// TestE2EStreamErrors: §2, §3. A stream that fails at its start or after
// some messages ends with exactly one CALLERROR carrying the upstream
// status and its details; messages sent before the failure are delivered
// first (as progress), except in collect mode.
func TestE2EStreamErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		count int
		code  int
	}{
		{"at the start", 0, 9},
		{"after one", 1, 10},
		{"in the middle", 3, 13},
		{"unavailable in the middle", 2, 14},
	}
	forEachDiscovery(t, func(t *testing.T, d bridgetest.Discovery) {
		e := start(t, d)
		for _, mode := range streamModes {
			for _, tc := range cases {
				t.Run(mode.String()+"/"+tc.name, func(t *testing.T) {
					t.Parallel()
					c := e.connect(t, "?stream="+mode.String())
					c.Send(t, fmt.Sprintf(`[2,"c",%q,{"count":%d,"failCode":%d,"tag":"f"}]`, streamProc, tc.count, tc.code))
					desc := fmt.Sprintf(`stream "f" failed after %d messages`, tc.count)
					expectFrames(t, c, failureFrames(mode, "c", streamMsgs(tc.count, "f"),
						callError("c", tc.code, desc, bridgetest.ErrorInfoJSON)))
				})
			}
		}
	})
}

// TestE2ECollectLimit: §3. Collect mode is bounded: a stream whose array
// would pass the limit fails with RESOURCE_EXHAUSTED naming the limit, and
// the upstream call is cancelled rather than left running.
func TestE2ECollectLimit(t *testing.T) {
	t.Parallel()
	forEachDiscovery(t, func(t *testing.T, d bridgetest.Discovery) {
		e := start(t, d, bridge.WithCollectLimit(200))
		t.Run("over", func(t *testing.T) {
			t.Parallel()
			c := e.connect(t, "?stream=collect")
			tag := t.Name()
			c.Send(t, fmt.Sprintf(`[2,"big",%q,{"count":50,"block":true,"tag":%q}]`, streamProc, tag))
			ce := c.ExpectCallError(t, "big", 8)
			if !strings.Contains(ce.Desc, "200") {
				t.Errorf("errorDesc %q does not name the limit of 200 bytes", ce.Desc)
			}
			if err := e.svc.WaitCanceled(t.Context(), tag); err != nil {
				t.Fatal(err)
			}
			c.Sync(t)
		})
		t.Run("under", func(t *testing.T) {
			t.Parallel()
			c := e.connect(t, "?stream=collect")
			c.Send(t, fmt.Sprintf(`[2,"small",%q,{"count":3,"tag":"t"}]`, streamProc))
			expectFrames(t, c, deliveryFrames(bridge.StreamCollect, "small", streamMsgs(3, "t")))
		})
	})
}

// TestE2ECollectLimitExact: a collected result of exactly the limit is
// delivered, one byte more is refused. A Stream message is m0 bytes plus
// its tag (m0 measured in progress mode: protojson may add a space); the
// result adds [ and ], and a comma between messages.
func TestE2ECollectLimitExact(t *testing.T) {
	t.Parallel()
	const limit = 45 // odd: two messages of one tag fill it exactly
	e := start(t, bridgetest.Reflection, bridge.WithCollectLimit(limit))
	p := e.connect(t, "?stream=progress")
	p.Send(t, fmt.Sprintf(`[2,"p",%q,{"count":1,"tag":""}]`, streamProc))
	m0 := len(p.Read(t)) - len(`[1000,"p",]`)
	p.ExpectFrame(t, `[3,"p",null]`)
	c := e.connect(t, "?stream=collect")
	for _, tc := range []struct {
		count int
		tag   string
		fits  bool
	}{
		{1, strings.Repeat("k", limit-2-m0), true},
		{1, strings.Repeat("k", limit-1-m0), false},
		{2, strings.Repeat("k", (limit-3)/2-m0), true},
		{2, strings.Repeat("k", (limit-1)/2-m0), false},
	} {
		c.Send(t, fmt.Sprintf(`[2,"c",%q,{"count":%d,"tag":%q}]`, streamProc, tc.count, tc.tag))
		if !tc.fits {
			c.ExpectCallError(t, "c", 8)
			continue
		}
		result := c.Read(t)
		want := deliveryFrames(bridge.StreamCollect, "c", streamMsgs(tc.count, tc.tag))
		if err := bridgetest.JSONEqual(result, []byte(want[0])); err != nil {
			t.Fatalf("%d messages tagged %q: %v: got %s, want %s", tc.count, tc.tag, err, result, want[0])
		}
		if n := len(result) - len(`[3,"c",]`); n != limit {
			t.Fatalf("%d messages tagged %q: a result of %d bytes, want %d (the test's sizes are wrong)", tc.count, tc.tag, n, limit)
		}
	}
	c.Sync(t)
}

// TestE2ECollectLimitPerConnection: the collect limit also bounds what a
// connection's collect-mode calls hold together, so that one client cannot
// pin the limit once per call in flight. Two calls that each fit but not
// together: the one that crosses the limit fails with RESOURCE_EXHAUSTED
// naming the connection, the other goes on; once it has ended, a call of
// the same size fits again.
func TestE2ECollectLimitPerConnection(t *testing.T) {
	t.Parallel()
	const limit = 10_000 // each call below collects about 6 KB
	e := start(t, bridgetest.Reflection, bridge.WithCollectLimit(limit))
	c := e.connect(t, "?stream=collect")
	tags := map[string]string{}
	for _, id := range []string{"a", "b", "c"} {
		tags[id] = t.Name() + "/" + id + "/" + strings.Repeat("x", 1000)
	}
	for _, id := range []string{"a", "b"} {
		c.Send(t, fmt.Sprintf(`[2,%q,%q,{"count":6,"block":true,"tag":%q}]`, id, streamProc, tags[id]))
	}
	data := c.Read(t)
	f, err := bridgetest.ParseFrame(data)
	if err != nil {
		t.Fatal(err)
	}
	failed, other := f.CallID(), "a"
	if failed == "a" {
		other = "b"
	}
	ce, err := bridgetest.ParseCallError(data, failed, 8)
	if err != nil || (failed != "a" && failed != "b") {
		t.Fatalf("got %.300s (%v), want RESOURCE_EXHAUSTED for call a or b", data, err)
	}
	if !strings.Contains(ce.Desc, "this connection") || !strings.Contains(ce.Desc, fmt.Sprint(limit)) {
		t.Errorf("errorDesc %q, want it to name the connection's collect calls and the limit of %d bytes", ce.Desc, limit)
	}
	if err := e.svc.WaitCanceled(t.Context(), tags[failed]); err != nil {
		t.Fatal(err)
	}
	// The other call holds its 6 KB, blocked in the upstream, until
	// cancelled.
	if err := e.svc.WaitBlocked(t.Context(), tags[other]); err != nil {
		t.Fatal(err)
	}
	c.Sync(t)
	c.Send(t, fmt.Sprintf(`[1001,%q]`, other))
	c.ExpectCallError(t, other, 1)
	// Its bytes are released: a call of the same size fits.
	c.Send(t, fmt.Sprintf(`[2,"c",%q,{"count":6,"tag":%q}]`, streamProc, tags["c"]))
	expectFrames(t, c, deliveryFrames(bridge.StreamCollect, "c", streamMsgs(6, tags["c"])))
}
