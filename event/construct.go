package event

import (
	"encoding/json"
	"fmt"
	"maps"
	"time"

	"github.com/google/uuid"
)

// CurrentSchemaVersion is the schema version NewEnvelope stamps on an
// envelope unless WithSchemaVersion says otherwise.
const CurrentSchemaVersion = 1

// Option adjusts an envelope that NewEnvelope builds.
type Option func(*Envelope)

// WithEventID sets the event id instead of a random UUIDv4. Use it with
// DeterministicID so that an event derived from the same business facts
// always carries the same id, and consumers can deduplicate replays.
func WithEventID(id uuid.UUID) Option {
	return func(e *Envelope) { e.EventID = id }
}

// WithCorrelationID sets the correlation id that ties the event to the
// request or batch that caused it. Without it NewEnvelope starts a new
// correlation (a random UUIDv4 string), as the original platform did.
func WithCorrelationID(id string) Option {
	return func(e *Envelope) { e.CorrelationID = id }
}

// WithTimestamp sets the event timestamp instead of the current time. The
// time is stored in UTC.
func WithTimestamp(t time.Time) Option {
	return func(e *Envelope) { e.EventTimestamp = t.UTC() }
}

// WithMetadata adds entries to the envelope's metadata. Later options win
// for a repeated key. The map is copied; the caller may reuse it.
func WithMetadata(md map[string]any) Option {
	return func(e *Envelope) {
		if len(md) == 0 {
			return
		}
		if e.Metadata == nil {
			e.Metadata = make(map[string]any, len(md))
		}
		maps.Copy(e.Metadata, md)
	}
}

// WithDataSchemaURI records where the schema of the data lives.
func WithDataSchemaURI(uri string) Option {
	return func(e *Envelope) { e.DataSchemaURI = uri }
}

// WithSchemaVersion sets the envelope schema version instead of
// CurrentSchemaVersion. Versions below 1 fail validation.
func WithSchemaVersion(v int) Option {
	return func(e *Envelope) { e.SchemaVersion = v }
}

// NewEnvelope wraps data in an envelope of eventType published by source.
//
// Defaults: a random UUIDv4 event id, the current time in UTC, schema
// version CurrentSchemaVersion and a new random correlation id; opts
// override them. data is encoded to JSON here, once: data or metadata that
// cannot be encoded (a channel, a function, NaN) is an error now rather
// than at publish time. The result is validated; every error wraps
// ErrInvalidEnvelope.
func NewEnvelope[T any](eventType, source string, data T, opts ...Option) (*Envelope, error) {
	raw, err := json.Marshal(data)
	if err != nil {
		return nil, fmt.Errorf("%w: data of %s does not encode as JSON: %w", ErrInvalidEnvelope, eventType, err)
	}
	e := &Envelope{
		EventID:        uuid.New(),
		EventType:      eventType,
		EventTimestamp: time.Now().UTC(),
		SourceService:  source,
		SchemaVersion:  CurrentSchemaVersion,
		CorrelationID:  uuid.NewString(),
		Data:           raw,
	}
	for _, opt := range opts {
		opt(e)
	}
	if len(e.Metadata) > 0 {
		// Metadata is the other part the caller supplies: checked here
		// too, so that an envelope NewEnvelope returns always encodes.
		if _, err := json.Marshal(e.Metadata); err != nil {
			return nil, fmt.Errorf("%w: metadata of %s does not encode as JSON: %w", ErrInvalidEnvelope, eventType, err)
		}
	}
	if err := e.Validate(); err != nil {
		return nil, err
	}
	return e, nil
}
