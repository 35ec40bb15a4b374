package event

import (
	"errors"
	"regexp"
	"strings"
	"testing"
)

func TestTopicForMapsEveryEventType(t *testing.T) {
	for _, tc := range []struct{ typ, topic string }{
		{TypeEssayContentProvisionedV1, "huleedu.file.essay.content.provisioned.v1"},
		{TypeEssayValidationFailedV1, "huleedu.file.essay.validation.failed.v1"},
		{TypeBatchFileAddedV1, "huleedu.file.batch.file.added.v1"},
		{TypeClassCreatedV1, "huleedu.class.created.v1"},
		{TypeStudentCreatedV1, "huleedu.class.student.created.v1"},
		{TypeStudentAssociatedV1, "huleedu.class.essay.association.updated.v1"},
		{TypeBatchEssaysRegistered, "huleedu.batch.essays.registered.v1"},
		{TypeBatchEssaysReady, "huleedu.els.batch.essays.ready.v1"},
		{TypeBatchSpellcheckRequested, "huleedu.els.spellcheck.initiate.command.v1"},
		{TypeSpellcheckCompletedV1, "huleedu.essay.spellcheck.completed.v1"},
		{TypeBatchCJAssessmentRequested, "huleedu.batch.cj_assessment.initiate.command.v1"},
		{TypeCJAssessmentCompletedV1, "huleedu.cj_assessment.completed.v1"},
		{TypeBatchPipelineCompletedV1, "huleedu.batch.pipeline.completed.v1"},
	} {
		got, err := TopicFor(tc.typ)
		if err != nil || got != tc.topic {
			t.Errorf("TopicFor(%s) = %q, %v; want %q", tc.typ, got, err, tc.topic)
		}
	}
	if n := len(EventTypes()); n != 13 {
		t.Errorf("%d event types, want 13", n)
	}
}

func TestTopicForUnknownTypeListsKnownTypes(t *testing.T) {
	_, err := TopicFor("EssayDeletedV9")
	if !errors.Is(err, ErrUnknownEventType) {
		t.Fatalf("err = %v", err)
	}
	if !strings.Contains(err.Error(), "EssayDeletedV9") || !strings.Contains(err.Error(), TypeClassCreatedV1) {
		t.Errorf("error %q should name the type and list the known ones", err)
	}
}

func TestTopicsAreDistinctLegalKafkaNames(t *testing.T) {
	legal := regexp.MustCompile(`^[a-zA-Z0-9._-]{1,249}$`)
	seen := map[string]bool{}
	for _, topic := range Topics() {
		if !legal.MatchString(topic) {
			t.Errorf("%q is not a legal Kafka topic name", topic)
		}
		if seen[topic] {
			t.Errorf("%q used twice", topic)
		}
		seen[topic] = true
	}
}
