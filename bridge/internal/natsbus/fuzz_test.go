package natsbus

import (
	"encoding/json"
	"log/slog"
	"testing"
	"unicode/utf8"

	"github.com/nats-io/nats.go"

	"github.com/wampbridge/grpcwamp/bridge/internal/broker"
	"github.com/wampbridge/grpcwamp/bridge/wampv1"
)

// FuzzReceive: whatever bytes arrive on a topic's subject (anyone who can
// publish to the NATS server can send them), receive delivers at most one
// envelope, only of the subscribed topic, and the EVENT frame the broker
// makes of it is valid UTF-8 JSON, so it cannot break the WebSocket
// sessions of the subscribers.
func FuzzReceive(f *testing.F) {
	const topic = "urn:t"
	for _, s := range []string{
		`not json`,
		`{"t":"urn:t","e":1}`,
		`{"t":"urn:t","e":{"a":[1,"x",null]},"x":["s1"],"el":[],"he":true}`,
		`{"t":"urn:other","e":1}`,
		`{"t":"urn:t"}`,
		`{"t":"urn:t","e":"\ud800"}`,
		"{\"t\":\"urn:t\",\"e\":\"\xff\"}",
		`{"t":"urn:t","e":1,"t":"urn:other"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		b := &Bus{log: slog.New(slog.DiscardHandler)}
		var got []broker.Envelope
		deliver := func(env broker.Envelope) { got = append(got, env) }
		b.deliver.Store(&deliver)
		b.receive(topic, &nats.Msg{Subject: subjectFor(DefaultSubject, topic), Data: data})
		switch {
		case len(got) > 1:
			t.Fatalf("%q: %d deliveries, want at most 1", data, len(got))
		case len(got) == 0:
			return
		}
		if got[0].Topic != topic {
			t.Fatalf("%q: delivered an envelope of topic %q on %q", data, got[0].Topic, topic)
		}
		frame := wampv1.Encode(&wampv1.Event{TopicURI: got[0].Topic, Event: got[0].Event})
		if !utf8.Valid(frame) || !json.Valid(frame) {
			t.Fatalf("%q: delivered, and its EVENT frame %q is not valid UTF-8 JSON", data, frame)
		}
	})
}
