package embeddedkafka

import (
	"testing"

	"go.uber.org/goleak"
)

// Every kfake, listener, connection and mover goroutine must be gone when
// the tests end.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
