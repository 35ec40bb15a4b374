package event

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Event types the services publish. The names are the original platform's
// event class names; an envelope's event_type holds one of them.
const (
	TypeEssayContentProvisionedV1  = "EssayContentProvisionedV1"
	TypeEssayValidationFailedV1    = "EssayValidationFailedV1"
	TypeBatchFileAddedV1           = "BatchFileAddedV1"
	TypeClassCreatedV1             = "ClassCreatedV1"
	TypeStudentCreatedV1           = "StudentCreatedV1"
	TypeStudentAssociatedV1        = "StudentAssociatedV1"
	TypeBatchEssaysRegistered      = "BatchEssaysRegistered"
	TypeBatchEssaysReady           = "BatchEssaysReady"
	TypeBatchSpellcheckRequested   = "BatchSpellcheckRequested"
	TypeSpellcheckCompletedV1      = "SpellcheckCompletedV1"
	TypeBatchCJAssessmentRequested = "BatchCJAssessmentRequested"
	TypeCJAssessmentCompletedV1    = "CJAssessmentCompletedV1"
	TypeBatchPipelineCompletedV1   = "BatchPipelineCompletedV1"
)

// Kafka topics, one per event type. The names are the original platform's
// (common_core.event_enums topic mapping), so Go and Python services share
// topics during a migration.
const (
	// TopicEssayContentProvisionedV1: File Service → Essay Lifecycle, an
	// essay's text is stored and ready.
	TopicEssayContentProvisionedV1 = "huleedu.file.essay.content.provisioned.v1"
	// TopicEssayValidationFailedV1: File Service → Essay Lifecycle, an
	// uploaded file could not become an essay.
	TopicEssayValidationFailedV1 = "huleedu.file.essay.validation.failed.v1"
	// TopicBatchFileAddedV1: File Service, a file joined a batch.
	TopicBatchFileAddedV1 = "huleedu.file.batch.file.added.v1"
	// TopicClassCreatedV1: Class Management, a class was created.
	TopicClassCreatedV1 = "huleedu.class.created.v1"
	// TopicStudentCreatedV1: Class Management, a student was created.
	TopicStudentCreatedV1 = "huleedu.class.student.created.v1"
	// TopicStudentAssociatedV1: Class Management, an essay was associated
	// with a student (the original's essay association topic).
	TopicStudentAssociatedV1 = "huleedu.class.essay.association.updated.v1"
	// TopicBatchEssaysRegistered: Batch Orchestrator → Essay Lifecycle, a
	// batch and its expected essays were registered.
	TopicBatchEssaysRegistered = "huleedu.batch.essays.registered.v1"
	// TopicBatchEssaysReady: Essay Lifecycle → Batch Orchestrator, every
	// essay of a batch has content.
	TopicBatchEssaysReady = "huleedu.els.batch.essays.ready.v1"
	// TopicBatchSpellcheckRequested: the command that starts the spellcheck
	// phase of a batch.
	TopicBatchSpellcheckRequested = "huleedu.els.spellcheck.initiate.command.v1"
	// TopicSpellcheckCompletedV1: Spellchecker, an essay was spellchecked.
	TopicSpellcheckCompletedV1 = "huleedu.essay.spellcheck.completed.v1"
	// TopicBatchCJAssessmentRequested: the command that starts the
	// comparative judgement phase of a batch.
	TopicBatchCJAssessmentRequested = "huleedu.batch.cj_assessment.initiate.command.v1"
	// TopicCJAssessmentCompletedV1: CJ Assessment, a batch was ranked.
	TopicCJAssessmentCompletedV1 = "huleedu.cj_assessment.completed.v1"
	// TopicBatchPipelineCompletedV1: Batch Orchestrator, a batch went
	// through its whole pipeline.
	TopicBatchPipelineCompletedV1 = "huleedu.batch.pipeline.completed.v1"
)

var topicByType = map[string]string{
	TypeEssayContentProvisionedV1:  TopicEssayContentProvisionedV1,
	TypeEssayValidationFailedV1:    TopicEssayValidationFailedV1,
	TypeBatchFileAddedV1:           TopicBatchFileAddedV1,
	TypeClassCreatedV1:             TopicClassCreatedV1,
	TypeStudentCreatedV1:           TopicStudentCreatedV1,
	TypeStudentAssociatedV1:        TopicStudentAssociatedV1,
	TypeBatchEssaysRegistered:      TopicBatchEssaysRegistered,
	TypeBatchEssaysReady:           TopicBatchEssaysReady,
	TypeBatchSpellcheckRequested:   TopicBatchSpellcheckRequested,
	TypeSpellcheckCompletedV1:      TopicSpellcheckCompletedV1,
	TypeBatchCJAssessmentRequested: TopicBatchCJAssessmentRequested,
	TypeCJAssessmentCompletedV1:    TopicCJAssessmentCompletedV1,
	TypeBatchPipelineCompletedV1:   TopicBatchPipelineCompletedV1,
}

// TopicFor returns the topic that events of eventType are published to.
// An unknown type is an error wrapping ErrUnknownEventType that lists the
// known types: every event meant for Kafka needs a deliberate topic.
func TopicFor(eventType string) (string, error) {
	if t, ok := topicByType[eventType]; ok {
		return t, nil
	}
	return "", fmt.Errorf("%w: %q has no topic; known types: %s",
		ErrUnknownEventType, eventType, strings.Join(EventTypes(), ", "))
}

// EventTypes returns every event type that has a topic, sorted.
func EventTypes() []string { return slices.Sorted(maps.Keys(topicByType)) }

// Topics returns every platform topic, sorted: what a test cluster or a
// deployment creates up front.
func Topics() []string { return slices.Sorted(maps.Values(topicByType)) }
