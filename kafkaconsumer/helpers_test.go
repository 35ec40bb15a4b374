package kafkaconsumer

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/huleedu/huleedu/embeddedkafka"
	"github.com/huleedu/huleedu/event"
	"github.com/huleedu/huleedu/internal/testwait"
)

// topicA is the tests' topic; its dead-letter topic exists too.
const topicA = "kafkaconsumer.test.a"

// newCluster starts a one-broker cluster with the test topic and its
// dead-letter topic.
func newCluster(t *testing.T) *embeddedkafka.Cluster {
	t.Helper()
	return embeddedkafka.NewTestCluster(t, embeddedkafka.Config{
		Brokers:    1,
		Partitions: 2,
		Topics:     []string{topicA, DeadLetterTopic(topicA)},
		// Short sessions, so a member that vanished without leaving is
		// replaced in about a second.
		BrokerConfigs: map[string]string{"group.min.session.timeout.ms": "100"},
	})
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
	env, err := event.NewEnvelope(event.TypeBatchFileAddedV1, "kafkaconsumer_test", json.RawMessage(data),
		event.WithCorrelationID("corr-"+uuid.NewString()))
	if err != nil {
		t.Fatal(err)
	}
	return env
}

// produce writes recs straight to the cluster and fails the test if one
// is not acknowledged.
func produce(t *testing.T, c *embeddedkafka.Cluster, recs ...*kgo.Record) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Addrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.ProduceSync(testContext(t, 10*time.Second), recs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
}

// envelopeRecord encodes env for topic as the bus would.
func envelopeRecord(t *testing.T, topic string, env *event.Envelope) *kgo.Record {
	t.Helper()
	rec, err := env.Record(topic, env.EventID.String())
	if err != nil {
		t.Fatal(err)
	}
	kr := &kgo.Record{Topic: rec.Topic, Key: rec.Key, Value: rec.Value}
	for _, h := range rec.Headers {
		kr.Headers = append(kr.Headers, kgo.RecordHeader{Key: h.Key, Value: h.Value})
	}
	return kr
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

func header(r *kgo.Record, key string) string {
	for _, h := range r.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}
