package servicekit

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/huleedu/huleedu/embeddedkafka"
	"github.com/huleedu/huleedu/event"
	"github.com/huleedu/huleedu/internal/testwait"
	"github.com/huleedu/huleedu/kafkaconsumer"
)

// Topics of the tests; each has its dead-letter topic in the cluster.
const (
	topicA = "servicekit.test.a"
	topicB = "servicekit.test.b"
)

// newCluster starts a one-broker cluster with the test topics and their
// dead-letter topics.
func newCluster(t *testing.T) *embeddedkafka.Cluster {
	t.Helper()
	return embeddedkafka.NewTestCluster(t, embeddedkafka.Config{
		Brokers:    1,
		Partitions: 2,
		Topics:     kafkaconsumer.WithDeadLetterTopics([]string{topicA, topicB}),
		// Short sessions, so a member that vanished without leaving (a
		// halted app) is replaced in about a second.
		BrokerConfigs: map[string]string{"group.min.session.timeout.ms": "100"},
	})
}

// testEnv is an environment with a cluster and fast timings, for service.
func testEnv(service string, c *embeddedkafka.Cluster, extra ...string) Env {
	environ := []string{
		"KAFKA_BOOTSTRAP_SERVERS=" + strings.Join(c.Addrs(), ","),
		"KAFKA_PUBLISH_TIMEOUT=500ms",
		"KAFKA_CIRCUIT_BREAKER_FAILURE_THRESHOLD=1",
		"KAFKA_CIRCUIT_BREAKER_RECOVERY_TIMEOUT=100ms",
		"KAFKA_CIRCUIT_BREAKER_SUCCESS_THRESHOLD=1",
		"KAFKA_CONSUMER_RETRY_BACKOFF=5ms",
		"KAFKA_CONSUMER_RETRY_MAX_BACKOFF=20ms",
		"KAFKA_CONSUMER_SESSION_TIMEOUT=1s",
		"KAFKA_METADATA_MIN_AGE=100ms",
		"SHUTDOWN_TIMEOUT=10s",
		"LOG_LEVEL=error",
	}
	return NewEnv(service, append(environ, extra...))
}

// testContext is a context that ends with the test, at most after d.
func testContext(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// newEnvelope returns a valid envelope with a fresh id.
func newEnvelope(t *testing.T, data string) *event.Envelope {
	t.Helper()
	env, err := event.NewEnvelope(event.TypeBatchFileAddedV1, "servicekit_test", json.RawMessage(data),
		event.WithCorrelationID("corr-"+uuid.NewString()))
	if err != nil {
		t.Fatal(err)
	}
	return env
}

// readTopic returns every record of topic now in the cluster.
func readTopic(t *testing.T, c *embeddedkafka.Cluster, topic string) []*kgo.Record {
	t.Helper()
	recs, err := embeddedkafka.ReadAll(testContext(t, 20*time.Second), c.Addrs(), topic)
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

// waitFor polls cond until it holds or d passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	testwait.For(t, d, what, cond)
}

// getJSON fetches url and decodes the JSON body into v; it returns the
// status code.
func getJSON(t *testing.T, url string, v any) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if v != nil {
		if err := json.Unmarshal(body, v); err != nil {
			t.Fatalf("GET %s: %v in %s", url, err, body)
		}
	}
	return resp.StatusCode
}

func header(r *kgo.Record, key string) string {
	for _, h := range r.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}
