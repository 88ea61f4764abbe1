package transcode

import (
	"encoding/json"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	benchv1 "github.com/wampbridge/grpcwamp/gen/bench/v1"
	bridgetestv1 "github.com/wampbridge/grpcwamp/gen/bridgetest/v1"
)

func BenchmarkRequest(b *testing.B) {
	c := New(nil, DefaultOptions())
	for _, bc := range []struct {
		name string
		args []string
	}{
		{"positional", []string{`20`, `"1s"`}},
		{"object", []string{`{"count": 20, "interval": "1s"}`}},
	} {
		args := rawArgs(bc.args)
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.Request(clockProc, clockDesc, args); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	args := rawArgs([]string{`{"text": "t", "number": 7, "inner": {"name": "n", "values": [1, 2]}, "tags": ["a", "b"], "counts": {"x": 1}, "wait": "3s"}`})
	b.Run("echo object", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := c.Request(echoProc, echoDesc, args); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkAppendResponse(b *testing.B) {
	c := New(nil, DefaultOptions())
	req := &bridgetestv1.EchoRequest{Text: "t", Number: 7, Inner: &bridgetestv1.Inner{Name: "n", Values: []int32{1, 2}}, Tags: []string{"a", "b"}}
	for _, bc := range []struct {
		name string
		msg  proto.Message
	}{
		{"known any", &bridgetestv1.EchoResponse{Request: req, Any: mustAny(&bridgetestv1.Inner{Name: "n"})}},
		{"unknown any", &bridgetestv1.EchoResponse{Request: req, Any: unknownAny}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			var buf []byte
			for b.Loop() {
				var err error
				if buf, err = c.AppendResponse(buf[:0], bc.msg); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestCodecConcurrent uses one Codec from many goroutines (run with -race).
func TestCodecConcurrent(t *testing.T) {
	t.Parallel()
	c := New(testTypes, DefaultOptions())
	resp := &bridgetestv1.EchoResponse{Any: unknownAny}
	fail := status.New(codes.Aborted, "x")
	fail, _ = fail.WithDetails(&anypb.Any{TypeUrl: "type.example.com/a.B"})
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 50 {
				if _, err := c.Request(clockProc, clockDesc, []json.RawMessage{json.RawMessage(`{"count": 1}`)}); err != nil {
					t.Error(err)
				}
				if _, err := c.AppendResponse(nil, resp); err != nil {
					t.Error(err)
				}
				if _, ok := c.AppendRequestWire(nil, echoDesc, []json.RawMessage{json.RawMessage(`{"text": "a", "inner": {"values": [1]}}`)}); !ok {
					t.Error("AppendRequestWire gave up")
				}
				if f := c.Failure(fail.Err()); f == nil || f.Code != codes.Aborted {
					t.Errorf("Failure = %+v", f)
				}
			}
		})
	}
	wg.Wait()
}

// BenchmarkWire compares rendering a response from its wire bytes with
// AppendWire ("fast") against the slow path it replaces ("protojson":
// proto.Unmarshal into a dynamic message, as gRPC's codec did, then
// AppendResponse), for a small and a richer message.
func BenchmarkWire(b *testing.B) {
	c := New(nil, DefaultOptions())
	rich := &bridgetestv1.EchoResponse{Request: &bridgetestv1.EchoRequest{
		Text: "hello", Number: 7, Big: 1 << 40, Ratio: 0.25, Flag: true, Blob: []byte("blob"),
		Color: bridgetestv1.Color_COLOR_GREEN, Inner: &bridgetestv1.Inner{Name: "n", Values: []int32{1, 2, 3}},
		Tags: []string{"a", "b"}, Counts: map[string]int32{"x": 1, "y": 2},
		At: timestamppb.New(time.Date(2026, 11, 25, 6, 47, 33, 0, time.UTC)), Wait: durationpb.New(1500 * time.Millisecond),
		Extra: &structpb.Struct{Fields: map[string]*structpb.Value{"k": structpb.NewStringValue("v")}},
		Label: wrapperspb.String("l"), Choice: &bridgetestv1.EchoRequest_ChoiceText{ChoiceText: "c"}, Maybe: proto.Int32(0),
	}}
	for _, bc := range []struct {
		name string
		msg  proto.Message
	}{
		{"StreamResponse", &bridgetestv1.StreamResponse{Index: 42, Tag: "tag"}},
		// cmd/bridgebench's message: 80 bytes, as in issue 6's figures.
		{"BenchPayload", &benchv1.StreamResponse{Payload: &benchv1.Payload{
			Seq: 123456, Price: 112.4375, Volume: 300, Symbol: "EURUSD",
			Note: "bridgebench payload: a note that pads it to 80 bytes",
		}}},
		{"EchoResponse", rich},
	} {
		wire, err := proto.Marshal(bc.msg)
		if err != nil {
			b.Fatal(err)
		}
		md := bc.msg.ProtoReflect().Descriptor()
		if _, ok := c.AppendWire(nil, md, wire); !ok {
			b.Fatalf("%s: the fast path gave up", bc.name)
		}
		b.Run(bc.name+"/fast", func(b *testing.B) {
			b.ReportAllocs()
			var buf []byte
			for b.Loop() {
				buf, _ = c.AppendWire(buf[:0], md, wire)
			}
		})
		b.Run(bc.name+"/protojson", func(b *testing.B) {
			b.ReportAllocs()
			var buf []byte
			m := dynamicpb.NewMessage(md)
			for b.Loop() {
				if err := proto.Unmarshal(wire, m); err != nil {
					b.Fatal(err)
				}
				if buf, err = c.AppendResponse(buf[:0], m); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRequestWire compares encoding a CALL's arguments straight to
// wire bytes with AppendRequestWire ("fast") against the path it replaces
// ("Request+Marshal": Request builds a dynamic message, which gRPC's codec
// then marshals), for the benchmark's request in object and positional
// form and for a richer EchoRequest.
func BenchmarkRequestWire(b *testing.B) {
	c := New(nil, DefaultOptions())
	for _, bc := range []struct {
		name string
		md   protoreflect.MessageDescriptor
		args []string
	}{
		{"UnaryRequest object", benchReqDesc, []string{`{"seq":12345}`}},
		{"UnaryRequest positional", benchReqDesc, []string{`12345`}},
		{"EchoRequest object", echoDesc, []string{`{"text": "hello", "number": 7, "big": "1099511627776", "ratio": 0.25,
			"flag": true, "blob": "YmxvYg==", "color": "COLOR_GREEN", "inner": {"name": "n", "values": [1, 2, 3]},
			"tags": ["a", "b"], "counts": {"x": 1, "y": 2}, "label": "l", "choiceText": "c", "maybe": 0}`}},
		{"EchoRequest positional", echoDesc, []string{`"hello"`, `7`, `"1099511627776"`, `0.25`, `true`, `"YmxvYg=="`,
			`"COLOR_GREEN"`, `{"name": "n", "values": [1, 2, 3]}`, `["a", "b"]`, `{"x": 1, "y": 2}`}},
	} {
		args := rawArgs(bc.args)
		if _, ok := c.AppendRequestWire(nil, bc.md, args); !ok {
			b.Fatalf("%s: the fast path gave up", bc.name)
		}
		b.Run(bc.name+"/fast", func(b *testing.B) {
			b.ReportAllocs()
			buf := make([]byte, 0, 256)
			for b.Loop() {
				buf, _ = c.AppendRequestWire(buf[:0], bc.md, args)
			}
		})
		b.Run(bc.name+"/Request+Marshal", func(b *testing.B) {
			b.ReportAllocs()
			buf := make([]byte, 0, 256)
			for b.Loop() {
				m, err := c.Request("bench", bc.md, args)
				if err != nil {
					b.Fatal(err)
				}
				if buf, err = (proto.MarshalOptions{}).MarshalAppend(buf[:0], m); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
