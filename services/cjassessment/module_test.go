package cjassessment_test

import (
	"testing"

	"github.com/huleedu/huleedu/event"
	"github.com/huleedu/huleedu/servicekit/servicekittest"
	"github.com/huleedu/huleedu/services/cjassessment"
	"github.com/huleedu/huleedu/services/contracts"
)

func TestModuleWiring(t *testing.T) {
	servicekittest.CheckWiring(t, cjassessment.Spec(), servicekittest.Want{
		Breakers: []string{"cj_assessment_service.file_service", "cj_assessment_service.llm_provider_service"},
		Topics:   []string{event.TopicBatchCJAssessmentRequested, contracts.TopicLLMComparisonResultV1},
		API:      true,
	})
}
