package essaylifecycle_test

import (
	"testing"

	"github.com/huleedu/huleedu/event"
	"github.com/huleedu/huleedu/servicekit/servicekittest"
	"github.com/huleedu/huleedu/services/essaylifecycle"
)

func TestModuleWiring(t *testing.T) {
	servicekittest.CheckWiring(t, essaylifecycle.Spec(), servicekittest.Want{
		Breakers: []string{},
		Topics: []string{event.TopicBatchEssaysRegistered, event.TopicEssayContentProvisionedV1, event.TopicEssayValidationFailedV1,
			event.TopicBatchSpellcheckRequested, event.TopicSpellcheckCompletedV1, event.TopicBatchCJAssessmentRequested,
			event.TopicCJAssessmentCompletedV1},
		API:      true,
		Database: true,
	})
}
