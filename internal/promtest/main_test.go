package promtest_test

import (
	"testing"

	"go.uber.org/goleak"
)

// Start runs a process and a goroutine waiting for it, and the tests run
// HTTP servers and clients: all of them must be gone when the tests end.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
