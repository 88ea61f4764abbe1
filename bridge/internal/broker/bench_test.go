package broker

import (
	"encoding/json"
	"fmt"
	"testing"
)

// nullSub accepts and drops every frame.
type nullSub struct{ id string }

func (n *nullSub) SessionID() string   { return n.id }
func (n *nullSub) Deliver([]byte) bool { return true }
func (n *nullSub) Kick(string)         {}

func BenchmarkPublish(b *testing.B) {
	const subscribers = 1000
	for _, bc := range []struct {
		name string
		pub  Publication
	}{
		{"bare", Publication{}},
		{"excludeMe", Publication{ExcludeMe: ptr(true)}},
		{"eligible16", Publication{Exclude: []string{}, Eligible: ids(16)}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			br := newBroker(b, Options{PublisherReceives: true})
			for i := range subscribers {
				if err := br.Subscribe(&nullSub{id: fmt.Sprint("s", i)}, topicT); err != nil {
					b.Fatal(err)
				}
			}
			publisher := &nullSub{id: "s0"}
			p := bc.pub
			p.Topic, p.Event = topicT, json.RawMessage(`{"price":101.25,"symbol":"ACME"}`)
			b.ReportAllocs()
			for b.Loop() {
				if err := br.Publish(publisher, p); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func ids(n int) []string {
	s := make([]string, n)
	for i := range s {
		s[i] = fmt.Sprint("s", i*7)
	}
	return s
}
