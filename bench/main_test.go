package bench

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks that the benchmarks leave no goroutine behind: every
// cluster, client, bus and spool they start must be closed.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
