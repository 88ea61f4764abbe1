package bridge

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/retry"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/selector"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/wampbridge/grpcwamp/bridge/internal/upstream"
)

// RetryPolicy says which upstream calls the bridge retries when they fail
// before the client has seen anything of them. Only methods the operator
// declares safe to run twice (idempotent) are retried, and of those only
// unary and server-streaming ones: a server stream is retried while it has
// delivered no message, never after, so a client never sees a message
// twice. Client-streaming and bidi methods are never retried.
type RetryPolicy struct {
	// Methods are patterns of the methods safe to retry: globs on the
	// full name ("demo.v1.ClockService.Get*") or service full names.
	// Empty: no call is retried.
	Methods []string
	// Attempts is the most attempts of one call, the first included;
	// below 2, the default 3.
	Attempts uint
	// Codes are the status codes retried; empty: UNAVAILABLE only.
	Codes []codes.Code
	// Backoff is the wait before the second attempt; it doubles for each
	// further one, with 10% jitter, up to 5s. Zero: 100ms.
	Backoff time.Duration
}

// maxRetryBackoff bounds the wait between two attempts.
const maxRetryBackoff = 5 * time.Second

// RetryDialOptions returns the dial options of the upstream connection
// that retry calls as p says, with go-grpc-middleware's retry
// interceptors. Give them to grpc.NewClient before other interceptors, so
// that logging and metrics see each attempt. Every attempt carries the
// same metadata as the first: none of the interceptor's own. It returns
// nil when p names no method, and an error naming a malformed pattern.
func RetryDialOptions(p RetryPolicy) ([]grpc.DialOption, error) {
	if len(p.Methods) == 0 {
		return nil, nil
	}
	for _, m := range p.Methods {
		if err := upstream.ValidPattern(m); err != nil {
			return nil, fmt.Errorf("bridge: retry: %w", err)
		}
	}
	attempts := p.Attempts
	if attempts < 2 {
		attempts = 3
	}
	retryCodes := p.Codes
	if len(retryCodes) == 0 {
		retryCodes = []codes.Code{codes.Unavailable}
	}
	backoff := p.Backoff
	if backoff <= 0 {
		backoff = 100 * time.Millisecond
	}
	opts := []retry.CallOption{
		retry.WithMax(attempts),
		retry.WithBackoff(retry.BackoffExponentialWithJitterBounded(backoff, 0.1, maxRetryBackoff)),
		retry.WithRetriable(func(err error) bool {
			var after *afterMessageError
			return !errors.As(err, &after) && slices.Contains(retryCodes, status.Code(err))
		}),
	}
	safe := selector.MatchFunc(func(_ context.Context, c interceptors.CallMeta) bool {
		if c.Typ != interceptors.Unary && c.Typ != interceptors.ServerStream {
			return false
		}
		name := c.Service + "." + c.Method
		return slices.ContainsFunc(p.Methods, func(pattern string) bool { return upstream.MatchMethod(pattern, name) })
	})
	return []grpc.DialOption{
		grpc.WithChainUnaryInterceptor(
			selector.UnaryClientInterceptor(retry.UnaryClientInterceptor(opts...), safe),
			selector.UnaryClientInterceptor(unaryWithoutAttempt, safe),
		),
		// markAfterMessage runs beneath the retry interceptor: it marks the
		// failures of a stream that has delivered a message, which the
		// retry interceptor would otherwise retry like any other.
		grpc.WithChainStreamInterceptor(
			selector.StreamClientInterceptor(retry.StreamClientInterceptor(opts...), safe),
			selector.StreamClientInterceptor(markAfterMessage, safe),
			selector.StreamClientInterceptor(streamWithoutAttempt, safe),
		),
	}, nil
}

// withoutAttempt removes the metadata key that the retry interceptor puts
// on every attempt after the first (retry.AttemptMetadataKey,
// "x-retry-attempt"), which go-grpc-middleware v2 offers no option to turn
// off: the upstream receives the session's metadata and nothing else (see
// WithForwardHeaders), whichever attempt it serves.
func withoutAttempt(ctx context.Context) context.Context {
	if len(metadata.ValueFromOutgoingContext(ctx, retry.AttemptMetadataKey)) == 0 {
		return ctx
	}
	md, _ := metadata.FromOutgoingContext(ctx) // a copy
	delete(md, retry.AttemptMetadataKey)
	return metadata.NewOutgoingContext(ctx, md)
}

func unaryWithoutAttempt(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	return invoker(withoutAttempt(ctx), method, req, reply, cc, opts...)
}

func streamWithoutAttempt(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	return streamer(withoutAttempt(ctx), desc, cc, method, opts...)
}

// ParseRetryCode parses a status code name as gRPC spells it in upper case
// ("UNAVAILABLE", "RESOURCE_EXHAUSTED"), case-insensitively.
func ParseRetryCode(s string) (codes.Code, error) {
	var c codes.Code
	if err := c.UnmarshalJSON([]byte(`"` + strings.ToUpper(strings.TrimSpace(s)) + `"`)); err != nil {
		return 0, fmt.Errorf("unknown gRPC status code %q: want a name such as UNAVAILABLE or RESOURCE_EXHAUSTED", s)
	}
	return c, nil
}

// afterMessageError is the failure of a stream that delivered a message
// first. It is the same status as the failure (GRPCStatus), so nothing but
// the retry interceptor's retriable check tells them apart.
type afterMessageError struct{ err error }

func (e *afterMessageError) Error() string              { return e.err.Error() }
func (e *afterMessageError) GRPCStatus() *status.Status { return status.Convert(e.err) }
func (e *afterMessageError) Unwrap() error              { return e.err }

func markAfterMessage(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	s, err := streamer(ctx, desc, cc, method, opts...)
	if err != nil {
		return nil, err
	}
	return &markingStream{ClientStream: s}, nil
}

type markingStream struct {
	grpc.ClientStream
	received bool
}

func (s *markingStream) RecvMsg(m any) error {
	err := s.ClientStream.RecvMsg(m)
	switch {
	case err == nil:
		s.received = true
	case s.received && !errors.Is(err, io.EOF):
		return &afterMessageError{err}
	}
	return err
}
