package event

import (
	"encoding/json"
	"time"

	"github.com/google/uuid"
)

// Envelope is the platform's event envelope. The JSON field names are the
// original platform's, so services in other languages interoperate.
type Envelope struct {
	EventID        uuid.UUID       `json:"event_id"`
	EventType      string          `json:"event_type"`
	EventTimestamp time.Time       `json:"event_timestamp"`
	SourceService  string          `json:"source_service"`
	SchemaVersion  int             `json:"schema_version"`
	CorrelationID  string          `json:"correlation_id"`
	DataSchemaURI  string          `json:"data_schema_uri,omitempty"`
	Data           json.RawMessage `json:"data"`
	Metadata       map[string]any  `json:"metadata,omitempty"`
}
