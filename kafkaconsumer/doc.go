// Package kafkaconsumer is the consumer runtime of HuleEdu's services, and
// of any program that reads event envelopes from Kafka: it consumes topics
// in a consumer group (franz-go) and hands each envelope to its topic's
// Handler, with the retries, dead letters and deduplication that
// at-least-once delivery needs.
//
// # Guarantees
//
//   - Commit only after handling: an offset is committed once its record
//     was handled, skipped as a duplicate or dead-lettered, never before.
//     A crash or a Stop that gives up means redelivery, not loss.
//   - Retries with backoff: a failing handler runs again after
//     RetryBackoff, doubling up to RetryMaxBackoff, MaxAttempts times in
//     all. An error wrapping ErrPermanent or event.ErrInvalidEnvelope, or
//     a panic, is not retried.
//   - Dead letters: a record whose handler failed for good is published
//     to "<topic>.dlq" (DeadLetterTopic) unchanged, with the error, the
//     reason, the attempts and the original topic, partition and offset
//     in its headers (HeaderDLQError and the others). A record that is
//     not a valid envelope goes there at once (reason
//     "malformed_envelope").
//   - Nothing is skipped silently: a dead letter the publisher does not
//     accept is retried until it is, with its offset uncommitted. Without
//     a dead-letter publisher (Options.DeadLetters nil, as for a program
//     that only reads) such a record stops the consumer instead: it and
//     the records after it stay uncommitted, Done is closed, and Err and
//     Stop return an *UnhandledError naming it.
//   - Deduplication by event_id: the IdempotencyStore runs a handler once
//     per event and consumer group, and marks the event processed only
//     when the handler succeeded. MemoryIdempotencyStore is the default; a
//     store of the service's database marks the event in the handler's
//     own transaction, so the state change happens once even across
//     restarts and instances (see IdempotencyStore).
//   - Handlers run one record at a time, in partition order, with the
//     event's correlation id (errctx) and the producer's trace
//     (traceparent) in their context, in a consumer span.
//
// # Usage
//
//	c, err := kafkaconsumer.New(kafkaconsumer.Options{
//		Brokers:     []string{"localhost:9092"},
//		Group:       "essay-reader",
//		Handlers:    map[string]kafkaconsumer.Handler{"essays": apply}, // func(ctx, *event.Envelope) error
//		DeadLetters: bus, // optional: a *kafkabus.ResilientBus
//	})
//	if err != nil {
//		return err
//	}
//	if err := c.Start(); err != nil {
//		return err
//	}
//	select {
//	case <-ctx.Done(): // the program ends
//	case <-c.Done(): // stopped at a record it could not handle
//	}
//	return c.Stop(shutdownCtx) // finishes the record in hand, commits, leaves the group
package kafkaconsumer
