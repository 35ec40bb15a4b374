package apachekafka

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// TestMain checks that every proxy, admin client and process-watching
// goroutine is gone when the tests end. Run as the child of an orphan test
// (orphanEnv set), it starts a cluster and dies instead.
func TestMain(m *testing.M) {
	if mode := os.Getenv(orphanEnv); mode != "" {
		orphanChild(mode)
		return
	}
	goleak.VerifyTestMain(m)
}

// install returns the Kafka install for tests that run JVMs, fetching the
// jars if needed. Without Java, or where the fetch fails, the test is
// skipped, unless HULEEDU_KAFKA_REQUIRED or CI is set (scripts/test.sh
// installs both): there a missing Kafka fails.
func install(t *testing.T) *Install {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	inst, err := Fetch(ctx, os.Stderr)
	if err != nil {
		if os.Getenv("HULEEDU_KAFKA_REQUIRED") != "" || os.Getenv("CI") != "" {
			t.Fatalf("Apache Kafka is required here: %v", err)
		}
		t.Skipf("no Apache Kafka: %v", err)
	}
	return inst
}

// startCluster starts a cluster that the test closes.
func startCluster(t *testing.T, cfg Config) *Cluster {
	t.Helper()
	cfg.Install = install(t)
	c, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Error(err)
		}
	})
	return c
}

// processGone reports whether pid has exited: no such process, or a
// zombie that nobody has reaped yet (its parent died with it).
func processGone(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	// The state follows the parenthesised command name.
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2] == 'Z'
	}
	return false
}
