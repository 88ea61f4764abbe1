package upstream_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"regexp"
	"slices"
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/wampbridge/grpcwamp/bridge/internal/upstream"
)

// TestExplain: the texts grpc-go's client makes itself get an explanation
// naming the method and what to change; the same words from the upstream
// (its own limits, a status with details, another code, a text that is not
// exactly grpc-go's) get none, so that they reach the client unchanged.
// The picker's failures to connect get the readiness refusal's words
// without grpc-go's text, which names addresses: withheld says so.
func TestExplain(t *testing.T) {
	t.Parallel()
	m := &upstream.Method{FullName: "x.v1.S.M", Path: "/x.v1.S/M"}
	const req = 300000        // the request's size in the cases below
	const recvLimit = 4194304 // the bridge's receive limit in the cases below
	withDetails := func(code codes.Code, msg string) error {
		st, err := status.New(code, msg).WithDetails(&errdetails.ErrorInfo{Reason: "R"})
		if err != nil {
			t.Fatal(err)
		}
		return st.Err()
	}
	unavailable := func(msg string) error { return status.Error(codes.Unavailable, msg) }
	// What the client reads when the picker found no connection.
	notReachable := []string{"x.v1.S.M", "the bridge's upstream is not reachable", "the call was not sent", "retry shortly"}
	// grpc-go's words in the picker's failures: the client reads none.
	withheldWords := []string{"10.0.0.5", "10.96.0.10", "127.0.0.1", "upstream.internal", "upstream.sock", "dial", "transport", "connection error", "resolver", "preface", "tls", "children", "pipe"}
	const refused = `connection error: desc = "transport: Error while dialing: dial tcp 10.0.0.5:50051: connect: connection refused"`
	for _, tc := range []struct {
		name     string
		err      error
		want     []string // nil: no explanation
		withheld bool
	}{
		// invoke refuses a request over the send limit before the call:
		// these words are the upstream's, of its response, whatever N.
		{"send limit text, a response the size of the request",
			status.Error(codes.ResourceExhausted, "trying to send message larger than max (300000 vs. 262144)"), nil, false},
		{"send limit text, a response of another size",
			status.Error(codes.ResourceExhausted, "trying to send message larger than max (300004 vs. 262144)"), nil, false},
		{"response over the receive limit",
			status.Error(codes.ResourceExhausted, "grpc: received message larger than max (5242880 vs. 4194304)"),
			[]string{"x.v1.S.M", "5242880 bytes", "4194304 bytes", "-upstream-max-recv-size", "grpc.MaxCallRecvMsgSize"}, false},
		{"the upstream's own receive limit: our request",
			status.Error(codes.ResourceExhausted, "grpc: received message larger than max (300000 vs. 65536)"), nil, false},
		{"the upstream's own receive limit: our request, compressed",
			status.Error(codes.ResourceExhausted, "grpc: received message larger than max (200000 vs. 65536)"), nil, false},
		{"receive limit text naming another limit than the bridge's",
			status.Error(codes.ResourceExhausted, "grpc: received message larger than max (9000000 vs. 8388608)"), nil, false},
		{"receive limit text with details",
			withDetails(codes.ResourceExhausted, "grpc: received message larger than max (5242880 vs. 4194304)"), nil, false},
		{"receive limit text under another code",
			status.Error(codes.Internal, "grpc: received message larger than max (5242880 vs. 4194304)"), nil, false},
		{"receive limit text with more after it",
			status.Error(codes.ResourceExhausted, "grpc: received message larger than max (5242880 vs. 4194304): quota"), nil, false},
		{"receive limit text with sizes that do not exceed",
			status.Error(codes.ResourceExhausted, "grpc: received message larger than max (10 vs. 20)"), nil, false},
		{"receive limit text with a sign",
			status.Error(codes.ResourceExhausted, "grpc: received message larger than max (+5242880 vs. 4194304)"), nil, false},
		{"after decompression: left alone",
			status.Error(codes.ResourceExhausted, "grpc: received message after decompression larger than max 4194304"), nil, false},
		{"connection lost",
			unavailable("error reading from server: EOF"),
			[]string{"x.v1.S.M", "connection to its upstream broke", "(gRPC: error reading from server: EOF)", "/readyz", "call again if that is safe"}, false},
		{"connection reset",
			unavailable("error reading from server: read tcp 127.0.0.1:5->127.0.0.1:6: read: connection reset by peer"),
			[]string{"x.v1.S.M", "connection to its upstream broke", "(gRPC: error reading from server: read: read: connection reset by peer)"}, false},
		{"connection reset, IPv6",
			unavailable("error reading from server: read tcp [::1]:41234->[::1]:50051: read: connection reset by peer"),
			[]string{"x.v1.S.M", "(gRPC: error reading from server: read: read: connection reset by peer)"}, false},
		{"connection lost after GOAWAY, with a network error",
			unavailable(`closing transport due to: connection error: desc = "error reading from server: read tcp 10.0.0.9:41234->10.0.0.5:50051: read: connection reset by peer", received prior goaway: code: NO_ERROR, debug data: "graceful_stop"`),
			[]string{"x.v1.S.M", "GOAWAY", `desc = "error reading from server: read: read: connection reset by peer"`}, false},
		{"connection closed after GOAWAY",
			unavailable(`closing transport due to: connection error: desc = "error reading from server: EOF", received prior goaway: code: NO_ERROR, debug data: "graceful_stop"`),
			[]string{"x.v1.S.M", "GOAWAY", "graceful_stop", "call again if that is safe"}, false},
		{"keep-alive",
			unavailable("keepalive ping failed to receive ACK within timeout"),
			[]string{"x.v1.S.M", "keep-alive ping", "-upstream-keepalive", "grpc.WithKeepaliveParams"}, false},
		// The picker's failures: pick_first (round_robin's children too)
		// quotes the last connection attempt's transport.ConnectionError.
		{"picker: connection refused", unavailable(refused), notReachable, true},
		{"picker: connect timeout",
			unavailable(`connection error: desc = "transport: Error while dialing: dial tcp 10.0.0.5:50051: i/o timeout"`), notReachable, true},
		{"picker: dial error with FailOnNonTempDialError",
			unavailable(`connection error: desc = "transport: error while dialing: dial tcp 10.0.0.5:50051: connect: connection refused"`), notReachable, true},
		{"picker: TLS handshake",
			unavailable(`connection error: desc = "transport: authentication handshake failed: tls: first record does not look like a TLS handshake"`), notReachable, true},
		{"picker: server preface",
			unavailable(`connection error: desc = "error reading server preface: read tcp 127.0.0.1:40000->10.0.0.5:50051: read: connection reset by peer"`), notReachable, true},
		{"picker: server preface EOF",
			unavailable(`connection error: desc = "error reading server preface: EOF"`), notReachable, true},
		{"picker: not HTTP/2",
			unavailable(`connection error: desc = "initial http2 frame from server is not a settings frame: *http2.DataFrame"`), notReachable, true},
		{"picker: preface not written",
			unavailable("write tcp 127.0.0.1:40000->10.0.0.5:50051: write: broken pipe"), notReachable, true},
		{"picker: preface not written, unix socket",
			unavailable("write unix @->/run/upstream.sock: write: broken pipe"), notReachable, true},
		{"picker: name resolution",
			unavailable("name resolver error: dns: A record lookup error: lookup upstream.internal on 10.96.0.10:53: no such host"), notReachable, true},
		{"picker: no addresses",
			unavailable("name resolver error: produced zero addresses"), notReachable, true},
		{"picker: round_robin without endpoints",
			unavailable("no children to pick from"), notReachable, true},
		// balancer/base's mergeErrors.
		{"picker: base balancer, connection", unavailable("last connection error: " + refused), notReachable, true},
		{"picker: base balancer, resolver", unavailable("last resolver error: produced zero addresses"), notReachable, true},
		{"picker: base balancer, both",
			unavailable("last connection error: " + refused + "; last resolver error: produced zero addresses"), notReachable, true},
		// The same words when they cannot be the picker's.
		{"connection error text with details", withDetails(codes.Unavailable, refused), nil, false},
		{"connection error text under another code", status.Error(codes.Internal, refused), nil, false},
		{"connection error text with more after it", unavailable(refused + ": and more"), nil, false},
		{"connection error text without its closing quote",
			unavailable(`connection error: desc = "transport: Error while dialing: dial tcp 10.0.0.5:50051: connect: connection refused`), nil, false},
		// A connection lost once the call was under way, as the stream's
		// status words it: the call may have run upstream, so it is not
		// told that it was not sent.
		{"connection error of a call under way",
			unavailable(`connection error: desc = "error reading from server: EOF"`), nil, false},
		{"connection closing", unavailable(`connection error: desc = "transport is closing"`), nil, false},
		{"a write error of another shape", unavailable("write failed: disk full"), nil, false},
		{"a write error without addresses", unavailable("write tcp: broken pipe"), nil, false},
		{"a write error of another network", unavailable("write udp 127.0.0.1:1->10.0.0.5:2: write: refused"), nil, false},
		{"resolver text with details", withDetails(codes.Unavailable, "name resolver error: produced zero addresses"), nil, false},
		{"the upstream's own UNAVAILABLE",
			unavailable("database down, retry later"), nil, false},
		{"connection text with details",
			withDetails(codes.Unavailable, "error reading from server: EOF"), nil, false},
		{"connection text under another code",
			status.Error(codes.Internal, "error reading from server: EOF"), nil, false},
		// status.FromError puts the wrapping text in the message.
		{"a wrapped status: no longer grpc-go's text",
			fmt.Errorf("call: %w", status.Error(codes.Unavailable, "error reading from server: EOF")), nil, false},
		{"a wrapped picker failure: no longer grpc-go's text",
			fmt.Errorf("call: %w", unavailable(refused)), nil, false},
		{"not a status", errors.New("error reading from server: EOF"), nil, false},
		{"a context error", context.Canceled, nil, false},
		{"nil", nil, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sized := false
			got, withheld := upstream.Explain(tc.err, m, recvLimit, func() int { sized = true; return req })
			// The request's size is worked out for the receive limit's
			// text only.
			if sized && !strings.HasPrefix(status.Convert(tc.err).Message(), "grpc: received message larger than max (") {
				t.Errorf("Explain asked for the request's size")
			}
			if withheld != tc.withheld {
				t.Errorf("Explain withheld = %v, want %v", withheld, tc.withheld)
			}
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
			// No explanation names an address of the upstream's
			// connection, quoted or not.
			if addr := regexp.MustCompile(`->|127\.0\.0\.1|10\.0\.0\.|\[::1\]`).FindString(got); addr != "" {
				t.Errorf("Explain = %q, names an address (%q)", got, addr)
			}
			if withheld {
				for _, w := range withheldWords {
					if strings.Contains(strings.ToLower(got), w) {
						t.Errorf("Explain = %q, contains grpc-go's %q", got, w)
					}
				}
			}
		})
	}
	// Without a known receive limit, no receive limit is the bridge's.
	t.Run("receive limit not known", func(t *testing.T) {
		t.Parallel()
		for _, msg := range []string{
			"grpc: received message larger than max (5242880 vs. 4194304)",
			"grpc: received message larger than max (5242880 vs. 0)",
		} {
			err := status.Error(codes.ResourceExhausted, msg)
			if got, _ := upstream.Explain(err, m, 0, func() int { return req }); got != "" {
				t.Errorf("Explain(%q) = %q, want none", msg, got)
			}
		}
	})
}

// TestExplainPickerFailures pins grpc-go's own texts: calls on a
// connection that cannot be made fail in the picker with UNAVAILABLE and a
// text naming the address, under pick_first and under round_robin (as
// cmd/bridge dials, bridge.RoundRobinServiceConfig), and Explain withholds
// it. The calls fail fast: each waits for the first connection attempt to
// fail, then gets the picker's error.
func TestExplainPickerFailures(t *testing.T) {
	t.Parallel()
	m := &upstream.Method{FullName: "x.v1.S.M", Path: "/x.v1.S/M"}
	// lis accepts connections and closes them at once: the attempt fails
	// writing the client preface or settings, or reading the server's.
	var lc net.ListenConfig
	lis, err := lc.Listen(t.Context(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	accepted := make(chan struct{})
	go func() {
		defer close(accepted)
		for {
			c, err := lis.Accept()
			if err != nil {
				return
			}
			_ = c.Close()
		}
	}()
	t.Cleanup(func() {
		_ = lis.Close()
		<-accepted
	})
	plain, _ := startServer(t, reflectionNone)
	tlsCreds := grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{ServerName: "upstream.test", MinVersion: tls.VersionTLS12}))
	const roundRobin = `{"loadBalancingConfig":[{"round_robin":{}}]}`
	for _, tc := range []struct {
		name   string
		addr   string
		opts   []grpc.DialOption
		prefix []string // grpc-go's text starts with one of these
	}{
		{"refused, pick_first", deadAddr(t), nil,
			[]string{`connection error: desc = "transport: Error while dialing: dial tcp 127.0.0.1:`}},
		{"refused, round_robin", deadAddr(t), []grpc.DialOption{grpc.WithDefaultServiceConfig(roundRobin)},
			[]string{`connection error: desc = "transport: Error while dialing: dial tcp 127.0.0.1:`}},
		{"TLS to a plaintext server", plain, []grpc.DialOption{tlsCreds, grpc.WithDefaultServiceConfig(roundRobin)},
			[]string{`connection error: desc = "transport: authentication handshake failed: `}},
		{"closed at once", lis.Addr().String(), []grpc.DialOption{grpc.WithDefaultServiceConfig(roundRobin)},
			[]string{`connection error: desc = "transport: `, `connection error: desc = "error reading server preface: `, "write tcp 127.0.0.1:"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cc := dial(t, tc.addr, tc.opts...)
			err := cc.Invoke(t.Context(), m.Path, &emptypb.Empty{}, &emptypb.Empty{})
			st := status.Convert(err)
			if st.Code() != codes.Unavailable || !slices.ContainsFunc(tc.prefix, func(p string) bool { return strings.HasPrefix(st.Message(), p) }) {
				t.Fatalf("call: %v, want UNAVAILABLE starting with one of %q", err, tc.prefix)
			}
			t.Logf("grpc-go: %s", st.Message())
			got, withheld := upstream.Explain(err, m, 0, func() int { t.Error("Explain asked for the request's size"); return 0 })
			if !withheld || !strings.Contains(got, "not reachable") {
				t.Fatalf("Explain(%v) = %q, %v; want the upstream not reachable, withheld", err, got, withheld)
			}
			if strings.Contains(got, "127.0.0.1") {
				t.Errorf("Explain(%v) = %q: names the address", err, got)
			}
		})
	}
}
