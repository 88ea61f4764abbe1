package broker

import (
	"errors"
	"sync/atomic"
)

// ErrBackendClosed is returned by the in-process backend's Publish after
// Close.
var ErrBackendClosed = errors.New("broker: backend closed")

// NewLocal returns the in-process [Backend] of a single replica: Publish
// delivers the envelope synchronously, in the publisher's goroutine, which
// is fine because [Subscriber.Deliver] never blocks. Interest does nothing:
// every envelope is for this replica.
func NewLocal() Backend { return new(local) }

type local struct {
	deliver func(Envelope) // set by Start, before any other method
	closed  atomic.Bool
}

func (l *local) Start(deliver func(Envelope)) error {
	if l.deliver != nil {
		return errors.New("broker: local backend started twice")
	}
	l.deliver = deliver
	return nil
}

func (l *local) Publish(env Envelope) error {
	if l.closed.Load() {
		return ErrBackendClosed
	}
	l.deliver(env)
	return nil
}

func (l *local) Interest(string, bool) {}

func (l *local) Close() error {
	l.closed.Store(true)
	return nil
}
