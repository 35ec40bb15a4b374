package fileservice_test

import (
	"testing"

	"github.com/huleedu/huleedu/servicekit/servicekittest"
	"github.com/huleedu/huleedu/services/fileservice"
)

func TestModuleWiring(t *testing.T) {
	servicekittest.CheckWiring(t, fileservice.Spec(), servicekittest.Want{
		Breakers: []string{},
		Topics:   []string{},
		API:      true,
		Database: true,
	})
}
