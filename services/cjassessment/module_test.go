package cjassessment_test

import (
	"testing"

	"github.com/huleedu/huleedu/event"
	"github.com/huleedu/huleedu/servicekit/servicekittest"
	"github.com/huleedu/huleedu/services/cjassessment"
)

func TestModuleWiring(t *testing.T) {
	servicekittest.CheckWiring(t, cjassessment.Spec(), servicekittest.Want{
		Breakers: []string{"cj_assessment_service.file_service", "cj_assessment_service.judge"},
		Topics:   []string{event.TopicBatchCJAssessmentRequested},
		API:      true,
		Database: true,
	})
}
