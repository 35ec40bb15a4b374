package kafkabus

import (
	"context"

	"github.com/huleedu/huleedu/event"
)

// Bus publishes event envelopes. Both KafkaBus and ResilientBus implement it;
// services depend on this interface only.
type Bus interface {
	// Publish sends env to topic with the partition key. nil means
	// accepted (see the delivery contract of the implementation); an error
	// means not accepted, and the caller still owns the message.
	Publish(ctx context.Context, topic, key string, env *event.Envelope) error
	// Close stops accepting, flushes what is in flight and releases
	// resources, giving up when ctx ends.
	Close(ctx context.Context) error
}

// Producer sends already-encoded records. KafkaBus implements it; ResilientBus
// sends through it, both for new records and for replay, so a record is
// encoded exactly once.
type Producer interface {
	// Produce sends recs and waits for every outcome: errs[i] is the result
	// of recs[i] (nil = acknowledged with acks=all). Records with the same
	// topic and key are produced in slice order. errs has len(recs) entries.
	// Errors are classified: see IsRetriable and the Err* values.
	Produce(ctx context.Context, recs []event.Record) (errs []error)
}
