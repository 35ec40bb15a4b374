package kafkabus

import "github.com/huleedu/huleedu/spool"

// Stats are a ResilientBus's cumulative counters and its queue's contents,
// read at scrape time by the Prometheus collector in package observability.
type Stats struct {
	// Published counts records Kafka acknowledged on the direct path.
	Published uint64 `json:"published"`
	// Spooled counts records accepted into the fallback queue.
	Spooled uint64 `json:"spooled"`
	// Replayed counts queued records the drainer delivered to Kafka.
	Replayed uint64 `json:"replayed"`
	// DeadLettered counts queued records Kafka rejected for good during
	// replay, moved to the dead-letter store.
	DeadLettered uint64 `json:"dead_lettered"`
	// Rejected counts Publish calls that returned an error (not accepted).
	Rejected uint64 `json:"rejected"`
	// Queue describes the fallback queue now.
	Queue spool.Stats `json:"queue"`
}
