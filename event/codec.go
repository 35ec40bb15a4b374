package event

import (
	"encoding/json"
	"fmt"
)

// ParseEnvelope decodes an envelope from its JSON form (a Kafka record's
// value) and validates it. Unknown fields are ignored, so envelopes from
// newer producers in other languages still parse. Every error wraps
// ErrInvalidEnvelope.
func ParseEnvelope(b []byte) (*Envelope, error) {
	var e Envelope
	if err := json.Unmarshal(b, &e); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidEnvelope, err)
	}
	if err := e.Validate(); err != nil {
		return nil, err
	}
	return &e, nil
}

// Decode returns env's data decoded as T. Every error wraps
// ErrInvalidEnvelope and names the event type.
func Decode[T any](env *Envelope) (T, error) {
	var v T
	if env == nil {
		return v, fmt.Errorf("%w: envelope is nil", ErrInvalidEnvelope)
	}
	if len(env.Data) == 0 {
		return v, fmt.Errorf("%w: %s: data is empty", ErrInvalidEnvelope, env.EventType)
	}
	if err := json.Unmarshal(env.Data, &v); err != nil {
		return v, fmt.Errorf("%w: %s: decode data as %T: %w", ErrInvalidEnvelope, env.EventType, v, err)
	}
	return v, nil
}
