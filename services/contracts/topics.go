package contracts

import (
	"errors"
	"fmt"
	"slices"

	"github.com/huleedu/huleedu/event"
)

// Event types the services publish that package event does not name. They
// follow the original platform's event names.
const (
	// TypeEssaySpellcheckRequestedV1 is ELS's per-essay spellcheck request
	// (the original's EssayLifecycleSpellcheckRequestV1).
	TypeEssaySpellcheckRequestedV1 = "EssaySpellcheckRequestedV1"
	// TypeELSBatchPhaseOutcomeV1 is ELS's report that every essay of a
	// batch has a result for one phase.
	TypeELSBatchPhaseOutcomeV1 = "ELSBatchPhaseOutcomeV1"
)

// Topics of the event types added by this package. The names are the
// original platform's.
const (
	// TopicEssaySpellcheckRequestedV1: Essay Lifecycle → Spellchecker, one
	// essay to check.
	TopicEssaySpellcheckRequestedV1 = "huleedu.essay.spellcheck.requested.v1"
	// TopicELSBatchPhaseOutcomeV1: Essay Lifecycle → Batch Orchestrator, a
	// phase finished for every essay of a batch.
	TopicELSBatchPhaseOutcomeV1 = "huleedu.els.batch.phase.outcome.v1"
)

var extraTopicByType = map[string]string{
	TypeEssaySpellcheckRequestedV1: TopicEssaySpellcheckRequestedV1,
	TypeELSBatchPhaseOutcomeV1:     TopicELSBatchPhaseOutcomeV1,
	TypeLLMComparisonResultV1:      TopicLLMComparisonResultV1,
	TypeLLMComparisonFailedV1:      TopicLLMComparisonResultV1,
}

// TopicFor returns the topic of eventType: one of package event's, or one
// added here. An unknown type is an error wrapping
// event.ErrUnknownEventType.
func TopicFor(eventType string) (string, error) {
	if t, ok := extraTopicByType[eventType]; ok {
		return t, nil
	}
	t, err := event.TopicFor(eventType)
	if errors.Is(err, event.ErrUnknownEventType) {
		return "", fmt.Errorf("%w: %q has no topic in package event or services/contracts", event.ErrUnknownEventType, eventType)
	}
	return t, err
}

// MustTopic is TopicFor for the constants of this module, where a missing
// topic is a programming error found by the first test that runs the code.
func MustTopic(eventType string) string {
	t, err := TopicFor(eventType)
	if err != nil {
		panic(err)
	}
	return t
}

// Topics returns every topic the services publish to or consume from,
// sorted: package event's topics plus the ones added here. A test cluster
// or a deployment creates these up front.
func Topics() []string {
	topics := event.Topics()
	for _, t := range extraTopicByType {
		topics = append(topics, t)
	}
	slices.Sort(topics)
	return slices.Compact(topics)
}

// EventTypes returns every event type with a topic, sorted.
func EventTypes() []string {
	types := event.EventTypes()
	for t := range extraTopicByType {
		types = append(types, t)
	}
	slices.Sort(types)
	return types
}
