package batchorchestrator_test

import (
	"testing"

	"github.com/huleedu/huleedu/event"
	"github.com/huleedu/huleedu/servicekit/servicekittest"
	"github.com/huleedu/huleedu/services/batchorchestrator"
	"github.com/huleedu/huleedu/services/contracts"
)

func TestModuleWiring(t *testing.T) {
	servicekittest.CheckWiring(t, batchorchestrator.Spec(), servicekittest.Want{
		Breakers: []string{"batch_orchestrator_service.batch_conductor"},
		Topics:   []string{event.TopicBatchEssaysReady, contracts.TopicELSBatchPhaseOutcomeV1},
		API:      true,
		Database: true,
	})
}
