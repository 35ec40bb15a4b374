package kafkaconsumer

import (
	"testing"

	"go.uber.org/goleak"
)

// Consumers start franz-go clients and the tests kfake clusters; every
// one of their goroutines must be gone when the tests end.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
