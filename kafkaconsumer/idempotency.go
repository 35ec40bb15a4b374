package kafkaconsumer

import (
	"context"
	"errors"
)

// IdempotencyStore remembers which events were processed, so a consumer
// handles each event_id once although Kafka delivers at least once (the
// original platform's @idempotent_consumer). The consumer calls Acquire
// before the handler, then Complete after it succeeded or Release after it
// failed.
//
// Implementations must make concurrent duplicates safe: while one caller
// holds an id, another Acquire of it waits until Complete (then it reports
// seen) or Release (then it acquires), or until its ctx ends.
type IdempotencyStore interface {
	// Acquire reserves id for processing. seen=true means id was already
	// processed: skip the event. With seen=false the caller holds id and
	// must call Complete or Release.
	Acquire(ctx context.Context, id string) (seen bool, err error)
	// Complete marks the held id as processed.
	Complete(id string)
	// Release gives up the held id without marking it, so a redelivery
	// processes it again.
	Release(id string)
}

// ErrEmptyEventID is returned by Acquire for an empty id: an event without
// an id cannot be deduplicated.
var ErrEmptyEventID = errors.New("kafkaconsumer: empty event id")
