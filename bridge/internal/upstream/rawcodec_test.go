package upstream

import (
	"bytes"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	bridgetestv1 "github.com/wampbridge/grpcwamp/gen/bridgetest/v1"
)

func TestRawCodec(t *testing.T) {
	t.Parallel()
	req := &bridgetestv1.StreamRequest{Count: 3, Tag: "t"}
	want, err := proto.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	data, err := rawCodec{}.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	if got := data.Materialize(); !bytes.Equal(got, want) {
		t.Errorf("Marshal = %x, want %x", got, want)
	}
	data.Free()
	if _, err := (rawCodec{}).Marshal("not a message"); err == nil {
		t.Error("Marshal of a string succeeded")
	}

	r := &Response{desc: req.ProtoReflect().Descriptor()}
	split := mem.BufferSlice{mem.SliceBuffer(want[:2]), mem.SliceBuffer(want[2:])}
	if err := (rawCodec{}).Unmarshal(split, r); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(r.Bytes(), want) {
		t.Errorf("Bytes = %x, want %x", r.Bytes(), want)
	}
	buf := r.Bytes()
	if err := (rawCodec{}).Unmarshal(mem.BufferSlice{mem.SliceBuffer(want[:1])}, r); err != nil {
		t.Fatal(err)
	}
	if &r.Bytes()[0] != &buf[0] {
		t.Error("the second message did not reuse the buffer")
	}
	if err := (rawCodec{}).Unmarshal(split, new(bridgetestv1.StreamRequest)); err == nil {
		t.Error("Unmarshal into a message succeeded")
	}
}

func TestResponseMessage(t *testing.T) {
	t.Parallel()
	desc := (&bridgetestv1.StreamResponse{}).ProtoReflect().Descriptor()
	r := &Response{desc: desc, buf: []byte{0x08, 0x07, 0x12, 0x01, 'x'}}
	m, err := r.Message()
	if err != nil {
		t.Fatal(err)
	}
	var got bridgetestv1.StreamResponse
	b, _ := proto.Marshal(m)
	if err := proto.Unmarshal(b, &got); err != nil || got.GetIndex() != 7 || got.GetTag() != "x" {
		t.Errorf("Message = %v (%v), want index 7, tag x", &got, err)
	}
	// Reused: the next response replaces the previous one.
	r.buf = []byte{0x08, 0x02}
	if m2, err := r.Message(); err != nil || m2 != m {
		t.Errorf("Message = %p, %v; want the same message reused", m2, err)
	}
	r.buf = []byte{0x12, 0x05, 'x'}
	_, err = r.Message()
	if s := status.Convert(err); s.Code() != codes.Internal || !strings.Contains(s.Message(), "not a valid bridgetest.v1.StreamResponse") ||
		!strings.Contains(s.Message(), "schema") {
		t.Errorf("Message of malformed bytes: %v, want INTERNAL naming the type and the schema as the likely cause", err)
	}
}
