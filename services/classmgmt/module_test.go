package classmgmt_test

import (
	"testing"

	"github.com/huleedu/huleedu/servicekit/servicekittest"
	"github.com/huleedu/huleedu/services/classmgmt"
)

func TestModuleWiring(t *testing.T) {
	servicekittest.CheckWiring(t, classmgmt.Spec(), servicekittest.Want{
		Breakers: []string{},
		Topics:   []string{},
		API:      true,
		Database: true,
	})
}
