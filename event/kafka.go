package event

import (
	"context"
	"encoding/json"
	"fmt"

	"go.opentelemetry.io/otel/propagation"
)

// Kafka header names that Record sets. Consumers read them to deduplicate
// (event_id), route (event_type) and correlate (correlation_id) without
// decoding the value, and to continue the producer's trace (traceparent,
// tracestate: W3C Trace Context).
const (
	HeaderEventID       = "event_id"
	HeaderEventType     = "event_type"
	HeaderCorrelationID = "correlation_id"
	HeaderTraceParent   = "traceparent"
	HeaderTraceState    = "tracestate"
)

// traceContext is the W3C Trace Context propagator. It is used directly
// rather than through otel.GetTextMapPropagator, whose default is a no-op:
// the headers must not depend on whether a service remembered to install a
// global propagator.
var traceContext propagation.TraceContext

// Record encodes e for topic with partition key key. It is RecordContext
// without a trace: no traceparent header.
func (e *Envelope) Record(topic, key string) (Record, error) {
	return e.RecordContext(context.Background(), topic, key)
}

// RecordContext validates e and encodes it for topic with partition key
// key. The value is the envelope's JSON, encoded once here; replays send the
// same bytes. Headers: event_id, event_type, correlation_id (when set), and
// traceparent (plus tracestate when non-empty) when ctx carries a valid
// span context. An empty key gives a record without a key, which Kafka
// spreads over partitions with no ordering between them.
//
// Every error wraps ErrInvalidRecord; an invalid envelope also wraps
// ErrInvalidEnvelope.
func (e *Envelope) RecordContext(ctx context.Context, topic, key string) (Record, error) {
	if err := e.Validate(); err != nil {
		return Record{}, fmt.Errorf("%w: %w", ErrInvalidRecord, err)
	}
	if topic == "" {
		return Record{}, fmt.Errorf("%w: topic is empty (event %s of type %s)", ErrInvalidRecord, e.EventID, e.EventType)
	}
	value, err := json.Marshal(e)
	if err != nil {
		// Validate has checked that Data is valid JSON; what is left
		// is Metadata, set or changed after NewEnvelope, holding a
		// value JSON cannot encode.
		return Record{}, fmt.Errorf("%w: %w: encode envelope %s: %w", ErrInvalidRecord, ErrInvalidEnvelope, e.EventID, err)
	}
	r := Record{Topic: topic, Value: value}
	if key != "" {
		r.Key = []byte(key)
	}
	r.Headers = make([]Header, 0, 5)
	r.Headers = append(r.Headers,
		Header{Key: HeaderEventID, Value: []byte(e.EventID.String())},
		Header{Key: HeaderEventType, Value: []byte(e.EventType)},
	)
	if e.CorrelationID != "" {
		r.Headers = append(r.Headers, Header{Key: HeaderCorrelationID, Value: []byte(e.CorrelationID)})
	}
	traceContext.Inject(ctx, (*headerCarrier)(&r.Headers))
	return r, nil
}

// ExtractTraceContext returns ctx with the remote span context that r's
// traceparent and tracestate headers carry, for a consumer that continues
// the producer's trace. Without a valid traceparent it returns ctx.
func ExtractTraceContext(ctx context.Context, r Record) context.Context {
	return traceContext.Extract(ctx, (*headerCarrier)(&r.Headers))
}

// headerCarrier adapts record headers to the otel propagation carrier.
type headerCarrier []Header

func (c *headerCarrier) Get(key string) string {
	for _, h := range *c {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

func (c *headerCarrier) Set(key, value string) {
	for i, h := range *c {
		if h.Key == key {
			(*c)[i].Value = []byte(value)
			return
		}
	}
	*c = append(*c, Header{Key: key, Value: []byte(value)})
}

func (c *headerCarrier) Keys() []string {
	keys := make([]string, len(*c))
	for i, h := range *c {
		keys[i] = h.Key
	}
	return keys
}
