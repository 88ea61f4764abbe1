package upstream

import (
	"context"
	"fmt"
	"time"

	"github.com/jhump/protoreflect/v2/grpcreflect"
	rpccode "google.golang.org/genproto/googleapis/rpc/code"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/known/emptypb"
)

// reflectionHint tells the user what to do when server reflection cannot
// describe the upstream.
const reflectionHint = "enable server reflection on the upstream (google.golang.org/grpc/reflection) or pass -descriptor-set"

// sizeHint tells the user what to do when an answer of server reflection
// is larger than the connection lets the bridge receive.
const sizeHint = "the upstream's schema is larger than a gRPC message may be here: raise -upstream-max-recv-size (grpc.MaxCallRecvMsgSize of an embedded Handler's connection) or pass -descriptor-set"

// skipped are the services the bridge never exposes: the upstream's own
// plumbing.
var skipped = map[protoreflect.FullName]bool{
	"grpc.reflection.v1.ServerReflection":      true,
	"grpc.reflection.v1alpha.ServerReflection": true,
	"grpc.health.v1.Health":                    true,
}

type reflectionSource struct {
	cc     grpc.ClientConnInterface
	target string
}

// NewReflectionSource returns a Source asking the upstream behind cc for its
// services with gRPC server reflection, v1 first and v1alpha when the
// server lacks v1. Each Load opens one reflection stream (two when v1 is
// missing) and ends it before returning: it half-closes the stream and
// reads the server's status, so that client interceptors see the stream
// finish.
func NewReflectionSource(cc grpc.ClientConnInterface) Source {
	s := &reflectionSource{cc: cc}
	if t, ok := cc.(interface{ Target() string }); ok {
		s.target = t.Target()
	}
	return s
}

func (s *reflectionSource) String() string {
	if s.target == "" {
		return "server reflection"
	}
	return "server reflection of " + s.target
}

func (s *reflectionSource) name() string {
	if s.target == "" {
		return "upstream"
	}
	return "upstream " + s.target
}

// fail wraps a failure of the reflection stream. The gRPC status stays
// reachable with status.Code, so a server that is down still reads as
// UNAVAILABLE.
func (s *reflectionSource) fail(err error) error {
	err = statusText{err}
	switch status.Code(err) {
	case codes.Unavailable, codes.Canceled, codes.DeadlineExceeded:
		// The server could not be asked; reflection is not the problem.
		return fmt.Errorf("%s: server reflection: %w", s.name(), err)
	case codes.ResourceExhausted:
		// Reflection works; its answer is over a gRPC size limit.
		return fmt.Errorf("%s: server reflection: %w: %s", s.name(), err, sizeHint)
	}
	return fmt.Errorf("%s: server reflection: %w: %s", s.name(), err, reflectionHint)
}

// statusText wraps a gRPC status error so that it reads "UNAVAILABLE:
// message" in the log and /readyz rather than gRPC's "rpc error: code =
// Unavailable desc = message"; status.Code still finds the code.
type statusText struct{ err error }

func (e statusText) Error() string {
	st, ok := status.FromError(e.err)
	if !ok {
		return e.err.Error()
	}
	return rpccode.Code(st.Code()).String() + ": " + st.Message()
}

func (e statusText) Unwrap() error { return e.err }

// Load lists the upstream's services and fetches the files declaring them
// with their dependencies.
func (s *reflectionSource) Load(ctx context.Context) (*Catalog, error) {
	// Servers whose reflection leaves out files every binary knows (the
	// well-known types) are completed from the global registry.
	client := grpcreflect.NewClientAuto(ctx, endingConn{s.cc},
		grpcreflect.WithFallbackResolvers(protoregistry.GlobalFiles, protoregistry.GlobalTypes))
	defer client.Reset()

	names, err := client.ListServices()
	if err != nil {
		return nil, s.fail(err)
	}
	files := new(protoregistry.Files)
	var services []protoreflect.ServiceDescriptor
	for _, name := range names {
		if skipped[name] {
			continue
		}
		fd, err := client.FileContainingSymbol(name)
		if err != nil {
			return nil, s.fail(fmt.Errorf("service %s: %w", name, err))
		}
		sd := fd.Services().ByName(name.Name())
		if sd == nil || sd.FullName() != name {
			return nil, s.fail(fmt.Errorf("service %s: file %q does not declare it", name, fd.Path()))
		}
		if err := registerFile(files, fd); err != nil {
			return nil, fmt.Errorf("%s: service %s: %w", s.name(), name, err)
		}
		services = append(services, sd)
	}
	if len(services) == 0 {
		return nil, fmt.Errorf("%s: server reflection lists no services besides reflection and health: register the services before the server starts serving, or check that -upstream names the right server", s.name())
	}
	c, err := NewCatalog(files, services)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.name(), err)
	}
	return c, nil
}

// endTimeout bounds how long closing a reflection stream waits for the
// server to end it; a server that does not is cancelled then.
const endTimeout = 5 * time.Second

// endingConn opens streams that end properly when closed. grpcreflect's
// Client closes a stream by CloseSend and then cancelling its context
// without reading the end of the stream, but client interceptors
// (go-grpc-middleware's metrics and logging) see a stream's end only in
// RecvMsg returning io.EOF or an error: a stream merely cancelled would
// count as started and never as handled, and its "finished call" would
// never be logged.
type endingConn struct{ grpc.ClientConnInterface }

func (c endingConn) NewStream(ctx context.Context, desc *grpc.StreamDesc, method string, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	ctx, cancel := context.WithCancel(ctx)
	cs, err := c.ClientConnInterface.NewStream(ctx, desc, method, opts...)
	if err != nil {
		cancel()
		return nil, err
	}
	return &endingStream{ClientStream: cs, cancel: cancel}, nil
}

// endingStream is a stream of endingConn. Its CloseSend half-closes the
// stream and reads until the server's status, so that the interceptors
// below report the stream's end with its code (the reflection server
// answers the half-close with OK); a server that has not ended the stream
// within endTimeout is cancelled, which ends it as CANCELED. grpcreflect
// calls its methods under one lock, so ended needs none of its own.
type endingStream struct {
	grpc.ClientStream
	cancel context.CancelFunc
	ended  bool // RecvMsg returned an error: the interceptors saw the end
}

func (s *endingStream) RecvMsg(m any) error {
	err := s.ClientStream.RecvMsg(m)
	if err != nil {
		s.ended = true
	}
	return err
}

func (s *endingStream) CloseSend() error {
	defer s.cancel()
	err := s.ClientStream.CloseSend()
	if s.ended {
		return err
	}
	t := time.AfterFunc(endTimeout, s.cancel)
	defer t.Stop()
	// Whatever the server still sends is dropped; normally nothing comes
	// before the status, since grpcreflect reads each answer before it
	// sends the next request.
	var discard emptypb.Empty
	for s.RecvMsg(&discard) == nil {
	}
	return err
}

// registerFile registers fd and, first, its transitive imports in files,
// each once.
func registerFile(files *protoregistry.Files, fd protoreflect.FileDescriptor) error {
	if _, err := files.FindFileByPath(fd.Path()); err == nil {
		return nil
	}
	imports := fd.Imports()
	for i := range imports.Len() {
		imp := imports.Get(i)
		if imp.IsPlaceholder() {
			continue
		}
		if err := registerFile(files, imp.FileDescriptor); err != nil {
			return err
		}
	}
	if err := files.RegisterFile(fd); err != nil {
		return fmt.Errorf("file %q: %w", fd.Path(), err)
	}
	return nil
}
