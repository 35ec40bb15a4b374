package bench

import (
	"fmt"
	"os"
	"testing"

	"github.com/huleedu/huleedu/internal/pgtest"
)

// TestMain checks that the benchmarks leave no goroutine behind: every
// cluster, client, bus and spool they start must be closed (pgtest.Main
// runs goleak). The Apache Kafka cluster shared by the benchmarks that use
// it, and the PostgreSQL server the outbox benchmarks started, are
// stopped first.
func TestMain(m *testing.M) {
	pgtest.Main(apacheClosing{m})
}

// apacheClosing runs the tests and benchmarks and then closes the shared
// Apache Kafka cluster, before goleak looks for goroutines.
type apacheClosing struct{ m *testing.M }

func (a apacheClosing) Run() int {
	code := a.m.Run()
	if err := closeApache(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		code = 1
	}
	return code
}
