package servicekit

import (
	"testing"

	"go.uber.org/goleak"
)

// Apps start franz-go clients, HTTP servers, drainers and kfake clusters;
// every one of their goroutines must be gone when the tests end.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
