package outbox

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/huleedu/huleedu/event"
	"github.com/huleedu/huleedu/sqldb"
)

// LeasePartitions is the number of lease partitions the rows are spread
// over by the hash of their key (see the package documentation). The
// migrations create exactly this many leases; changing it would move keys
// between partitions while rows of theirs are pending.
const LeasePartitions = 64

//go:embed migrations
var migrationFiles embed.FS

// Migrations returns the outbox's schema migrations for sqldb.Open, which
// keeps their versions in outbox_schema_version.
func Migrations() sqldb.Migrations {
	pg, _ := fs.Sub(migrationFiles, "migrations/postgres")
	lite, _ := fs.Sub(migrationFiles, "migrations/sqlite")
	return sqldb.Migrations{Name: "outbox", Postgres: pg, SQLite: lite}
}

// ErrInvalidMessage is wrapped by Enqueue's error for a message that can
// never be published: no envelope, an invalid envelope, an empty or
// illegal topic, a header value that is not UTF-8. Nothing was written.
var ErrInvalidMessage = errors.New("outbox: invalid message")

// Message is one event for Enqueue.
type Message struct {
	// Topic is the Kafka topic. Required.
	Topic string
	// Key is the partition key. Rows with the same topic and key are
	// published in the order they were enqueued. Empty: no key (Kafka
	// spreads such records over partitions, with no order between them).
	Key string
	// Envelope is the event, published exactly as it is now: its
	// event_id, and every byte of its encoding, are those Kafka receives.
	// Required, unless Record is set.
	Envelope *event.Envelope
	// Record, instead of Envelope, is a record that is encoded already,
	// to be published as it is: its topic, key, value and headers
	// unchanged (a consumer's dead letter carries the record that failed,
	// with the reason in its headers). Its value must be an event
	// envelope's JSON, whose event_id and event_type the row records;
	// Topic and Key must then be empty, and the trace context of Enqueue's
	// ctx is not added (the record's own headers say where it came from).
	Record *event.Record
	// AggregateType and AggregateID name what changed ("batch", its id),
	// for operators reading the table. Optional.
	AggregateType string
	AggregateID   string
}

// Row is one outbox row, as the relay and the operator commands see it.
type Row struct {
	ID            int64
	AggregateType string
	AggregateID   string
	EventID       uuid.UUID
	EventType     string
	Topic         string
	Key           string
	// Partition is the lease partition, the hash of Key (or of EventID
	// when Key is empty) modulo LeasePartitions.
	Partition int
	// Envelope is the record's value: the envelope's JSON as Enqueue
	// encoded it.
	Envelope []byte
	// Headers are the record's headers: event_id, event_type,
	// correlation_id and the enqueuer's traceparent and tracestate.
	Headers   []event.Header
	CreatedAt time.Time
	// Attempts counts failed publishes (retriable or final).
	Attempts  int
	LastError string
	// NextAttemptAt is when a row that failed with a retriable error is
	// tried again; zero for a row never tried.
	NextAttemptAt time.Time
	PublishedAt   time.Time // zero unless published and kept (Retention)
	DeadAt        time.Time // zero unless dead-lettered
}

// Record returns the Kafka record the row is published as. Its bytes are
// the row's.
func (r *Row) Record() event.Record {
	rec := event.Record{Topic: r.Topic, Value: r.Envelope, Headers: r.Headers}
	if r.Key != "" {
		rec.Key = []byte(r.Key)
	}
	return rec
}

// partitionOf is the lease partition of a row with key key (or, keyless,
// event id id): FNV-1a, so every process and language agrees.
func partitionOf(key string, id uuid.UUID) int {
	h := fnv.New32a()
	if key != "" {
		h.Write([]byte(key))
	} else {
		h.Write(id[:])
	}
	return int(h.Sum32() % LeasePartitions)
}

// newRow validates m and encodes it as a row created at now, with the
// trace context of ctx in its headers.
func newRow(ctx context.Context, m Message, now time.Time) (Row, error) {
	if m.Record != nil {
		return recordRow(m, now)
	}
	if m.Envelope == nil {
		return Row{}, fmt.Errorf("%w: envelope is nil (topic %q, key %q)", ErrInvalidMessage, m.Topic, m.Key)
	}
	if err := checkTopic(m.Topic); err != nil {
		return Row{}, fmt.Errorf("%w: event %s: %w", ErrInvalidMessage, m.Envelope.EventID, err)
	}
	rec, err := m.Envelope.RecordContext(ctx, m.Topic, m.Key)
	if err != nil {
		return Row{}, fmt.Errorf("%w: %w", ErrInvalidMessage, err)
	}
	for _, h := range rec.Headers {
		if !utf8.Valid(h.Value) {
			return Row{}, fmt.Errorf("%w: event %s: header %q is not UTF-8", ErrInvalidMessage, m.Envelope.EventID, h.Key)
		}
	}
	return Row{
		AggregateType: m.AggregateType,
		AggregateID:   m.AggregateID,
		EventID:       m.Envelope.EventID,
		EventType:     m.Envelope.EventType,
		Topic:         m.Topic,
		Key:           m.Key,
		Partition:     partitionOf(m.Key, m.Envelope.EventID),
		Envelope:      rec.Value,
		Headers:       rec.Headers,
		CreatedAt:     now,
	}, nil
}

// recordRow validates m, whose Record is set, and stores the record as a
// row created at now, byte for byte.
func recordRow(m Message, now time.Time) (Row, error) {
	rec := m.Record
	switch {
	case m.Envelope != nil:
		return Row{}, fmt.Errorf("%w: both Envelope and Record are set (topic %q)", ErrInvalidMessage, rec.Topic)
	case m.Topic != "" || m.Key != "":
		return Row{}, fmt.Errorf("%w: Record carries its own topic and key; Message.Topic (%q) and Key (%q) must be empty",
			ErrInvalidMessage, m.Topic, m.Key)
	}
	if err := checkTopic(rec.Topic); err != nil {
		return Row{}, fmt.Errorf("%w: record: %w", ErrInvalidMessage, err)
	}
	env, err := event.ParseEnvelope(rec.Value)
	if err != nil {
		return Row{}, fmt.Errorf("%w: record for %s: its value is not an event envelope: %w", ErrInvalidMessage, rec.Topic, err)
	}
	if !utf8.Valid(rec.Key) {
		return Row{}, fmt.Errorf("%w: event %s: the record's key is not UTF-8", ErrInvalidMessage, env.EventID)
	}
	for _, h := range rec.Headers {
		if !utf8.Valid(h.Value) {
			return Row{}, fmt.Errorf("%w: event %s: header %q is not UTF-8", ErrInvalidMessage, env.EventID, h.Key)
		}
	}
	key := string(rec.Key)
	return Row{
		AggregateType: m.AggregateType,
		AggregateID:   m.AggregateID,
		EventID:       env.EventID,
		EventType:     env.EventType,
		Topic:         rec.Topic,
		Key:           key,
		Partition:     partitionOf(key, env.EventID),
		Envelope:      bytes.Clone(rec.Value),
		Headers:       slices.Clone(rec.Headers),
		CreatedAt:     now,
	}, nil
}

// checkTopic applies Kafka's topic name rules (as kafkabus does before a
// produce), so that a misspelt topic is the caller's error now rather
// than a dead letter later.
func checkTopic(topic string) error {
	if topic == "" {
		return errors.New("topic is empty")
	}
	if len(topic) > 249 || topic == "." || topic == ".." {
		return fmt.Errorf("topic %q: want 1 to 249 characters, and not \".\" or \"..\"", topic)
	}
	for _, c := range topic {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return fmt.Errorf("topic %q contains %q; allowed are ASCII letters, digits, '.', '_' and '-'", topic, c)
		}
	}
	return nil
}

// header is how a record header is stored in the headers column: a JSON
// array of {"key": ..., "value": ...}, in order.
type header struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

func encodeHeaders(hs []event.Header) []byte {
	out := make([]header, len(hs))
	for i, h := range hs {
		out[i] = header{Key: h.Key, Value: string(h.Value)}
	}
	b, _ := json.Marshal(out) // strings only: cannot fail
	return b
}

// decodeHeaders reads the headers column. The relay decodes it for every
// row it publishes, so the layout encodeHeaders writes is read by hand
// when no string in it has an escape (header values are ids, event types
// and trace contexts); anything else goes through encoding/json.
func decodeHeaders(b []byte) ([]event.Header, error) {
	if hs, ok := decodeHeadersFast(b); ok {
		return hs, nil
	}
	var in []header
	if err := json.Unmarshal(b, &in); err != nil {
		return nil, fmt.Errorf("headers column: %w", err)
	}
	if len(in) == 0 {
		return nil, nil
	}
	out := make([]event.Header, len(in))
	for i, h := range in {
		out[i] = event.Header{Key: h.Key, Value: []byte(h.Value)}
	}
	return out, nil
}

// decodeHeadersFast parses exactly encodeHeaders' output,
// [{"key":"K","value":"V"},...], with no backslash in it; ok is false for
// anything else.
func decodeHeadersFast(b []byte) (hs []event.Header, ok bool) {
	if bytes.IndexByte(b, '\\') >= 0 || len(b) < 2 || b[0] != '[' {
		return nil, false
	}
	rest := b[1:]
	str := func(prefix string) (string, bool) {
		if !bytes.HasPrefix(rest, []byte(prefix)) {
			return "", false
		}
		rest = rest[len(prefix):]
		end := bytes.IndexByte(rest, '"')
		if end < 0 {
			return "", false
		}
		v := string(rest[:end])
		rest = rest[end+1:]
		return v, true
	}
	for len(rest) > 0 && rest[0] != ']' {
		k, ok1 := str(`{"key":"`)
		v, ok2 := str(`,"value":"`)
		if !ok1 || !ok2 || len(rest) == 0 || rest[0] != '}' {
			return nil, false
		}
		hs = append(hs, event.Header{Key: k, Value: []byte(v)})
		rest = rest[1:]
		if len(rest) > 0 && rest[0] == ',' {
			rest = rest[1:]
		}
	}
	if len(rest) != 1 || rest[0] != ']' {
		return nil, false
	}
	return hs, true
}
