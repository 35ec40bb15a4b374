// Package kafkaconsumer is the consumer runtime of HuleEdu's services: it
// reads topics in a Kafka consumer group (franz-go) and hands each event
// envelope to its topic's handler, committing offsets only after handling,
// retrying failures with backoff, deduplicating by event_id and sending
// what cannot be handled to "<topic>.dlq".
package kafkaconsumer
