package event_test

import (
	"fmt"
	"time"

	"github.com/huleedu/huleedu/event"
)

type essayProvisioned struct {
	EssayID string `json:"essay_id"`
}

func ExampleNewEnvelope() {
	env, err := event.NewEnvelope(event.TypeEssayContentProvisionedV1, "file_service",
		essayProvisioned{EssayID: "essay-1"},
		event.WithCorrelationID("batch-7"),
		event.WithTimestamp(time.Date(2025, 3, 14, 9, 0, 0, 0, time.UTC)))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(env.EventType, env.SourceService, env.SchemaVersion, string(env.Data))
	// Output: EssayContentProvisionedV1 file_service 1 {"essay_id":"essay-1"}
}

func ExampleDeterministicID() {
	// The same business facts give the same id, so a replayed event is
	// recognisable as a duplicate.
	id := event.DeterministicID(event.Namespace, event.TypeEssayContentProvisionedV1, "essay-1")
	again := event.DeterministicID(event.Namespace, event.TypeEssayContentProvisionedV1, "essay-1")
	fmt.Println(id, id == again)
	// Output: 28c1e69f-9142-5f53-88da-0e5faa9c940b true
}

func ExampleEnvelope_Record() {
	env, _ := event.NewEnvelope(event.TypeClassCreatedV1, "class_management",
		map[string]string{"class_id": "c-1"}, event.WithCorrelationID("req-1"))
	topic, _ := event.TopicFor(env.EventType)
	rec, err := env.Record(topic, "c-1")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(rec.Topic, string(rec.Key), string(rec.Header(event.HeaderEventType)), string(rec.Header(event.HeaderCorrelationID)))
	// Output: huleedu.class.created.v1 c-1 ClassCreatedV1 req-1
}

func ExampleParseEnvelope() {
	env, err := event.ParseEnvelope([]byte(`{"event_id":"0b5e7a36-9a8f-4d8e-8d71-6b2f3c0a9e11",
		"event_type":"EssayContentProvisionedV1","event_timestamp":"2025-03-14T09:26:53+00:00",
		"source_service":"file_service","schema_version":1,"correlation_id":"batch-7",
		"data":{"essay_id":"essay-1"}}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	data, err := event.Decode[essayProvisioned](env)
	fmt.Println(data.EssayID, err)
	// Output: essay-1 <nil>
}

func ExampleTopicFor() {
	topic, err := event.TopicFor(event.TypeSpellcheckCompletedV1)
	fmt.Println(topic, err)
	_, err = event.TopicFor("NoSuchEventV1")
	fmt.Println(err != nil)
	// Output:
	// huleedu.essay.spellcheck.completed.v1 <nil>
	// true
}
