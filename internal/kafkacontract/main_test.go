package kafkacontract

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/huleedu/huleedu/internal/apachekafka"
)

// The SASL users of the shared cluster: "denied" may describe the topics
// that grant it that and nothing else.
const (
	deniedUser = "denied"
	deniedPass = "denied-secret"
)

var (
	// started starts the cluster on the first test that asks for it, so
	// that a run whose -run filter leaves no test here starts nothing.
	started sync.Once
	// cluster is the package's Apache Kafka cluster, nil when it could
	// not start (startErr says why) or was not needed.
	cluster  *apachekafka.Cluster
	startErr error
)

// TestMain runs the tests, closes the shared cluster if one started, and
// checks that no goroutine outlives them. A child publisher of the crash
// test (crashEnv set) only publishes.
func TestMain(m *testing.M) {
	if os.Getenv(crashEnv) != "" {
		os.Exit(crashChild())
	}
	code := m.Run()
	if cluster != nil {
		if err := cluster.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "kafkacontract:", err)
			code = 1
		}
	}
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "kafkacontract: goroutines left behind:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// startCluster starts the shared cluster: three brokers, a dedicated
// controller (so that two brokers down leave a quorum) and a SASL user.
func startCluster() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	inst, err := apachekafka.Fetch(ctx, os.Stderr)
	if err != nil {
		startErr = err
		return
	}
	start := time.Now()
	cluster, startErr = apachekafka.Start(ctx, apachekafka.Config{
		Nodes:               3,
		DedicatedController: true,
		SASLUsers:           map[string]string{deniedUser: deniedPass},
		Install:             inst,
	})
	if startErr == nil {
		fmt.Fprintf(os.Stderr, "kafkacontract: Apache Kafka %s, 3 brokers and a controller, started in %v\n",
			cluster.Version(), time.Since(start).Round(100*time.Millisecond))
	}
}

// kafka returns the shared cluster, healthy, starting it for the first
// test. Without one the test is skipped, or fails where Kafka is required
// (HULEEDU_KAFKA_REQUIRED or CI set). The test heals the cluster when it
// ends, whatever it did to it.
func kafka(t *testing.T) *apachekafka.Cluster {
	t.Helper()
	started.Do(startCluster)
	if cluster == nil {
		if os.Getenv("HULEEDU_KAFKA_REQUIRED") != "" || os.Getenv("CI") != "" {
			t.Fatalf("Apache Kafka is required here: %v", startErr)
		}
		t.Skipf("no Apache Kafka: %v", startErr)
	}
	if err := cluster.WaitHealthy(context.Background()); err != nil {
		t.Fatalf("the shared cluster is not healthy at the start of the test: %v", err)
	}
	t.Cleanup(func() {
		if err := cluster.Heal(); err != nil {
			t.Errorf("healing the shared cluster: %v", err)
		}
	})
	return cluster
}
