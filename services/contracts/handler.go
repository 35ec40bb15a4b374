package contracts

import (
	"context"
	"fmt"
	"net/http"

	"github.com/huleedu/huleedu/event"
)

// HandlerFunc handles one consumed event. The consumer framework
// (servicekit) calls it once per event_id and retries it with backoff when
// it returns an error, so a handler must be safe to run again after a
// failure: it publishes only with deterministic ids (Publisher) and keeps
// its side effects idempotent.
//
// Return an error for conditions a retry can fix (a dependency down, a
// publish not accepted); return nil after logging for events that no retry
// can make valid, or make them fail with an error wrapping
// event.ErrInvalidEnvelope (InvalidEvent) so the framework can dead-letter
// them at once.
type HandlerFunc func(ctx context.Context, env *event.Envelope) error

// InvalidEvent returns a handler's error for an event no retry can make
// valid (a required field is empty): it wraps event.ErrInvalidEnvelope, so
// the consumer dead-letters the event at once, and names the event's type
// and id before the problem.
func InvalidEvent(env *event.Envelope, format string, args ...any) error {
	return fmt.Errorf("%w: %s %s: %s", event.ErrInvalidEnvelope, env.EventType, env.EventID, fmt.Sprintf(format, args...))
}

// Service is the shape every HuleEdu service has, so the wiring
// (servicekit) treats them alike: Routes registers its REST API on the
// mux, Handlers returns its event handlers by topic (empty for services
// that consume nothing).
type Service interface {
	Routes(mux *http.ServeMux)
	Handlers() map[string]HandlerFunc
}
