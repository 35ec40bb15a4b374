package servicegroup

import (
	"testing"

	"go.uber.org/goleak"
)

// Every service of a group starts franz-go clients, servers and drainers;
// all their goroutines must be gone when the tests end, also after a
// start that failed half way.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
