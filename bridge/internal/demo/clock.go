// Package demo implements demo.v1.ClockService, the clock the bridge serves
// when it starts with no upstream. It follows the sgcWebSockets
// progressive-results example: GetTime tells the server time once and
// GetProgressiveTime tells it count times, one message per interval.
package demo

import (
	"context"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	demov1 "github.com/wampbridge/grpcwamp/gen/demo/v1"
)

const (
	// TimeLayout is the time format of every response, yyyymmdd hh:nn:ss in
	// the Delphi notation of the sgcWebSockets example ("20261125 14:03:07").
	TimeLayout = "20060102 15:04:05"

	// MaxCount is the largest count GetProgressiveTime accepts. A larger
	// count is refused with INVALID_ARGUMENT rather than silently clamped,
	// so the caller learns why it got fewer messages than it asked for.
	MaxCount = 100_000

	// DefaultInterval is the pause between GetProgressiveTime messages when
	// the request leaves interval unset or zero.
	DefaultInterval = time.Second
)

// Clock implements [demov1.ClockServiceServer]. The zero value tells the
// local time; it is safe for concurrent use.
type Clock struct {
	demov1.UnimplementedClockServiceServer

	// Now, when set, replaces time.Now (for tests). It must be safe for
	// concurrent use.
	Now func() time.Time
}

var _ demov1.ClockServiceServer = (*Clock)(nil)

// Register registers a [Clock] telling the local time on s.
func Register(s grpc.ServiceRegistrar) {
	demov1.RegisterClockServiceServer(s, &Clock{})
}

func (c *Clock) now() string {
	if c.Now != nil {
		return c.Now().Format(TimeLayout)
	}
	return time.Now().Format(TimeLayout)
}

// GetTime returns the server time once.
func (c *Clock) GetTime(context.Context, *demov1.GetTimeRequest) (*demov1.GetTimeResponse, error) {
	return &demov1.GetTimeResponse{Time: c.now()}, nil
}

// GetProgressiveTime sends req.count messages with index 1..count: the
// first at once, then one per interval. It returns the status of the
// stream's context when the caller cancels or the deadline passes.
func (c *Clock) GetProgressiveTime(req *demov1.GetProgressiveTimeRequest, stream grpc.ServerStreamingServer[demov1.GetProgressiveTimeResponse]) error {
	count := req.GetCount()
	switch {
	case count < 0:
		return status.Errorf(codes.InvalidArgument, "field \"count\": must not be negative, got %d", count)
	case count > MaxCount:
		return status.Errorf(codes.InvalidArgument, "field \"count\": %d exceeds the maximum of %d", count, MaxCount)
	}
	interval, err := intervalOf(req)
	if err != nil {
		return err
	}
	if count == 0 {
		return nil
	}

	ctx := stream.Context()
	send := func(i int32) error {
		if err := ctx.Err(); err != nil {
			return status.FromContextError(err).Err()
		}
		return stream.Send(&demov1.GetProgressiveTimeResponse{Time: c.now(), Index: i})
	}
	if err := send(1); err != nil {
		return err
	}
	if count == 1 {
		return nil
	}
	// A Ticker rather than a sleep per message: the schedule does not drift
	// by the time each Send takes, and cancellation is seen at once.
	t := time.NewTicker(interval)
	defer t.Stop()
	for i := int32(2); i <= count; i++ {
		select {
		case <-ctx.Done():
			return status.FromContextError(ctx.Err()).Err()
		case <-t.C:
		}
		if err := send(i); err != nil {
			return err
		}
	}
	return nil
}

// intervalOf returns the request's interval, [DefaultInterval] when unset or
// zero, or an INVALID_ARGUMENT status naming the field.
func intervalOf(req *demov1.GetProgressiveTimeRequest) (time.Duration, error) {
	iv := req.GetInterval()
	if iv == nil {
		return DefaultInterval, nil
	}
	if err := iv.CheckValid(); err != nil {
		return 0, status.Errorf(codes.InvalidArgument, "field \"interval\": %v", err)
	}
	d := iv.AsDuration()
	switch {
	case d < 0:
		return 0, status.Errorf(codes.InvalidArgument, "field \"interval\": must not be negative, got %v", d)
	case d == 0:
		return DefaultInterval, nil
	}
	return d, nil
}
