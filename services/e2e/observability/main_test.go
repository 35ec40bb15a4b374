package observability

import (
	"testing"

	"go.uber.org/goleak"
)

// Every service, client, Prometheus and the cluster must be gone when the
// tests end.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
