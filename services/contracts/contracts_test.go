package contracts_test

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/huleedu/huleedu/event"
	"github.com/huleedu/huleedu/services/contracts"
	"github.com/huleedu/huleedu/services/contracts/contractstest"
)

func TestTopicForKnowsEveryEventType(t *testing.T) {
	for _, typ := range contracts.EventTypes() {
		topic, err := contracts.TopicFor(typ)
		if err != nil || !strings.HasPrefix(topic, "huleedu.") {
			t.Errorf("TopicFor(%s) = %q, %v", typ, topic, err)
		}
	}
	for _, typ := range []string{contracts.TypeEssaySpellcheckRequestedV1, contracts.TypeELSBatchPhaseOutcomeV1, event.TypeBatchEssaysReady} {
		if !slices.Contains(contracts.EventTypes(), typ) {
			t.Errorf("EventTypes lacks %s", typ)
		}
	}
	if _, err := contracts.TopicFor("NoSuchEvent"); !errors.Is(err, event.ErrUnknownEventType) {
		t.Errorf("unknown type: %v", err)
	}
}

func TestTopicsAreEventTopicsPlusAdded(t *testing.T) {
	topics := contracts.Topics()
	if len(topics) != len(event.Topics())+3 || !slices.IsSorted(topics) {
		t.Fatalf("Topics() = %v", topics)
	}
	for _, want := range []string{contracts.TopicEssaySpellcheckRequestedV1, contracts.TopicELSBatchPhaseOutcomeV1, contracts.TopicLLMComparisonResultV1, event.TopicBatchEssaysReady} {
		if !slices.Contains(topics, want) {
			t.Errorf("Topics() lacks %s", want)
		}
	}
}

func TestPublishToTopicOverridesTheTypesTopic(t *testing.T) {
	pub, bus := newPublisher(t)
	msg := contracts.Message{EventType: contracts.TypeLLMComparisonResultV1, Topic: "callers.own.topic", Key: "r-1",
		Identity: []string{"r-1"}, Data: contracts.LLMComparisonResultV1{RequestID: "r-1"}}
	if err := pub.Publish(context.Background(), msg); err != nil {
		t.Fatal(err)
	}
	msg.Topic = ""
	if err := pub.Publish(context.Background(), msg); err != nil {
		t.Fatal(err)
	}
	all := bus.All()
	if all[0].Topic != "callers.own.topic" || all[1].Topic != contracts.TopicLLMComparisonResultV1 {
		t.Errorf("topics %q and %q, want the override, then the type's topic", all[0].Topic, all[1].Topic)
	}
	msg.EventType, msg.Topic = "NoSuchEvent", "callers.own.topic"
	if err := pub.Publish(context.Background(), msg); !errors.Is(err, contracts.ErrInvalidMessage) {
		t.Errorf("unknown type with a topic: %v, want ErrInvalidMessage", err)
	}
}

func newPublisher(t *testing.T) (*contracts.Publisher, *contractstest.Bus) {
	t.Helper()
	bus := contractstest.NewBus()
	pub, err := contracts.NewPublisher(bus, "test_service", func() time.Time { return time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC) })
	if err != nil {
		t.Fatal(err)
	}
	return pub, bus
}

func TestPublishGivesSameFactsTheSameEventID(t *testing.T) {
	pub, bus := newPublisher(t)
	msg := contracts.Message{EventType: event.TypeBatchEssaysReady, Key: "b-1", Identity: []string{"b-1"},
		Data: contracts.BatchEssaysReady{BatchID: "b-1"}, CorrelationID: "corr"}
	for range 2 {
		if err := pub.Publish(context.Background(), msg); err != nil {
			t.Fatal(err)
		}
	}
	msg.Identity = []string{"b-2"}
	if err := pub.Publish(context.Background(), msg); err != nil {
		t.Fatal(err)
	}
	all := bus.All()
	if all[0].Envelope.EventID != all[1].Envelope.EventID || all[0].Envelope.EventID == all[2].Envelope.EventID {
		t.Errorf("ids %s %s %s: want the first two equal, the third different", all[0].Envelope.EventID, all[1].Envelope.EventID, all[2].Envelope.EventID)
	}
	e := all[0]
	if e.Topic != event.TopicBatchEssaysReady || e.Key != "b-1" || e.Envelope.SourceService != "test_service" ||
		e.Envelope.CorrelationID != "corr" || e.Envelope.EventID.String() != contracts.EventID(event.TypeBatchEssaysReady, "b-1") ||
		!e.Envelope.EventTimestamp.Equal(time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)) {
		t.Errorf("published %+v / %+v", e, e.Envelope)
	}
}

func TestPublishRejectsInvalidMessages(t *testing.T) {
	pub, bus := newPublisher(t)
	tests := map[string]contracts.Message{
		"no type":       {Identity: []string{"x"}, Data: 1},
		"unknown type":  {EventType: "Nope", Identity: []string{"x"}, Data: 1},
		"no identity":   {EventType: event.TypeBatchEssaysReady, Data: 1},
		"not JSON data": {EventType: event.TypeBatchEssaysReady, Identity: []string{"x"}, Data: make(chan int)},
	}
	for name, m := range tests {
		if err := pub.Publish(context.Background(), m); !errors.Is(err, contracts.ErrInvalidMessage) || contracts.IsPublishError(err) {
			t.Errorf("%s: err = %v, want ErrInvalidMessage (and not a publish error)", name, err)
		}
	}
	if len(bus.All()) != 0 {
		t.Error("an invalid message was published")
	}
}

func TestPublishErrorKeepsBusErrorVisible(t *testing.T) {
	pub, bus := newPublisher(t)
	errDown := errors.New("kafka down")
	bus.FailNext(1, errDown)
	err := pub.Publish(context.Background(), contracts.Message{EventType: event.TypeBatchEssaysReady, Identity: []string{"b"}, Data: 1})
	if !errors.Is(err, errDown) || !contracts.IsPublishError(err) {
		t.Errorf("err = %v: want errors.Is the bus error and IsPublishError", err)
	}
	if contracts.IsPublishError(errDown) || contracts.IsPublishError(nil) {
		t.Error("IsPublishError true for a plain error")
	}
}

func TestNewPublisherRequiresBusAndSource(t *testing.T) {
	if _, err := contracts.NewPublisher(nil, "s", nil); err == nil {
		t.Error("nil bus accepted")
	}
	if _, err := contracts.NewPublisher(contractstest.NewBus(), "", nil); err == nil {
		t.Error("empty source accepted")
	}
}

var snakeCase = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// jsonKeys returns the JSON keys of v's type, recursively.
func jsonKeys(t reflect.Type, out map[string]bool) {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || t == reflect.TypeFor[time.Time]() {
		return
	}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		out[name] = true
		jsonKeys(f.Type, out)
	}
}

func TestPayloadFieldsAreSnakeCase(t *testing.T) {
	payloads := []any{
		contracts.EssayContentProvisionedV1{}, contracts.EssayValidationFailedV1{}, contracts.BatchFileAddedV1{},
		contracts.ClassCreatedV1{}, contracts.StudentCreatedV1{}, contracts.StudentAssociatedV1{},
		contracts.BatchEssaysRegistered{}, contracts.BatchEssaysReady{}, contracts.BatchSpellcheckRequested{},
		contracts.EssaySpellcheckRequestedV1{}, contracts.SpellcheckCompletedV1{}, contracts.BatchCJAssessmentRequested{},
		contracts.CJAssessmentCompletedV1{}, contracts.ELSBatchPhaseOutcomeV1{}, contracts.BatchPipelineCompletedV1{},
	}
	for _, p := range payloads {
		keys := map[string]bool{}
		jsonKeys(reflect.TypeOf(p), keys)
		for k := range keys {
			if !snakeCase.MatchString(k) {
				t.Errorf("%T: JSON key %q is not snake_case", p, k)
			}
		}
	}
}

func TestPayloadsHaveThePlatformFieldNames(t *testing.T) {
	tests := []struct {
		payload any
		keys    []string
	}{
		{contracts.EssayContentProvisionedV1{}, []string{"batch_id", "file_upload_id", "file_name", "content_id", "size"}},
		{contracts.EssayValidationFailedV1{}, []string{"batch_id", "file_name", "reason", "validation_error_code"}},
		{contracts.BatchEssaysRegistered{}, []string{"batch_id", "expected_essay_count", "course_code", "essay_ids", "requested_pipeline"}},
		{contracts.BatchEssaysReady{}, []string{"batch_id", "essays", "essay_id", "content_id"}},
		{contracts.SpellcheckCompletedV1{}, []string{"batch_id", "essay_id", "corrections", "word", "suggestion", "offset", "error_count"}},
		{contracts.CJAssessmentCompletedV1{}, []string{"batch_id", "rankings", "essay_id", "rank", "score"}},
		{contracts.BatchPipelineCompletedV1{}, []string{"batch_id", "completed_phases", "completed_at", "final_status"}},
	}
	for _, tt := range tests {
		keys := map[string]bool{}
		jsonKeys(reflect.TypeOf(tt.payload), keys)
		for _, k := range tt.keys {
			if !keys[k] {
				t.Errorf("%T has no JSON field %q", tt.payload, k)
			}
		}
	}
}

func TestPayloadsRoundTripThroughEnvelope(t *testing.T) {
	in := contracts.SpellcheckCompletedV1{BatchID: "b", EssayID: "e", Status: contracts.ResultSuccess, ErrorCount: 1,
		Corrections: []contracts.SpellcheckCorrection{{Word: "teh", Suggestion: "the", Offset: 3}}}
	env, err := event.NewEnvelope(event.TypeSpellcheckCompletedV1, "s", in)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(env)
	parsed, err := event.ParseEnvelope(raw)
	if err != nil {
		t.Fatal(err)
	}
	out, err := event.Decode[contracts.SpellcheckCompletedV1](parsed)
	if err != nil || !reflect.DeepEqual(in, out) {
		t.Errorf("round trip: %+v, %v", out, err)
	}
}

func TestOutcomeStatus(t *testing.T) {
	tests := []struct {
		ok, failed int
		want       string
	}{
		{3, 0, contracts.StatusCompletedSuccessfully},
		{2, 1, contracts.StatusCompletedWithFailures},
		{0, 2, contracts.StatusFailedCritically},
		{0, 0, contracts.StatusFailedCritically},
	}
	for _, tt := range tests {
		if got := contracts.OutcomeStatus(tt.ok, tt.failed); got != tt.want {
			t.Errorf("OutcomeStatus(%d, %d) = %s, want %s", tt.ok, tt.failed, got, tt.want)
		}
	}
}

func TestEssaySlotIDIsDeterministicPerBatchAndIndex(t *testing.T) {
	a, b := contracts.EssaySlotID("b-1", 0), contracts.EssaySlotID("b-1", 0)
	if a != b || a == contracts.EssaySlotID("b-1", 1) || a == contracts.EssaySlotID("b-2", 0) {
		t.Error("EssaySlotID is not a function of (batch, index) alone")
	}
}

func TestInvalidEventIsDeadLetteredAtOnceAndNamesTheEvent(t *testing.T) {
	env, err := event.NewEnvelope(event.TypeBatchEssaysReady, "s", contracts.BatchEssaysReady{})
	if err != nil {
		t.Fatal(err)
	}
	err = contracts.InvalidEvent(env, "batch_id is empty (%d essays)", 3)
	if !errors.Is(err, event.ErrInvalidEnvelope) {
		t.Errorf("%v does not wrap event.ErrInvalidEnvelope: the consumer would retry it", err)
	}
	for _, want := range []string{env.EventType, env.EventID.String(), "batch_id is empty (3 essays)"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q does not name %q", err, want)
		}
	}
}
