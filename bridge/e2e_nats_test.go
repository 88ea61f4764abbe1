package bridge_test

// §4 of PROTOCOL.md across bridge replicas: PUBLISH fan-out through NATS.

import (
	"fmt"
	"testing"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/wampbridge/grpcwamp/bridge"
	"github.com/wampbridge/grpcwamp/bridge/internal/bridgetest"
)

// startNATS runs a NATS server in the test's process on 127.0.0.1.
func startNATS(t *testing.T) string {
	t.Helper()
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(bridgetest.Timeout) {
		t.Fatal("NATS server not ready")
	}
	t.Cleanup(func() {
		s.Shutdown()
		s.WaitForShutdown()
	})
	return s.ClientURL()
}

// TestE2EReplicasNATS: two bridge replicas share a NATS server; a PUBLISH
// on one reaches the subscribers of both exactly once, and exclude and
// eligible lists of session ids hold across replicas.
func TestE2EReplicasNATS(t *testing.T) {
	t.Parallel()
	url := startNATS(t)
	addr, _ := bridgetest.StartUpstream(t, bridgetest.UpstreamOptions{})
	ra := bridgetest.StartBridge(t, addr, bridgetest.Reflection, bridge.WithNATS(url))
	rb := bridgetest.StartBridge(t, addr, bridgetest.Reflection, bridge.WithNATS(url))
	const topic = "com.example.news"
	pub, onA := join(t, ra.URL), join(t, ra.URL)
	onB1, onB2 := join(t, rb.URL), join(t, rb.URL)
	all := []peer{pub, onA, onB1, onB2}
	for _, p := range all {
		p.subscribe(t, topic)
	}
	cases := []struct {
		name, publish string
		want          []peer
	}{
		{"bare", `]`, all},
		{"excludeMe", `,true]`, []peer{onA, onB1, onB2}},
		{"eligible on the other replica", `,[],` + ids(onB1) + `]`, []peer{onB1}},
		{"exclude on the other replica", `,` + ids(onB1, pub) + `]`, []peer{onA, onB2}},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			event := fmt.Sprintf(`{"n":%d}`, i)
			pub.Send(t, fmt.Sprintf(`[7,%q,%s%s`, topic, event, tc.publish))
			mark := marker(t, pub, topic, i)
			for _, p := range all {
				for _, w := range tc.want {
					if w.id == p.id {
						p.ExpectFrame(t, fmt.Sprintf(`[8,%q,%s]`, topic, event))
					}
				}
				// Exactly once: the marker comes next, not a copy.
				p.ExpectFrame(t, mark)
			}
		})
	}
}
