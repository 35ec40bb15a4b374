package event

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/google/uuid"
)

// Validate reports whether e keeps the envelope contract: event_type and
// source_service set, a non-nil event_id, a timestamp, schema_version of at
// least 1, and data that is valid JSON. The error wraps ErrInvalidEnvelope
// and names every field at fault, so one look at a log line tells what to
// fix.
func (e *Envelope) Validate() error {
	if e == nil {
		return fmt.Errorf("%w: envelope is nil", ErrInvalidEnvelope)
	}
	var problems []string
	if e.EventType == "" {
		problems = append(problems, "event_type is empty")
	}
	if e.SourceService == "" {
		problems = append(problems, "source_service is empty")
	}
	if e.EventID == uuid.Nil {
		problems = append(problems, "event_id is the nil UUID")
	}
	if e.EventTimestamp.IsZero() {
		problems = append(problems, "event_timestamp is zero")
	}
	if e.SchemaVersion < 1 {
		problems = append(problems, fmt.Sprintf("schema_version is %d, want >= 1", e.SchemaVersion))
	}
	switch {
	case len(e.Data) == 0:
		problems = append(problems, "data is empty")
	case !json.Valid(e.Data):
		problems = append(problems, "data is not valid JSON")
	}
	if len(problems) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %s", ErrInvalidEnvelope, strings.Join(problems, "; "))
}
