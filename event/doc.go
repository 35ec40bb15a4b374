// Package event defines the platform's event envelope, its encoding as a
// Kafka record, and the topic names.
//
// An Envelope wraps the event data with the metadata every consumer needs:
// a unique event_id, the event_type, the time, the source_service, the
// schema_version and a correlation_id. Its JSON field names are the original
// Python platform's, so services in both languages read each other's events.
//
// Guarantees:
//
//   - NewEnvelope encodes the data once and validates the result: an
//     envelope that exists is publishable. Data or metadata JSON cannot
//     encode (a channel, NaN) is an error at construction, not at publish
//     time.
//   - Validate names every field at fault; all envelope errors wrap
//     ErrInvalidEnvelope.
//   - Envelope.Record encodes the envelope once into an immutable Record,
//     the unit the Kafka bus produces and the fallback queue stores; a
//     replay sends the same bytes. The record carries the headers event_id,
//     event_type, correlation_id and, with RecordContext, the W3C
//     traceparent of the caller's span.
//   - DeterministicID gives the same UUIDv5 for the same business facts, so
//     an event published twice (a retry, a replay after an outage, a crash)
//     carries the same event_id both times and consumers deduplicate by it.
//     Delivery is at least once; deduplication by event_id makes it
//     effectively once.
//
// Usage:
//
//	type Provisioned struct {
//		EssayID string `json:"essay_id"`
//	}
//	env, err := event.NewEnvelope(event.TypeEssayContentProvisionedV1, "file_service",
//		Provisioned{EssayID: "e-1"},
//		event.WithEventID(event.DeterministicID(event.Namespace, event.TypeEssayContentProvisionedV1, "e-1")),
//		event.WithCorrelationID(batchID))
//	if err != nil { return err }
//	topic, _ := event.TopicFor(env.EventType)
//	err = bus.Publish(ctx, topic, "e-1", env) // kafkabus.Bus
//	// consumer side:
//	env, err = event.ParseEnvelope(rec.Value)
//	data, err := event.Decode[Provisioned](env)
package event
