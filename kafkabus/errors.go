package kafkabus

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/huleedu/huleedu/event"
)

// Errors callers branch on with errors.Is. Produce and Publish wrap them in
// a *ProduceError together with the cause, so errors.Is also matches the
// franz-go error underneath (kerr.MessageTooLarge, kgo.ErrRecordTimeout,
// context.DeadlineExceeded, ...).
//
// Permanent: no retry or replay can make Kafka accept the record as it is.
// They return at once, never after the publish timeout, and they do not
// mean Kafka is unhealthy, so they must not trip a circuit breaker.
var (
	// ErrMessageTooLarge: the record is larger than the producer's
	// Options.MaxRecordBytes or the broker's or topic's message.max.bytes.
	ErrMessageTooLarge = errors.New("kafkabus: message too large")
	// ErrInvalidTopic: the topic name is not a legal Kafka topic name
	// (checked locally: 1-249 characters of [a-zA-Z0-9._-], not "." or "..")
	// or the broker rejected it.
	ErrInvalidTopic = errors.New("kafkabus: invalid topic")
	// ErrAuthorization: the principal may not write the topic (topic
	// authorization failed), may not produce idempotently (cluster
	// authorization failed), or SASL authentication failed. An operator
	// has to grant access; replaying cannot fix it. Authorization failures
	// return at once; franz-go retries rejected SASL credentials until the
	// record times out, and only then reports them.
	ErrAuthorization = errors.New("kafkabus: not authorized")
	// ErrUnknownTopic: the topic does not exist and topic auto-creation is
	// off. franz-go would retry this until the publish timeout; KafkaBus
	// gives up after one metadata refresh confirms it (see NewKafkaBus).
	// The error's message says how to fix it: create the topic
	// (`huleedu topics create`), or let the broker create it
	// (Options.AllowAutoTopicCreation, KAFKA_AUTO_CREATE_TOPICS=true).
	ErrUnknownTopic = errors.New("kafkabus: unknown topic")
	// ErrRejected: Kafka refused the record with another non-retriable
	// error (INVALID_RECORD, POLICY_VIOLATION, ...).
	ErrRejected = errors.New("kafkabus: rejected by kafka")
	// ErrBusClosed: the bus was closed before or while the record was
	// produced.
	ErrBusClosed = errors.New("kafkabus: bus closed")
	// ErrInvalidRecord: the record or envelope is malformed (empty topic,
	// invalid envelope). It is event.ErrInvalidRecord, so one errors.Is
	// check covers errors from both packages.
	ErrInvalidRecord = event.ErrInvalidRecord
)

// Retriable: Kafka or the path to it is unhealthy; the same record may
// succeed later. These are the failures a circuit breaker counts.
var (
	// ErrUnavailable: brokers unreachable or refusing connections, no
	// leader, not-leader-or-follower, not enough replicas, and every other
	// error Kafka marks retriable. The record was not written.
	ErrUnavailable = errors.New("kafkabus: kafka unavailable")
	// ErrUnknownOutcome: the record was not acknowledged before the
	// publish timeout or the caller's context ended. It may still have
	// been written (a request in flight when time ran out), so a replay
	// can produce a duplicate, which consumers drop by event_id. It is
	// never written after a record that is produced later with the same
	// key: see the ordering section of the package documentation.
	ErrUnknownOutcome = errors.New("kafkabus: outcome unknown")
)

// ProduceError is the error Produce reports for one record: where it was
// going, why it failed, and whether a later attempt can succeed. Err wraps
// one of the Err* values of this package and, when there is one, the
// franz-go, kerr, network or context error that caused it.
type ProduceError struct {
	Topic string
	// Partition is the partition the record was assigned to, or -1 when it
	// failed before it was assigned one.
	Partition int32
	Err       error
	// Retriable reports whether the failure is of the infrastructure
	// (ErrUnavailable, ErrUnknownOutcome): replaying the record later may
	// succeed. False for permanent rejections of this record.
	Retriable bool
}

// Error describes the failure with its topic and partition.
func (e *ProduceError) Error() string {
	if e.Partition < 0 {
		return fmt.Sprintf("kafkabus: produce to %q: %v", e.Topic, e.Err)
	}
	return fmt.Sprintf("kafkabus: produce to %q partition %d: %v", e.Topic, e.Partition, e.Err)
}

// Unwrap returns Err, so errors.Is matches both the kafkabus sentinel and
// the underlying cause.
func (e *ProduceError) Unwrap() error { return e.Err }

// IsRetriable reports whether err is an infrastructure failure after which
// the same record may still be accepted: Kafka unreachable, timeouts, no
// leader, not enough replicas (ErrUnavailable), and unknown outcomes
// (ErrUnknownOutcome). It is false for nil, for permanent rejections
// (ErrMessageTooLarge, ErrInvalidTopic, ErrAuthorization, ErrUnknownTopic,
// ErrRejected, ErrInvalidRecord), for ErrBusClosed and for errors it does
// not recognise: an unknown error goes back to the caller rather than
// into a replay loop that might never end.
//
// A *ProduceError answers with its Retriable field.
//
// A context error counts as retriable (ErrUnknownOutcome): the record
// may have been written, and Kafka may be healthy. A caller that wants to
// tell "my context ended" apart from "Kafka is slow" checks its own
// ctx.Err() first.
func IsRetriable(err error) bool {
	if err == nil {
		return false
	}
	if pe, ok := errors.AsType[*ProduceError](err); ok {
		return pe.Retriable
	}
	_, retriable := classify(err)
	return retriable
}

// unknownTopicHint is what ErrUnknownTopic's message adds: the two ways
// to make the topic exist.
const unknownTopicHint = "create it with `huleedu topics create`, or let the broker create it: " +
	"Options.AllowAutoTopicCreation, KAFKA_AUTO_CREATE_TOPICS=true in a service"

// authErrors are the kerr errors that mean "not permitted".
var authErrors = []error{
	kerr.TopicAuthorizationFailed,
	kerr.ClusterAuthorizationFailed,
	kerr.TransactionalIDAuthorizationFailed,
	kerr.SaslAuthenticationFailed,
	kerr.IllegalSaslState,
	kerr.UnsupportedSaslMechanism,
}

// classify maps a franz-go failure to an error wrapping the matching
// sentinel, and whether it is retriable. The order matters: kerr marks
// UNKNOWN_TOPIC_OR_PARTITION retriable, but with auto-creation off it is
// permanent, so the permanent cases come first.
func classify(err error) (error, bool) {
	switch {
	case err == nil:
		return nil, false
	case errors.Is(err, ErrBusClosed), errors.Is(err, kgo.ErrClientClosed):
		return wrapSentinel(ErrBusClosed, err), false
	case errors.Is(err, ErrInvalidRecord):
		return err, false
	case errors.Is(err, kerr.MessageTooLarge), errors.Is(err, kerr.RecordListTooLarge):
		return wrapSentinel(ErrMessageTooLarge, err), false
	case errors.Is(err, kerr.InvalidTopicException):
		return wrapSentinel(ErrInvalidTopic, err), false
	case isAny(err, authErrors):
		return wrapSentinel(ErrAuthorization, err), false
	case errors.Is(err, kerr.UnknownTopicOrPartition), errors.Is(err, kerr.UnknownTopicID):
		if errors.Is(err, ErrUnknownTopic) {
			return err, false
		}
		return fmt.Errorf("%w (%s): %w", ErrUnknownTopic, unknownTopicHint, err), false
	case errors.Is(err, ErrUnknownOutcome), errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled),
		errors.Is(err, kgo.ErrRecordTimeout), errors.Is(err, kgo.ErrRecordRetries):
		return wrapSentinel(ErrUnknownOutcome, err), true
	case errors.Is(err, ErrUnavailable), kerr.IsRetriable(err), isNetworkError(err):
		return wrapSentinel(ErrUnavailable, err), true
	}
	if _, ok := errors.AsType[*kerr.Error](err); ok {
		return wrapSentinel(ErrRejected, err), false
	}
	return err, false
}

func isAny(err error, targets []error) bool {
	for _, t := range targets {
		if errors.Is(err, t) {
			return true
		}
	}
	return false
}

// isNetworkError reports connection-level failures: refused or reset
// connections, dial and I/O timeouts, connections closed mid-request.
func isNetworkError(err error) bool {
	if kgo.IsRetryableBrokerErr(err) {
		return true
	}
	if _, ok := errors.AsType[net.Error](err); ok {
		return true
	}
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed)
}

// wrapSentinel returns err wrapping sentinel, without wrapping it twice.
func wrapSentinel(sentinel, err error) error {
	if errors.Is(err, sentinel) {
		return err
	}
	return fmt.Errorf("%w: %w", sentinel, err)
}
