package feed

import (
	"context"
	"encoding/json"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/wampbridge/grpcwamp/bridge/internal/invoke"
)

// Caller runs a server-streaming procedure: args become the request and
// emit receives each response as JSON, in order, in a slice valid only
// until emit returns. It returns nil when the
// stream ended with OK, else the error that ended it, and must return soon
// after ctx ends. If emit returns an error the call stops with it.
type Caller interface {
	Call(ctx context.Context, procedure string, args []json.RawMessage, emit func(json.RawMessage) error) error
}

// Publisher delivers a fed event to this replica's subscribers of topic
// only (the broker's DeliverLocal): every replica runs its own feeds, so
// sending fed events to other replicas would deliver them twice.
type Publisher interface {
	DeliverLocal(topic string, event json.RawMessage)
}

// CoreCaller returns a [Caller] that resolves each procedure with c and
// refuses a method that does not stream its responses with status
// FAILED_PRECONDITION naming the procedure. Resolution errors (UNAVAILABLE
// while the upstream is not ready, UNIMPLEMENTED for an unknown name) are
// returned as they are: the [Manager] retries with backoff.
func CoreCaller(c *invoke.Core) Caller { return coreCaller{c} }

type coreCaller struct{ core *invoke.Core }

func (cc coreCaller) Call(ctx context.Context, procedure string, args []json.RawMessage, emit func(json.RawMessage) error) error {
	p, err := cc.core.Resolve(procedure)
	if err != nil {
		return err
	}
	if !p.Streaming() {
		return status.Errorf(codes.FailedPrecondition,
			"procedure %q (method %s) does not stream its responses: a topic can only be fed by a server-streaming method",
			procedure, p.Method())
	}
	return p.Call(ctx, args, emit)
}
