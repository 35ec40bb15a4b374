package llmprovider_test

import (
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/huleedu/huleedu/internal/testwait"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testwait.For(t, 10*time.Second, what, cond)
}
