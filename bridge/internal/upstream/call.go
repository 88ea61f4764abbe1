package upstream

import (
	"context"
	"errors"
	"io"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// Call invokes m on cc with the one request req, a message of m's input
// type, whatever m's kind: the request side is closed after req, so a
// client-streaming or bidi method sees a stream of one request.
//
// recv gets each response in order, as soon as it arrives, in the wire
// format: decoding it is left to recv ([Response.Message] decodes it as
// gRPC would have). The Response is reused for the next response: it is
// valid only until recv returns. For a
// unary or client-streaming method recv runs once, after the upstream has
// ended the call with OK, so a response followed by a failure is never
// seen. recv runs on the calling goroutine; while it blocks, no further
// response is read and gRPC flow control slows the upstream.
//
// Call returns nil when the call ended with OK. If recv returns an error,
// Call cancels the upstream call and returns that error unchanged. Any
// other failure is a gRPC status error: the upstream's status, or the
// status of a context error (CANCELLED, DEADLINE_EXCEEDED). Calls do not
// wait for a connection: an unreachable upstream fails at once with
// UNAVAILABLE. No goroutine of the call outlives Call.
func Call(ctx context.Context, cc grpc.ClientConnInterface, m *Method, req proto.Message, recv func(*Response) error) error {
	if got, want := req.ProtoReflect().Descriptor().FullName(), m.Desc.Input().FullName(); got != want {
		return status.Errorf(codes.Internal, "method %s: request is a %s, want %s", m.FullName, got, want)
	}
	return call(ctx, cc, m, req, recv)
}

// CallWire is [Call] with the request already in the protobuf wire format:
// req must encode a message of m's input type, which is not checked. It is
// sent as it is, without decoding; req must not change until CallWire
// returns.
func CallWire(ctx context.Context, cc grpc.ClientConnInterface, m *Method, req []byte, recv func(*Response) error) error {
	return call(ctx, cc, m, &wireRequest{b: req}, recv)
}

// call is Call for a request that rawCodec marshals: a proto.Message or a
// *wireRequest.
func call(ctx context.Context, cc grpc.ClientConnInterface, m *Method, req any, recv func(*Response) error) error {
	if m.Kind == Unary {
		// Invoke rather than a stream: interceptors and stats handlers
		// see a unary call, and it costs less.
		resp := newResponse(m.Desc.Output())
		defer resp.free()
		if err := cc.Invoke(ctx, m.Path, req, resp, rawCallOptions...); err != nil {
			return statusError(err)
		}
		return recv(resp)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	serverStreams := m.Desc.IsStreamingServer()
	desc := &grpc.StreamDesc{
		StreamName:    string(m.Desc.Name()),
		ServerStreams: serverStreams,
		ClientStreams: m.Desc.IsStreamingClient(),
	}
	stream, err := cc.NewStream(ctx, desc, m.Path, rawCallOptions...)
	if err != nil {
		return statusError(err)
	}
	// io.EOF from SendMsg means the upstream ended the call already; its
	// status comes from RecvMsg.
	if err := stream.SendMsg(req); err != nil && !errors.Is(err, io.EOF) {
		return statusError(err)
	}
	if err := stream.CloseSend(); err != nil {
		return statusError(err)
	}

	resp := newResponse(m.Desc.Output())
	defer resp.free()
	held := false // a single response, waiting for the final status
	for {
		err := stream.RecvMsg(resp)
		switch {
		case errors.Is(err, io.EOF):
			// RecvMsg leaves resp alone when it reports the end.
			if held {
				return recv(resp)
			}
			return nil
		case err != nil:
			return statusError(err)
		case !serverStreams && held:
			return status.Errorf(codes.Internal, "method %s: upstream sent more than one response", m.FullName)
		case !serverStreams:
			held = true
		default:
			if err := recv(resp); err != nil {
				cancel()
				return err
			}
		}
	}
}

// statusError returns err as a gRPC status error. gRPC reports failures as
// statuses already; context errors get their code, anything else UNKNOWN,
// as gRPC itself does.
func statusError(err error) error {
	if _, ok := status.FromError(err); ok {
		return err
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return status.FromContextError(err).Err()
	}
	return status.Convert(err).Err()
}
