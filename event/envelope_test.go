package event

import (
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

var (
	goldenID   = uuid.MustParse("0b5e7a36-9a8f-4d8e-8d71-6b2f3c0a9e11")
	goldenTime = time.Date(2025, 3, 14, 9, 26, 53, 589000000, time.UTC)
)

type essayProvisioned struct {
	EssayID       string `json:"essay_id"`
	TextStorageID string `json:"text_storage_id"`
}

func goldenEnvelope(t *testing.T) *Envelope {
	t.Helper()
	env, err := NewEnvelope(TypeEssayContentProvisionedV1, "file_service",
		essayProvisioned{EssayID: "essay-1", TextStorageID: "content-9"},
		WithEventID(goldenID),
		WithTimestamp(goldenTime),
		WithCorrelationID("batch-7"),
		WithMetadata(map[string]any{"attempt": 1}),
	)
	if err != nil {
		t.Fatalf("NewEnvelope: %v", err)
	}
	return env
}

// The golden JSON is the contract with the Python services: field names,
// their order does not matter to them but their spelling does.
const goldenJSON = `{"event_id":"0b5e7a36-9a8f-4d8e-8d71-6b2f3c0a9e11",` +
	`"event_type":"EssayContentProvisionedV1",` +
	`"event_timestamp":"2025-03-14T09:26:53.589Z",` +
	`"source_service":"file_service",` +
	`"schema_version":1,` +
	`"correlation_id":"batch-7",` +
	`"data":{"essay_id":"essay-1","text_storage_id":"content-9"},` +
	`"metadata":{"attempt":1}}`

func TestEnvelopeJSONUsesOriginalFieldNames(t *testing.T) {
	got, err := json.Marshal(goldenEnvelope(t))
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != goldenJSON {
		t.Errorf("JSON mismatch\n got: %s\nwant: %s", got, goldenJSON)
	}
}

func TestEnvelopeJSONRoundTripKeepsEveryField(t *testing.T) {
	want := goldenEnvelope(t)
	want.DataSchemaURI = "https://schemas.huleedu/essay.json"
	b, err := json.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseEnvelope(b)
	if err != nil {
		t.Fatalf("ParseEnvelope: %v", err)
	}
	if got.EventID != want.EventID || got.EventType != want.EventType ||
		!got.EventTimestamp.Equal(want.EventTimestamp) || got.SourceService != want.SourceService ||
		got.SchemaVersion != want.SchemaVersion || got.CorrelationID != want.CorrelationID ||
		got.DataSchemaURI != want.DataSchemaURI || string(got.Data) != string(want.Data) ||
		got.Metadata["attempt"] != float64(1) {
		t.Errorf("round trip changed the envelope\n got: %+v\nwant: %+v", got, want)
	}
}

func TestParseEnvelopeReadsPythonEnvelope(t *testing.T) {
	// Pydantic writes an explicit +00:00 offset, microseconds, and may add
	// fields this version does not know.
	py := `{"event_id": "0b5e7a36-9a8f-4d8e-8d71-6b2f3c0a9e11", "event_type": "EssayContentProvisionedV1",
		"event_timestamp": "2025-03-14T09:26:53.589123+00:00", "source_service": "file_service",
		"schema_version": 1, "correlation_id": "3f0c9c1e-52a4-4c53-9b0e-3a1b2c4d5e6f",
		"data_schema_uri": null, "data": {"essay_id": "essay-1"}, "metadata": {}, "future_field": true}`
	env, err := ParseEnvelope([]byte(py))
	if err != nil {
		t.Fatalf("ParseEnvelope: %v", err)
	}
	if env.EventTimestamp.Nanosecond() != 589123000 || env.CorrelationID != "3f0c9c1e-52a4-4c53-9b0e-3a1b2c4d5e6f" {
		t.Errorf("parsed %+v", env)
	}
	data, err := Decode[essayProvisioned](env)
	if err != nil || data.EssayID != "essay-1" {
		t.Errorf("Decode = %+v, %v", data, err)
	}
}

func TestParseEnvelopeRejectsMalformedInput(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"not json", `{"event_id":`, "unexpected end"},
		{"bad uuid", `{"event_id":"nope"}`, "invalid UUID"},
		{"missing fields", `{"event_id":"0b5e7a36-9a8f-4d8e-8d71-6b2f3c0a9e11","data":{}}`, "event_type is empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseEnvelope([]byte(tc.in))
			if !errors.Is(err, ErrInvalidEnvelope) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want ErrInvalidEnvelope mentioning %q", err, tc.want)
			}
		})
	}
}

func TestNewEnvelopeSetsDefaults(t *testing.T) {
	before := time.Now()
	env, err := NewEnvelope(TypeClassCreatedV1, "class_management", map[string]string{"class_id": "c1"})
	if err != nil {
		t.Fatal(err)
	}
	if env.EventID.Version() != 4 {
		t.Errorf("event id %s is version %d, want a random UUIDv4", env.EventID, env.EventID.Version())
	}
	if env.EventTimestamp.Location() != time.UTC || env.EventTimestamp.Before(before.Add(-time.Second)) {
		t.Errorf("timestamp %v, want now in UTC", env.EventTimestamp)
	}
	if env.SchemaVersion != CurrentSchemaVersion {
		t.Errorf("schema version %d", env.SchemaVersion)
	}
	if _, err := uuid.Parse(env.CorrelationID); err != nil {
		t.Errorf("correlation id %q is not a new UUID: %v", env.CorrelationID, err)
	}
	other, _ := NewEnvelope(TypeClassCreatedV1, "class_management", 1)
	if other.EventID == env.EventID || other.CorrelationID == env.CorrelationID {
		t.Error("two envelopes share a random id")
	}
}

func TestNewEnvelopeAppliesOptions(t *testing.T) {
	local := time.Date(2025, 1, 2, 3, 4, 5, 0, time.FixedZone("CET", 3600))
	env, err := NewEnvelope(TypeStudentCreatedV1, "class_management", struct{}{},
		WithEventID(goldenID), WithTimestamp(local), WithCorrelationID("corr"),
		WithDataSchemaURI("urn:schema"), WithSchemaVersion(3),
		WithMetadata(map[string]any{"a": 1, "b": 2}), WithMetadata(map[string]any{"b": 3}))
	if err != nil {
		t.Fatal(err)
	}
	if env.EventID != goldenID || !env.EventTimestamp.Equal(local) || env.EventTimestamp.Location() != time.UTC ||
		env.CorrelationID != "corr" || env.DataSchemaURI != "urn:schema" || env.SchemaVersion != 3 ||
		env.Metadata["a"] != 1 || env.Metadata["b"] != 3 {
		t.Errorf("options not applied: %+v", env)
	}
}

func TestNewEnvelopeRejectsDataThatDoesNotEncode(t *testing.T) {
	for _, tc := range []struct {
		name string
		data any
	}{
		{"channel", make(chan int)},
		{"function", func() {}},
		{"NaN", math.NaN()},
		{"NaN in struct", struct{ Score float64 }{math.Inf(1)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env, err := NewEnvelope(TypeSpellcheckCompletedV1, "spellchecker", tc.data)
			if env != nil || !errors.Is(err, ErrInvalidEnvelope) || !strings.Contains(err.Error(), "data") {
				t.Errorf("NewEnvelope = %v, %v; want ErrInvalidEnvelope naming data", env, err)
			}
		})
	}
}

func TestNewEnvelopeRejectsMetadataThatDoesNotEncode(t *testing.T) {
	env, err := NewEnvelope(TypeSpellcheckCompletedV1, "spellchecker", struct{}{},
		WithMetadata(map[string]any{"attempt": math.NaN()}))
	if env != nil || !errors.Is(err, ErrInvalidEnvelope) || !strings.Contains(err.Error(), "metadata") {
		t.Errorf("NewEnvelope = %v, %v; want ErrInvalidEnvelope naming metadata", env, err)
	}
}

func TestWithMetadataCopiesTheCallersMap(t *testing.T) {
	md := map[string]any{"attempt": 1}
	env, err := NewEnvelope(TypeClassCreatedV1, "class_management", struct{}{}, WithMetadata(md))
	if err != nil {
		t.Fatal(err)
	}
	md["attempt"], md["later"] = 2, true
	if env.Metadata["attempt"] != 1 || len(env.Metadata) != 1 {
		t.Errorf("metadata %v changed with the caller's map, want {attempt: 1}", env.Metadata)
	}
}

func TestValidateNamesTheFieldsAtFault(t *testing.T) {
	valid := func() *Envelope {
		return &Envelope{EventID: goldenID, EventType: "T", EventTimestamp: goldenTime,
			SourceService: "s", SchemaVersion: 1, Data: json.RawMessage(`{}`)}
	}
	for _, tc := range []struct {
		name   string
		mutate func(*Envelope)
		want   []string
	}{
		{"missing event type", func(e *Envelope) { e.EventType = "" }, []string{"event_type"}},
		{"missing source", func(e *Envelope) { e.SourceService = "" }, []string{"source_service"}},
		{"nil event id", func(e *Envelope) { e.EventID = uuid.Nil }, []string{"event_id"}},
		{"zero timestamp", func(e *Envelope) { e.EventTimestamp = time.Time{} }, []string{"event_timestamp"}},
		{"schema version 0", func(e *Envelope) { e.SchemaVersion = 0 }, []string{"schema_version is 0"}},
		{"empty data", func(e *Envelope) { e.Data = nil }, []string{"data is empty"}},
		{"invalid JSON data", func(e *Envelope) { e.Data = json.RawMessage(`{"a":`) }, []string{"data is not valid JSON"}},
		{"several at once", func(e *Envelope) { e.EventType, e.SourceService = "", "" },
			[]string{"event_type", "source_service"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := valid()
			tc.mutate(e)
			err := e.Validate()
			if !errors.Is(err, ErrInvalidEnvelope) {
				t.Fatalf("Validate = %v, want ErrInvalidEnvelope", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not name %q", err, w)
				}
			}
		})
	}
	if err := valid().Validate(); err != nil {
		t.Errorf("valid envelope: %v", err)
	}
	var nilEnv *Envelope
	if err := nilEnv.Validate(); !errors.Is(err, ErrInvalidEnvelope) {
		t.Errorf("nil envelope: %v", err)
	}
}

func TestDecodeReportsTypeMismatch(t *testing.T) {
	env := goldenEnvelope(t)
	if _, err := Decode[[]int](env); !errors.Is(err, ErrInvalidEnvelope) || !strings.Contains(err.Error(), TypeEssayContentProvisionedV1) {
		t.Errorf("Decode into wrong type: %v", err)
	}
	if _, err := Decode[essayProvisioned](nil); !errors.Is(err, ErrInvalidEnvelope) {
		t.Errorf("Decode(nil): %v", err)
	}
}

func TestDeterministicIDIsStableUUIDv5(t *testing.T) {
	a := DeterministicID(Namespace, TypeEssayContentProvisionedV1, "essay-1")
	b := DeterministicID(Namespace, TypeEssayContentProvisionedV1, "essay-1")
	if a != b {
		t.Fatalf("same inputs gave %s and %s", a, b)
	}
	if a.Version() != 5 {
		t.Errorf("version %d, want 5", a.Version())
	}
	// Pinned: a change here would give replayed events new ids and defeat
	// deduplication across a deploy.
	if want := "28c1e69f-9142-5f53-88da-0e5faa9c940b"; a.String() != want {
		t.Errorf("DeterministicID = %s, want the pinned %s", a, want)
	}
	if want := "a9cad4aa-4527-54a6-9f84-b0eecdb290d7"; Namespace.String() != want {
		t.Errorf("Namespace = %s, want the pinned %s", Namespace, want)
	}
}

// The documented name, "<byte length>:<part>" per part, is what other
// languages reproduce; the length is in bytes, not characters.
func TestDeterministicIDHashesByteLengthPrefixedParts(t *testing.T) {
	got := DeterministicID(Namespace, "åsa", "e-1")
	want := uuid.NewSHA1(Namespace, []byte("4:åsa3:e-1"))
	if got != want {
		t.Errorf("DeterministicID = %s, want the UUIDv5 of \"4:åsa3:e-1\" (%s)", got, want)
	}
}

func TestDeterministicIDSeparatesParts(t *testing.T) {
	ids := map[uuid.UUID][]string{}
	for _, parts := range [][]string{{"ab", "c"}, {"a", "bc"}, {"abc"}, {"abc", ""}, {}} {
		id := DeterministicID(Namespace, parts...)
		if prev, ok := ids[id]; ok {
			t.Errorf("%q and %q share id %s", prev, parts, id)
		}
		ids[id] = parts
	}
	if DeterministicID(uuid.NameSpaceDNS, "x") == DeterministicID(Namespace, "x") {
		t.Error("namespace does not change the id")
	}
}
