package contracts

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/huleedu/huleedu/errctx"
	"github.com/huleedu/huleedu/event"
	"github.com/huleedu/huleedu/kafkabus"
)

// ErrInvalidMessage is wrapped by Publish errors for a Message that cannot
// be published: no event type, a type without a topic, no identity, data
// that is not JSON. These are programming errors; a retry cannot fix them.
var ErrInvalidMessage = errors.New("contracts: invalid message")

// PublishErrorType is the errctx type of the errors Publish returns when
// the bus did not accept an event.
const PublishErrorType = "kafka_publish_failed"

// IsPublishError reports whether err (or an error it wraps) is a Publish
// error for an event the bus did not accept: the caller should answer
// "retry later" (HTTP 503) or fail the handler so the consumer retries.
func IsPublishError(err error) bool {
	e, ok := errctx.As(err)
	for ok {
		if e.Type == PublishErrorType {
			return true
		}
		e, ok = errctx.As(e.Cause)
	}
	return false
}

// Message is one event for Publisher.Publish.
type Message struct {
	// EventType is the envelope's event_type; its topic comes from
	// TopicFor unless Topic is set.
	EventType string
	// Topic, when set, is the topic to publish to instead of
	// TopicFor(EventType): for events that go where the requester asked
	// (a callback topic). The event type must still be known to TopicFor.
	Topic string
	// Key is the partition key: the batch id for batch and essay events,
	// so one batch's events stay in order within a topic.
	Key string
	// Data is the payload, one of this package's types.
	Data any
	// Identity are the business facts that make this event what it is (a
	// batch id and a phase, a batch id and an essay id). The event id is
	// DeterministicID(EventType, Identity...): the same facts give the same
	// id on every retry. Required.
	Identity []string
	// CorrelationID ties the event to the request or event that caused it.
	// Empty starts a new correlation.
	CorrelationID string
}

// Publisher builds envelopes with deterministic event ids and publishes
// them through a kafkabus.Bus. It is safe for concurrent use.
type Publisher struct {
	bus    kafkabus.Bus
	source string
	now    func() time.Time
}

// NewPublisher returns a Publisher that publishes through bus as source
// (the envelope's source_service). now stamps the envelopes; nil means
// time.Now.
func NewPublisher(bus kafkabus.Bus, source string, now func() time.Time) (*Publisher, error) {
	if bus == nil {
		return nil, fmt.Errorf("contracts: NewPublisher: bus is nil")
	}
	if source == "" {
		return nil, fmt.Errorf("contracts: NewPublisher: source service name is empty")
	}
	if now == nil {
		now = time.Now
	}
	return &Publisher{bus: bus, source: source, now: now}, nil
}

// EventID returns the event id Publish gives m: the deterministic id of its
// type and identity. Tests and handlers use it to predict ids.
func EventID(eventType string, identity ...string) string {
	return eventID(eventType, identity).String()
}

func eventID(eventType string, identity []string) uuid.UUID {
	return event.DeterministicID(event.Namespace, append([]string{eventType}, identity...)...)
}

// Publish publishes m. nil means the bus accepted it (see the bus's
// delivery contract). An error means it was not accepted and the caller
// should fail so that its own trigger (an event, a request) is retried; a
// retry publishes the same event id. Errors from the bus are wrapped in an
// *errctx.Error of type PublishErrorType (see IsPublishError) that keeps
// them visible to errors.Is; invalid messages wrap ErrInvalidMessage.
func (p *Publisher) Publish(ctx context.Context, m Message) error {
	if m.EventType == "" {
		return fmt.Errorf("%w: event type is empty", ErrInvalidMessage)
	}
	if len(m.Identity) == 0 {
		return fmt.Errorf("%w: %s: identity is empty; an event without identity gets a new id on every retry", ErrInvalidMessage, m.EventType)
	}
	topic, err := TopicFor(m.EventType)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidMessage, err)
	}
	if m.Topic != "" {
		topic = m.Topic
	}
	id := eventID(m.EventType, m.Identity)
	opts := []event.Option{event.WithEventID(id), event.WithTimestamp(p.now())}
	if m.CorrelationID != "" {
		opts = append(opts, event.WithCorrelationID(m.CorrelationID))
	}
	env, err := event.NewEnvelope(m.EventType, p.source, m.Data, opts...)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidMessage, err)
	}
	if err := p.bus.Publish(ctx, topic, m.Key, env); err != nil {
		return errctx.Wrap(ctx, err, PublishErrorType,
			fmt.Sprintf("publish %s to %s", m.EventType, topic),
			errctx.ForService(p.source),
			errctx.WithCorrelationID(env.CorrelationID),
			errctx.WithExtra("topic", topic),
			errctx.WithExtra("key", m.Key),
			errctx.WithExtra("event_id", id.String()))
	}
	return nil
}

// Source returns the service name the Publisher stamps on envelopes.
func (p *Publisher) Source() string { return p.source }
