package kafkaconsumer

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"

	"github.com/huleedu/huleedu/event"
)

// Handler handles one event. nil means handled: the event is marked
// processed and its offset committed. An error is retried with backoff up
// to MaxAttempts, then the event goes to the dead-letter topic (without a
// dead-letter publisher, it stops the consumer). An error wrapping
// ErrPermanent or event.ErrInvalidEnvelope (data that does not decode) is
// not retried, and a panic counts as permanent too. The ctx carries the
// event's correlation id (errctx.CorrelationID), the service name, the
// producer's trace when it sent a traceparent header, and whatever the
// IdempotencyStore adds (a database store's transaction).
type Handler func(ctx context.Context, env *event.Envelope) error

// ErrPermanent marks a handler error that no retry can fix (a payload that
// does not decode, a reference to something that does not exist): the
// event goes to the dead-letter topic at once. Wrap it with Permanent.
var ErrPermanent = errors.New("kafkaconsumer: permanent failure")

// Permanent wraps err so the consumer dead-letters the event without
// retrying. Permanent(nil) is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%w: %w", ErrPermanent, err)
}

// isPermanent reports whether no retry can fix err: it wraps ErrPermanent,
// or event.ErrInvalidEnvelope (a payload that does not decode).
func isPermanent(err error) bool {
	return errors.Is(err, ErrPermanent) || errors.Is(err, event.ErrInvalidEnvelope)
}

// call runs h, turning a panic into a permanent error so one bad event
// cannot crash the service.
func call(ctx context.Context, h Handler, env *event.Envelope) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = Permanent(fmt.Errorf("handler panicked: %v\n%s", p, debug.Stack()))
		}
	}()
	return h(ctx, env)
}
