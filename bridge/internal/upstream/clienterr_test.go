package upstream_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/wampbridge/grpcwamp/bridge/internal/upstream"
)

// TestExplain: the texts grpc-go's client makes itself get an explanation
// naming the method and what to change; the same words from the upstream
// (its own limits, a status with details, another code, a text that is not
// exactly grpc-go's) get none, so that they reach the client unchanged.
func TestExplain(t *testing.T) {
	t.Parallel()
	m := &upstream.Method{FullName: "x.v1.S.M", Path: "/x.v1.S/M"}
	const req = 300000 // the request's size in the cases below
	withDetails := func(code codes.Code, msg string) error {
		st, err := status.New(code, msg).WithDetails(&errdetails.ErrorInfo{Reason: "R"})
		if err != nil {
			t.Fatal(err)
		}
		return st.Err()
	}
	for _, tc := range []struct {
		name string
		err  error
		want []string // nil: no explanation
	}{
		{"request over the send limit",
			status.Error(codes.ResourceExhausted, "trying to send message larger than max (300000 vs. 262144)"),
			[]string{"x.v1.S.M", "300000 bytes", "262144 bytes", "not sent", "-upstream-max-send-size", "grpc.MaxCallSendMsgSize"}},
		{"the upstream's own send limit: its response, not our request",
			status.Error(codes.ResourceExhausted, "trying to send message larger than max (300004 vs. 262144)"), nil},
		{"response over the receive limit",
			status.Error(codes.ResourceExhausted, "grpc: received message larger than max (5242880 vs. 4194304)"),
			[]string{"x.v1.S.M", "5242880 bytes", "4194304 bytes", "-upstream-max-recv-size", "grpc.MaxCallRecvMsgSize"}},
		{"the upstream's own receive limit: our request",
			status.Error(codes.ResourceExhausted, "grpc: received message larger than max (300000 vs. 65536)"), nil},
		{"receive limit text with details",
			withDetails(codes.ResourceExhausted, "grpc: received message larger than max (5242880 vs. 4194304)"), nil},
		{"receive limit text under another code",
			status.Error(codes.Internal, "grpc: received message larger than max (5242880 vs. 4194304)"), nil},
		{"receive limit text with more after it",
			status.Error(codes.ResourceExhausted, "grpc: received message larger than max (5242880 vs. 4194304): quota"), nil},
		{"receive limit text with sizes that do not exceed",
			status.Error(codes.ResourceExhausted, "grpc: received message larger than max (10 vs. 20)"), nil},
		{"receive limit text with a sign",
			status.Error(codes.ResourceExhausted, "grpc: received message larger than max (+5242880 vs. 4194304)"), nil},
		{"after decompression: left alone",
			status.Error(codes.ResourceExhausted, "grpc: received message after decompression larger than max 4194304"), nil},
		{"connection lost",
			status.Error(codes.Unavailable, "error reading from server: EOF"),
			[]string{"x.v1.S.M", "connection to its upstream broke", "(gRPC: error reading from server: EOF)", "/readyz", "call again if that is safe"}},
		{"connection reset",
			status.Error(codes.Unavailable, "error reading from server: read tcp 127.0.0.1:5->127.0.0.1:6: read: connection reset by peer"),
			[]string{"x.v1.S.M", "connection to its upstream broke", "connection reset by peer"}},
		{"connection closed after GOAWAY",
			status.Error(codes.Unavailable, `closing transport due to: connection error: desc = "error reading from server: EOF", received prior goaway: code: NO_ERROR, debug data: "graceful_stop"`),
			[]string{"x.v1.S.M", "GOAWAY", "graceful_stop", "call again if that is safe"}},
		{"keep-alive",
			status.Error(codes.Unavailable, "keepalive ping failed to receive ACK within timeout"),
			[]string{"x.v1.S.M", "keep-alive ping", "-upstream-keepalive", "grpc.WithKeepaliveParams"}},
		{"the upstream's own UNAVAILABLE",
			status.Error(codes.Unavailable, "database down, retry later"), nil},
		{"connection text with details",
			withDetails(codes.Unavailable, "error reading from server: EOF"), nil},
		{"connection text under another code",
			status.Error(codes.Internal, "error reading from server: EOF"), nil},
		// status.FromError puts the wrapping text in the message.
		{"a wrapped status: no longer grpc-go's text",
			fmt.Errorf("call: %w", status.Error(codes.Unavailable, "error reading from server: EOF")), nil},
		{"not a status", errors.New("error reading from server: EOF"), nil},
		{"a context error", context.Canceled, nil},
		{"nil", nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := upstream.Explain(tc.err, m, req)
			if tc.want == nil {
				if got != "" {
					t.Fatalf("Explain = %q, want none", got)
				}
				return
			}
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("Explain = %q, does not contain %q", got, w)
				}
			}
		})
	}
}
