package upstream

import (
	"fmt"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	// The proto codec, which marshals requests, registers itself here.
	_ "google.golang.org/grpc/encoding/proto"
)

// Response is one response message of a [Call], as it arrived. It is
// reused for the next response of the call: it and the slice Bytes
// returns are valid only until recv returns.
type Response struct {
	desc protoreflect.MessageDescriptor
	buf  []byte
	msg  *dynamicpb.Message // the decoded form, made on first use
}

// responses holds Responses between calls, so that a call's buffer is
// usually one that an earlier call grew already.
var responses = sync.Pool{New: func() any { return new(Response) }}

// maxPooledResponse bounds the buffers kept for reuse, so that one huge
// response does not stay pinned in the pool.
const maxPooledResponse = 64 << 10

// newResponse returns an empty Response for messages of type desc.
func newResponse(desc protoreflect.MessageDescriptor) *Response {
	r := responses.Get().(*Response)
	r.desc = desc
	return r
}

// free gives r back to the pool; r must not be used afterwards.
func (r *Response) free() {
	if cap(r.buf) > maxPooledResponse {
		r.buf = nil
	}
	r.buf = r.buf[:0]
	r.desc, r.msg = nil, nil
	responses.Put(r)
}

// Bytes returns the message in the protobuf wire format.
func (r *Response) Bytes() []byte { return r.buf }

// Desc returns the message's type, the method's output type.
func (r *Response) Desc() protoreflect.MessageDescriptor { return r.desc }

// Message decodes the response into a dynamic message, as gRPC's proto
// codec would have: the error is INTERNAL, as gRPC reports a message it
// cannot decode, naming the type and the likely cause. The message is
// reused as the Response is.
func (r *Response) Message() (proto.Message, error) {
	if r.msg == nil {
		r.msg = dynamicpb.NewMessage(r.desc)
	}
	if err := proto.Unmarshal(r.buf, r.msg); err != nil {
		return nil, status.Errorf(codes.Internal,
			"the upstream's response is not a valid %s (%v): the upstream may run a newer schema than the bridge has loaded, which it reloads periodically and on SIGHUP",
			r.desc.FullName(), err)
	}
	return r.msg, nil
}

// rawCodec marshals requests as the proto codec does, or sends those
// already in the wire format as they are, and keeps responses
// as bytes: received into a *Response, a message is copied into the
// Response's buffer, which grows to the largest message of the call and is
// then reused.
type rawCodec struct{}

// protoCodec is gRPC's own proto codec, registered by its package.
var protoCodec = encoding.GetCodecV2("proto")

func (rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	if w, ok := v.(*wireRequest); ok {
		// gRPC frees what Marshal returns once it is sent; freeing a
		// SliceBuffer does nothing, so the caller's bytes stay its own.
		return mem.BufferSlice{mem.SliceBuffer(w.b)}, nil
	}
	return protoCodec.Marshal(v)
}

// wireRequest is a request in the protobuf wire format, sent as it is.
type wireRequest struct{ b []byte }

func (rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	r, ok := v.(*Response)
	if !ok {
		return fmt.Errorf("upstream: raw codec cannot decode into %T", v)
	}
	r.buf = r.buf[:0]
	for _, b := range data {
		r.buf = append(r.buf, b.ReadOnlyData()...)
	}
	return nil
}

// Name is empty so that forcing the codec leaves the content-type as it
// is without one ("application/grpc"), as with the default proto codec.
func (rawCodec) Name() string { return "" }

// rawCallOptions force rawCodec on a call.
var rawCallOptions = []grpc.CallOption{grpc.ForceCodecV2(rawCodec{})}
