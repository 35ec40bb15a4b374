package servicekit

import (
	"testing"

	"github.com/huleedu/huleedu/internal/pgtest"
)

// Apps start franz-go clients, HTTP servers, drainers, relays and kfake
// clusters; every one of their goroutines must be gone when the tests end
// (pgtest.Main checks, after stopping the PostgreSQL server the database
// tests share).
func TestMain(m *testing.M) { pgtest.Main(m) }
