package bench

import (
	"testing"

	"github.com/huleedu/huleedu/internal/pgtest"
)

// TestMain checks that the benchmarks leave no goroutine behind: every
// cluster, client, bus and spool they start must be closed (pgtest.Main
// runs goleak). It also stops the PostgreSQL server the outbox benchmarks
// started.
func TestMain(m *testing.M) {
	pgtest.Main(m)
}
