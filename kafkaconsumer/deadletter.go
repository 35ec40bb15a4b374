package kafkaconsumer

import (
	"context"
	"slices"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/huleedu/huleedu/event"
)

// RecordPublisher publishes an already-encoded record; the consumer sends
// dead letters through it. kafkabus.ResilientBus implements it (so dead
// letters survive a Kafka outage in the fallback queue); ProducerPublisher
// adapts the plain kafkabus.KafkaBus.
type RecordPublisher interface {
	PublishRecord(ctx context.Context, rec event.Record) error
}

// ProducerPublisher adapts a kafkabus.Producer (such as *KafkaBus) to
// RecordPublisher.
type ProducerPublisher struct {
	Producer interface {
		Produce(ctx context.Context, recs []event.Record) []error
	}
}

// PublishRecord produces rec and returns its outcome.
func (p ProducerPublisher) PublishRecord(ctx context.Context, rec event.Record) error {
	return p.Producer.Produce(ctx, []event.Record{rec})[0]
}

// DeadLetterTopic is the default dead-letter topic of topic: "<topic>.dlq".
func DeadLetterTopic(topic string) string { return topic + ".dlq" }

// WithDeadLetterTopics returns topics and the dead-letter topic of each,
// sorted: what a local cluster creates up front, since producers do not
// create topics by default.
func WithDeadLetterTopics(topics []string) []string {
	all := make([]string, 0, 2*len(topics))
	for _, t := range topics {
		all = append(all, t, DeadLetterTopic(t))
	}
	slices.Sort(all)
	return slices.Compact(all)
}

// Headers the consumer adds to a dead-lettered record, next to the
// original headers.
const (
	HeaderDLQError             = "dlq_error"
	HeaderDLQReason            = "dlq_reason" // "handler_failed" or "malformed_envelope"
	HeaderDLQAttempts          = "dlq_attempts"
	HeaderDLQOriginalTopic     = "dlq_original_topic"
	HeaderDLQOriginalPartition = "dlq_original_partition"
	HeaderDLQOriginalOffset    = "dlq_original_offset"
	HeaderDLQService           = "dlq_service"
	HeaderDLQFailedAt          = "dlq_failed_at"
)

// Reasons in the dlq_reason header.
const (
	reasonHandlerFailed = "handler_failed"
	reasonMalformed     = "malformed_envelope"
)

// deadLetter publishes r to its dead-letter topic with the cause in the
// headers, retrying until the publisher accepts it; it returns false if
// Stop came first.
func (c *Consumer) deadLetter(ctx context.Context, r *kgo.Record, reason string, attempts int, cause error) bool {
	rec := c.deadLetterRecord(r, reason, attempts, cause)
	c.log.ErrorContext(ctx, "event moved to the dead-letter topic",
		"topic", r.Topic, "partition", r.Partition, "offset", r.Offset, "dead_letter_topic", rec.Topic,
		"reason", reason, "attempts", attempts, "err", cause)
	backoff := c.opts.RetryBackoff
	for {
		err := c.opts.DeadLetters.PublishRecord(c.handleCtx, rec)
		if err == nil {
			c.opts.Metrics.observe(r.Topic, resultDeadLettered)
			return true
		}
		if c.handleCtx.Err() != nil {
			return false
		}
		c.log.ErrorContext(ctx, "dead-letter publish not accepted; retrying, offset stays uncommitted",
			"dead_letter_topic", rec.Topic, "retry_in", backoff, "err", err)
		if !c.sleep(backoff) {
			return false
		}
		backoff = min(2*backoff, c.opts.RetryMaxBackoff)
	}
}

func (c *Consumer) deadLetterRecord(r *kgo.Record, reason string, attempts int, cause error) event.Record {
	rec := toEventRecord(r)
	rec.Topic = c.opts.DeadLetterTopic(r.Topic)
	rec.Headers = append(rec.Headers,
		event.Header{Key: HeaderDLQReason, Value: []byte(reason)},
		event.Header{Key: HeaderDLQError, Value: []byte(cause.Error())},
		event.Header{Key: HeaderDLQAttempts, Value: []byte(strconv.Itoa(attempts))},
		event.Header{Key: HeaderDLQOriginalTopic, Value: []byte(r.Topic)},
		event.Header{Key: HeaderDLQOriginalPartition, Value: []byte(strconv.Itoa(int(r.Partition)))},
		event.Header{Key: HeaderDLQOriginalOffset, Value: []byte(strconv.FormatInt(r.Offset, 10))},
		event.Header{Key: HeaderDLQService, Value: []byte(c.opts.Service)},
		event.Header{Key: HeaderDLQFailedAt, Value: []byte(time.Now().UTC().Format(time.RFC3339Nano))},
	)
	return rec
}

// toEventRecord copies r's topic, key, value and headers.
func toEventRecord(r *kgo.Record) event.Record {
	rec := event.Record{Topic: r.Topic, Key: r.Key, Value: r.Value}
	if len(r.Headers) > 0 {
		rec.Headers = make([]event.Header, len(r.Headers), len(r.Headers)+8)
		for i, h := range r.Headers {
			rec.Headers[i] = event.Header{Key: h.Key, Value: h.Value}
		}
	}
	return rec
}

func headerValue(r *kgo.Record, key string) string {
	for _, h := range r.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}
