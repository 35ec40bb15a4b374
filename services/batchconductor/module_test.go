package batchconductor_test

import (
	"testing"

	"github.com/huleedu/huleedu/servicekit/servicekittest"
	"github.com/huleedu/huleedu/services/batchconductor"
)

func TestModuleWiring(t *testing.T) {
	servicekittest.CheckWiring(t, batchconductor.Spec(), servicekittest.Want{
		Breakers: []string{},
		Topics:   []string{},
		API:      true,
	})
}
