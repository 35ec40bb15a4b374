package event

import "errors"

// ErrInvalidEnvelope is wrapped by every error that reports an envelope
// which breaks the platform's contract: a missing event type or source
// service, a nil event id, data that is not JSON. The wrapping error names
// the fields at fault.
var ErrInvalidEnvelope = errors.New("event: invalid envelope")

// ErrInvalidRecord is wrapped by every error that prevents an envelope from
// becoming a Kafka record: an empty topic, or an invalid envelope (then the
// error also wraps ErrInvalidEnvelope). kafkabus.ErrInvalidRecord is this
// same value, so one errors.Is check covers both packages.
var ErrInvalidRecord = errors.New("event: invalid record")

// ErrUnknownEventType is returned by TopicFor for an event type that has no
// topic of its own.
var ErrUnknownEventType = errors.New("event: unknown event type")
