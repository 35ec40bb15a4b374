package e2e

import (
	"testing"

	"github.com/huleedu/huleedu/internal/pgtest"
)

// Every service, client, drainer, relay and the cluster must be gone when
// the tests end (pgtest.Main checks, after stopping the PostgreSQL server
// of the tests that run on it).
func TestMain(m *testing.M) { pgtest.Main(m) }
