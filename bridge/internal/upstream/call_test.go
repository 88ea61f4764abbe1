package upstream_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/wampbridge/grpcwamp/bridge/internal/upstream"
	bridgetestv1 "github.com/wampbridge/grpcwamp/gen/bridgetest/v1"
)

// callFixture is a running TestService with its catalog loaded by
// reflection, so that calls use dynamic descriptors as in production.
type callFixture struct {
	cat *upstream.Catalog
	svc *testService
	cc  grpc.ClientConnInterface
}

func newCallFixture(t *testing.T) *callFixture {
	t.Helper()
	addr, svc := startServer(t, reflectionBoth)
	cc := dial(t, addr)
	cat, err := upstream.NewReflectionSource(cc).Load(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return &callFixture{cat: cat, svc: svc, cc: cc}
}

func (f *callFixture) method(t *testing.T, name string) *upstream.Method {
	t.Helper()
	m, ok := f.cat.Lookup(name)
	if !ok {
		t.Fatalf("no method %q", name)
	}
	return m
}

// dynamic returns msg as a dynamic message of m's input type.
func dynamic(t *testing.T, m *upstream.Method, msg proto.Message) proto.Message {
	t.Helper()
	b, err := proto.Marshal(msg)
	if err != nil {
		t.Fatal(err)
	}
	d := dynamicpb.NewMessage(m.Desc.Input())
	if err := proto.Unmarshal(b, d); err != nil {
		t.Fatal(err)
	}
	return d
}

// collect returns a recv function appending each response, converted to
// T, to *out. It checks that the response's bytes and its decoded message
// agree.
func collect[T any, PT interface {
	*T
	proto.Message
}](t *testing.T, out *[]PT) func(*upstream.Response) error {
	return func(r *upstream.Response) error {
		v := PT(new(T))
		if err := proto.Unmarshal(r.Bytes(), v); err != nil {
			return err
		}
		if got, want := r.Desc().FullName(), v.ProtoReflect().Descriptor().FullName(); got != want {
			t.Errorf("response type %s, want %s", got, want)
		}
		m, err := r.Message()
		if err != nil {
			return err
		}
		if _, ok := m.(*dynamicpb.Message); !ok {
			t.Errorf("decoded response is a %T, want *dynamicpb.Message", m)
		}
		b, err := proto.Marshal(m)
		if err != nil {
			return err
		}
		again := PT(new(T))
		if err := proto.Unmarshal(b, again); err != nil {
			return err
		}
		if !proto.Equal(v, again) {
			t.Errorf("decoded response %v, want %v", again, v)
		}
		*out = append(*out, v)
		return nil
	}
}

func TestCallKinds(t *testing.T) {
	t.Parallel()
	f := newCallFixture(t)
	cc := f.cc

	t.Run("unary", func(t *testing.T) {
		t.Parallel()
		m := f.method(t, "test.Echo")
		var got []*bridgetestv1.EchoResponse
		req := &bridgetestv1.EchoRequest{Text: "hi", Number: 7}
		if err := upstream.Call(t.Context(), cc, m, dynamic(t, m, req), collect(t, &got)); err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || !proto.Equal(got[0].GetRequest(), req) {
			t.Errorf("responses = %v, want the request echoed once", got)
		}
	})
	t.Run("unary with a generated request", func(t *testing.T) {
		t.Parallel()
		var got []*bridgetestv1.EchoResponse
		req := &bridgetestv1.EchoRequest{Text: "gen"}
		if err := upstream.Call(t.Context(), cc, f.method(t, "http://example.com/test#echo"), req, collect(t, &got)); err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0].GetRequest().GetText() != "gen" {
			t.Errorf("responses = %v", got)
		}
	})
	t.Run("server streaming", func(t *testing.T) {
		t.Parallel()
		m := f.method(t, "/bridgetest.v1.TestService/Stream")
		var got []*bridgetestv1.StreamResponse
		req := &bridgetestv1.StreamRequest{Count: 3, Tag: "s"}
		if err := upstream.Call(t.Context(), cc, m, dynamic(t, m, req), collect(t, &got)); err != nil {
			t.Fatal(err)
		}
		var idx []int32
		for _, r := range got {
			idx = append(idx, r.GetIndex())
		}
		if !slices.Equal(idx, []int32{1, 2, 3}) {
			t.Errorf("indexes = %v, want [1 2 3]", idx)
		}
	})
	t.Run("server streaming, empty", func(t *testing.T) {
		t.Parallel()
		m := f.method(t, "test.Stream")
		var got []*bridgetestv1.StreamResponse
		if err := upstream.Call(t.Context(), cc, m, dynamic(t, m, &bridgetestv1.StreamRequest{}), collect(t, &got)); err != nil {
			t.Fatal(err)
		}
		if len(got) != 0 {
			t.Errorf("responses = %v, want none", got)
		}
	})
	t.Run("client streaming", func(t *testing.T) {
		t.Parallel()
		m := f.method(t, "bridgetest.v1.TestService.Sum")
		var got []*bridgetestv1.SumResponse
		req := &bridgetestv1.SumRequest{Numbers: []int64{1, 2, 39}}
		if err := upstream.Call(t.Context(), cc, m, dynamic(t, m, req), collect(t, &got)); err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0].GetTotal() != 42 || got[0].GetRequests() != 1 {
			t.Errorf("responses = %v, want total 42 from 1 request", got)
		}
	})
	t.Run("bidi", func(t *testing.T) {
		t.Parallel()
		m := f.method(t, "test.Chat")
		var got []*bridgetestv1.ChatResponse
		req := &bridgetestv1.ChatRequest{Text: "yo", Repeat: 3}
		if err := upstream.Call(t.Context(), cc, m, dynamic(t, m, req), collect(t, &got)); err != nil {
			t.Fatal(err)
		}
		if len(got) != 3 {
			t.Fatalf("responses = %v, want 3", got)
		}
		for i, r := range got {
			if r.GetText() != "yo" || r.GetIndex() != int32(i) {
				t.Errorf("response %d = %v", i, r)
			}
		}
	})
}

func TestCallErrors(t *testing.T) {
	t.Parallel()
	f := newCallFixture(t)
	cc := f.cc
	noRecv := func(t *testing.T) func(*upstream.Response) error {
		return func(r *upstream.Response) error {
			t.Errorf("recv called with %x", r.Bytes())
			return nil
		}
	}

	t.Run("unary status", func(t *testing.T) {
		t.Parallel()
		m := f.method(t, "test.Fail")
		req := &bridgetestv1.FailRequest{Code: int32(codes.FailedPrecondition), Message: "not now"}
		err := upstream.Call(t.Context(), cc, m, dynamic(t, m, req), noRecv(t))
		if s := status.Convert(err); s.Code() != codes.FailedPrecondition || s.Message() != "not now" {
			t.Errorf("Call error = %v, want FAILED_PRECONDITION \"not now\"", err)
		}
	})
	t.Run("status mid-stream", func(t *testing.T) {
		t.Parallel()
		m := f.method(t, "test.Stream")
		var got []*bridgetestv1.StreamResponse
		req := &bridgetestv1.StreamRequest{Count: 2, FailCode: int32(codes.DataLoss), Tag: "mid"}
		err := upstream.Call(t.Context(), cc, m, dynamic(t, m, req), collect(t, &got))
		if status.Code(err) != codes.DataLoss {
			t.Errorf("Call error = %v, want DATA_LOSS", err)
		}
		if len(got) != 2 {
			t.Errorf("got %d responses before the failure, want 2", len(got))
		}
	})
	t.Run("recv error cancels the upstream call", func(t *testing.T) {
		t.Parallel()
		m := f.method(t, "test.Stream")
		errStop := errors.New("consumer gone")
		req := &bridgetestv1.StreamRequest{Count: 1, Block: true, Tag: "cancel-me"}
		err := upstream.Call(t.Context(), cc, m, dynamic(t, m, req), func(*upstream.Response) error { return errStop })
		if err != errStop {
			t.Errorf("Call error = %v, want recv's error unchanged", err)
		}
		waitFor(t, f.svc.cancelledCh("cancel-me"), "the server to see the cancellation")
	})
	t.Run("recv error on a unary call", func(t *testing.T) {
		t.Parallel()
		m := f.method(t, "test.Echo")
		errStop := errors.New("cannot render")
		err := upstream.Call(t.Context(), cc, m, dynamic(t, m, &bridgetestv1.EchoRequest{}), func(*upstream.Response) error { return errStop })
		if err != errStop {
			t.Errorf("Call error = %v, want recv's error unchanged", err)
		}
	})
	t.Run("cancelled context", func(t *testing.T) {
		t.Parallel()
		m := f.method(t, "test.Echo")
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		err := upstream.Call(ctx, cc, m, dynamic(t, m, &bridgetestv1.EchoRequest{}), noRecv(t))
		if status.Code(err) != codes.Canceled {
			t.Errorf("Call error = %v, want CANCELLED", err)
		}
	})
	t.Run("cancelled while streaming", func(t *testing.T) {
		t.Parallel()
		m := f.method(t, "test.Stream")
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		req := &bridgetestv1.StreamRequest{Count: 1, Block: true, Tag: "ctx"}
		err := upstream.Call(ctx, cc, m, dynamic(t, m, req), func(*upstream.Response) error {
			cancel()
			return nil
		})
		if status.Code(err) != codes.Canceled {
			t.Errorf("Call error = %v, want CANCELLED", err)
		}
		waitFor(t, f.svc.cancelledCh("ctx"), "the server to see the cancellation")
	})
	t.Run("wrong request type", func(t *testing.T) {
		t.Parallel()
		err := upstream.Call(t.Context(), cc, f.method(t, "test.Echo"), &bridgetestv1.SumRequest{}, noRecv(t))
		if status.Code(err) != codes.Internal {
			t.Errorf("Call error = %v, want INTERNAL", err)
		}
	})
}

func TestCallUnavailable(t *testing.T) {
	t.Parallel()
	cat := generatedCatalog(t)
	m, _ := cat.Lookup("test.Echo")
	cc := dial(t, deadAddr(t))
	err := upstream.Call(t.Context(), cc, m, &bridgetestv1.EchoRequest{}, func(*upstream.Response) error { return nil })
	if status.Code(err) != codes.Unavailable {
		t.Errorf("Call error = %v, want UNAVAILABLE", err)
	}
}

// TestCallUnaryInterceptors checks that a unary call is one to client
// interceptors (cc.Invoke), not a stream.
func TestCallUnaryInterceptors(t *testing.T) {
	t.Parallel()
	addr, _ := startServer(t, reflectionBoth)
	var unary, streams []string
	cc := dial(t, addr,
		grpc.WithUnaryInterceptor(func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
			unary = append(unary, method)
			return invoker(ctx, method, req, reply, cc, opts...)
		}),
		grpc.WithStreamInterceptor(func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
			streams = append(streams, method)
			return streamer(ctx, desc, cc, method, opts...)
		}))
	cat := generatedCatalog(t)
	m, _ := cat.Lookup("test.Echo")
	var got []*bridgetestv1.EchoResponse
	if err := upstream.Call(t.Context(), cc, m, &bridgetestv1.EchoRequest{Text: "i"}, collect(t, &got)); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].GetRequest().GetText() != "i" {
		t.Errorf("responses = %v", got)
	}
	if !slices.Equal(unary, []string{"/bridgetest.v1.TestService/Echo"}) || len(streams) != 0 {
		t.Errorf("unary interceptor saw %v, stream interceptor %v; want one unary call", unary, streams)
	}
}

// TestCallWire checks that a request given in the wire format reaches the
// upstream as the message it encodes, for each kind of method, and that
// bytes the upstream cannot decode fail as gRPC fails them.
func TestCallWire(t *testing.T) {
	t.Parallel()
	f := newCallFixture(t)
	wire := func(t *testing.T, msg proto.Message) []byte {
		t.Helper()
		b, err := proto.Marshal(msg)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}

	t.Run("unary", func(t *testing.T) {
		t.Parallel()
		var got []*bridgetestv1.EchoResponse
		req := &bridgetestv1.EchoRequest{Text: "wire", Number: 9}
		if err := upstream.CallWire(t.Context(), f.cc, f.method(t, "test.Echo"), wire(t, req), collect(t, &got)); err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || !proto.Equal(got[0].GetRequest(), req) {
			t.Errorf("responses = %v, want the request echoed once", got)
		}
	})
	t.Run("server streaming", func(t *testing.T) {
		t.Parallel()
		var got []*bridgetestv1.StreamResponse
		req := &bridgetestv1.StreamRequest{Count: 2, Tag: "w"}
		if err := upstream.CallWire(t.Context(), f.cc, f.method(t, "test.Stream"), wire(t, req), collect(t, &got)); err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || got[1].GetIndex() != 2 {
			t.Errorf("responses = %v, want indexes 1 and 2", got)
		}
	})
	t.Run("empty request", func(t *testing.T) {
		t.Parallel()
		var got []*bridgetestv1.StreamResponse
		if err := upstream.CallWire(t.Context(), f.cc, f.method(t, "test.Stream"), nil, collect(t, &got)); err != nil {
			t.Fatal(err)
		}
		if len(got) != 0 {
			t.Errorf("responses = %v, want none for count 0", got)
		}
	})
	t.Run("bytes the upstream cannot decode", func(t *testing.T) {
		t.Parallel()
		var got []*bridgetestv1.EchoResponse
		err := upstream.CallWire(t.Context(), f.cc, f.method(t, "test.Echo"), []byte{0x0a, 0x05, 'x'}, collect(t, &got))
		if code := status.Code(err); code != codes.Internal {
			t.Errorf("error %v: want the upstream's INTERNAL for a truncated message", err)
		}
	})
}
