package spellchecker_test

import (
	"testing"

	"github.com/huleedu/huleedu/servicekit/servicekittest"
	"github.com/huleedu/huleedu/services/contracts"
	"github.com/huleedu/huleedu/services/spellchecker"
)

func TestModuleWiring(t *testing.T) {
	servicekittest.CheckWiring(t, spellchecker.Spec(), servicekittest.Want{
		Breakers: []string{"spellchecker_service.file_service"},
		Topics:   []string{contracts.TopicEssaySpellcheckRequestedV1},
		API:      true,
		Database: true,
	})
}
