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
	//
	// The records' bytes stay the caller's, valid only until Produce
	// returns (ProduceAsync: until done is called): a replay hands over
	// bytes that alias the disk spool's read buffers, which are read over
	// once the records are acknowledged. An implementation that keeps a
	// record copies it (event.Record.Clone).
	Produce(ctx context.Context, recs []event.Record) (errs []error)
}

// AsyncProducer is a Producer that can have several calls in flight while
// keeping order: ProduceAsync hands recs over before it returns, in slice
// order and after everything earlier calls handed over, and reports every
// outcome later through done (errs[i] for recs[i], called exactly once).
//
// Order across calls must hold under failure too: when a record fails,
// every record of the same topic and key handed over after it fails as
// well (or is never written), so no later record lands ahead of a failed
// one that will be sent again. franz-go's idempotent producer does this per
// partition: a failed record fails everything buffered behind it.
// KafkaBus implements it; ResilientBus uses it to keep several replay
// batches on the wire at once.
type AsyncProducer interface {
	Producer
	ProduceAsync(ctx context.Context, recs []event.Record, done func(errs []error))
}
