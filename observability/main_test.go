package observability_test

import (
	"strconv"
	"testing"

	"go.uber.org/goleak"
)

// SetupTracing starts batch exporters and the tests start HTTP servers: every
// goroutine must be gone when the tests end.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func formatFloat(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
