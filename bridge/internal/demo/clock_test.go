package demo

import (
	"context"
	"errors"
	"io"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/types/known/durationpb"

	demov1 "github.com/wampbridge/grpcwamp/gen/demo/v1"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var timeRE = regexp.MustCompile(`^\d{8} \d{2}:\d{2}:\d{2}$`)

// fixedNow is 2026-11-25 14:03:07.5 in a zone of its own, so the test does
// not depend on the machine's zone.
func fixedNow() time.Time {
	return time.Date(2026, 11, 25, 14, 3, 7, 500_000_000, time.FixedZone("test", 3600))
}

// newClient serves clock over bufconn and returns a client for it; both end
// with the test.
func newClient(t *testing.T, clock *Clock) demov1.ClockServiceClient {
	t.Helper()
	lis := bufconn.Listen(1 << 20)
	s := grpc.NewServer()
	demov1.RegisterClockServiceServer(s, clock)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = s.Serve(lis)
	}()
	cc, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	t.Cleanup(func() {
		_ = cc.Close()
		s.Stop()
		<-done
	})
	return demov1.NewClockServiceClient(cc)
}

func TestGetTime(t *testing.T) {
	t.Parallel()
	t.Run("injected clock", func(t *testing.T) {
		t.Parallel()
		c := newClient(t, &Clock{Now: fixedNow})
		resp, err := c.GetTime(t.Context(), &demov1.GetTimeRequest{})
		if err != nil {
			t.Fatalf("GetTime: %v", err)
		}
		if got, want := resp.GetTime(), "20261125 14:03:07"; got != want {
			t.Errorf("GetTime = %q, want %q", got, want)
		}
	})
	t.Run("local clock", func(t *testing.T) {
		t.Parallel()
		c := newClient(t, &Clock{})
		resp, err := c.GetTime(t.Context(), &demov1.GetTimeRequest{})
		if err != nil {
			t.Fatalf("GetTime: %v", err)
		}
		if !timeRE.MatchString(resp.GetTime()) {
			t.Fatalf("GetTime = %q, want yyyymmdd hh:nn:ss", resp.GetTime())
		}
		if _, err := time.ParseInLocation(TimeLayout, resp.GetTime(), time.Local); err != nil {
			t.Errorf("GetTime = %q does not parse with %q: %v", resp.GetTime(), TimeLayout, err)
		}
	})
}

// recvAll reads the stream to its end and returns the messages and the final
// status (nil for OK).
func recvAll(stream grpc.ServerStreamingClient[demov1.GetProgressiveTimeResponse]) ([]*demov1.GetProgressiveTimeResponse, error) {
	var msgs []*demov1.GetProgressiveTimeResponse
	for {
		m, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return msgs, nil
		}
		if err != nil {
			return msgs, err
		}
		msgs = append(msgs, m)
	}
}

func TestGetProgressiveTime(t *testing.T) {
	t.Parallel()
	c := newClient(t, &Clock{Now: fixedNow})
	for _, tc := range []struct {
		name  string
		count int32
	}{
		{"none", 0},
		{"one", 1},
		{"three", 3},
		{"twenty like the sgc example", 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			stream, err := c.GetProgressiveTime(t.Context(), &demov1.GetProgressiveTimeRequest{
				Count:    tc.count,
				Interval: durationpb.New(time.Millisecond),
			})
			if err != nil {
				t.Fatalf("GetProgressiveTime: %v", err)
			}
			msgs, err := recvAll(stream)
			if err != nil {
				t.Fatalf("stream ended with %v, want OK", err)
			}
			if len(msgs) != int(tc.count) {
				t.Fatalf("got %d messages, want %d", len(msgs), tc.count)
			}
			for i, m := range msgs {
				if m.GetIndex() != int32(i+1) {
					t.Errorf("message %d: index %d, want %d", i, m.GetIndex(), i+1)
				}
				if m.GetTime() != "20261125 14:03:07" {
					t.Errorf("message %d: time %q, want %q", i, m.GetTime(), "20261125 14:03:07")
				}
			}
		})
	}
}

func TestGetProgressiveTimeInvalid(t *testing.T) {
	t.Parallel()
	c := newClient(t, &Clock{})
	for _, tc := range []struct {
		name string
		req  *demov1.GetProgressiveTimeRequest
		want []string // substrings of the status message
	}{
		{"negative count", &demov1.GetProgressiveTimeRequest{Count: -1}, []string{`"count"`, "-1"}},
		{"count over the limit", &demov1.GetProgressiveTimeRequest{Count: MaxCount + 1}, []string{`"count"`, "100000"}},
		{"negative interval", &demov1.GetProgressiveTimeRequest{Count: 1, Interval: durationpb.New(-time.Second)}, []string{`"interval"`, "negative"}},
		{"malformed interval", &demov1.GetProgressiveTimeRequest{Count: 1, Interval: &durationpb.Duration{Seconds: 1, Nanos: -1}}, []string{`"interval"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			stream, err := c.GetProgressiveTime(t.Context(), tc.req)
			if err != nil {
				t.Fatalf("GetProgressiveTime: %v", err)
			}
			msgs, err := recvAll(stream)
			if len(msgs) != 0 {
				t.Errorf("got %d messages before the error, want none", len(msgs))
			}
			st := status.Convert(err)
			if st.Code() != codes.InvalidArgument {
				t.Fatalf("status = %v, want INVALID_ARGUMENT", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(st.Message(), w) {
					t.Errorf("message %q does not contain %q", st.Message(), w)
				}
			}
		})
	}
}

func TestIntervalOf(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		iv   *durationpb.Duration
		want time.Duration
	}{
		{"unset", nil, DefaultInterval},
		{"zero", durationpb.New(0), DefaultInterval},
		{"set", durationpb.New(2500 * time.Millisecond), 2500 * time.Millisecond},
	} {
		got, err := intervalOf(&demov1.GetProgressiveTimeRequest{Interval: tc.iv})
		if err != nil || got != tc.want {
			t.Errorf("%s: intervalOf = %v, %v; want %v, nil", tc.name, got, err, tc.want)
		}
	}
}

// TestGetProgressiveTimeCancel cancels the call after the first message,
// which must arrive at once although the interval is an hour.
func TestGetProgressiveTimeCancel(t *testing.T) {
	t.Parallel()
	c := newClient(t, &Clock{})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	stream, err := c.GetProgressiveTime(ctx, &demov1.GetProgressiveTimeRequest{Count: 5, Interval: durationpb.New(time.Hour)})
	if err != nil {
		t.Fatalf("GetProgressiveTime: %v", err)
	}
	m, err := stream.Recv()
	if err != nil {
		t.Fatalf("first Recv: %v", err)
	}
	if m.GetIndex() != 1 {
		t.Fatalf("first index = %d, want 1", m.GetIndex())
	}
	cancel()
	if _, err := stream.Recv(); status.Code(err) != codes.Canceled {
		t.Fatalf("Recv after cancel = %v, want CANCELLED", err)
	}
}

// fakeStream records what the handler sends and runs onSend after each.
type fakeStream struct {
	grpc.ServerStream // nil: only Context and Send are used
	ctx               context.Context
	sent              []*demov1.GetProgressiveTimeResponse
	onSend            func()
}

func (f *fakeStream) Context() context.Context { return f.ctx }

func (f *fakeStream) Send(m *demov1.GetProgressiveTimeResponse) error {
	f.sent = append(f.sent, m)
	if f.onSend != nil {
		f.onSend()
	}
	return nil
}

func (f *fakeStream) SetHeader(metadata.MD) error  { return nil }
func (f *fakeStream) SendHeader(metadata.MD) error { return nil }
func (f *fakeStream) SetTrailer(metadata.MD)       {}

// TestGetProgressiveTimeContextStatus checks the handler's own return value:
// the status of its context, whether cancelled or past its deadline.
func TestGetProgressiveTimeContextStatus(t *testing.T) {
	t.Parallel()
	t.Run("cancelled after the first message", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		// The interval is unset (1 s), so the ticker cannot fire before the
		// cancellation that the first Send makes.
		f := &fakeStream{ctx: ctx, onSend: cancel}
		err := (&Clock{}).GetProgressiveTime(&demov1.GetProgressiveTimeRequest{Count: 3}, f)
		if status.Code(err) != codes.Canceled {
			t.Fatalf("GetProgressiveTime = %v, want CANCELLED", err)
		}
		if len(f.sent) != 1 {
			t.Errorf("sent %d messages, want 1", len(f.sent))
		}
	})
	t.Run("deadline passed", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithDeadline(t.Context(), time.Unix(0, 0))
		defer cancel()
		f := &fakeStream{ctx: ctx}
		err := (&Clock{}).GetProgressiveTime(&demov1.GetProgressiveTimeRequest{Count: 3}, f)
		if status.Code(err) != codes.DeadlineExceeded {
			t.Fatalf("GetProgressiveTime = %v, want DEADLINE_EXCEEDED", err)
		}
		if len(f.sent) != 0 {
			t.Errorf("sent %d messages, want none", len(f.sent))
		}
	})
}
