package kafkabus

import (
	"testing"

	"go.uber.org/goleak"
)

// KafkaBus tests start franz-go clients and kfake clusters; all of their
// goroutines must be gone when the tests end. This is the package's only
// TestMain.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
