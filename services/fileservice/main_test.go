package fileservice_test

import (
	"testing"

	"github.com/huleedu/huleedu/internal/pgtest"
)

// The store suite shares one PostgreSQL server (pgtest), stopped, and
// goroutines checked for leaks, when the tests end.
func TestMain(m *testing.M) { pgtest.Main(m) }
