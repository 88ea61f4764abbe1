package wampv1_test

import (
	"encoding/json"
	"testing"

	"github.com/wampbridge/grpcwamp/bridge/wampv1"
)

func BenchmarkDecodeCall(b *testing.B) {
	for _, bc := range []struct{ name, frame string }{
		{"positional", `[2,"0.6cd2v1pa8z","GetProgressiveTime",20]`},
		{"object", `[2,"3E0E6A6A-0C2E-4B3F-9F05-6B2D0C7D6C1E","demo.v1.Clock.Ticks",{"count":20,"intervalMs":100,"label":"progressive time"}]`},
	} {
		frame := []byte(bc.frame)
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(frame)))
			for b.Loop() {
				if _, err := wampv1.Decode(frame); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkAppendCallProgressResult(b *testing.B) {
	m := &wampv1.CallProgressResult{
		CallID: "0.6cd2v1pa8z",
		Result: json.RawMessage(`{"time":"2025-01-01T00:00:00.123456789Z","index":19}`),
	}
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	b.SetBytes(int64(len(wampv1.Encode(m))))
	for b.Loop() {
		buf = wampv1.Append(buf[:0], m)
	}
}
