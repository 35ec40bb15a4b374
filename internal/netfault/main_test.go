package netfault

import (
	"testing"

	"go.uber.org/goleak"
)

// Every accept loop, proxy goroutine and connection must be gone when the
// tests end.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
