package kafkabus

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/huleedu/huleedu/embeddedkafka"
	"github.com/huleedu/huleedu/event"
)

// Apache Kafka lists a new topic's partitions and leaders in its metadata
// before the leaders have created the partitions' logs, and answers a
// produce meanwhile with UNKNOWN_TOPIC_OR_PARTITION (seen in
// internal/kafkacontract's tests on a loaded machine). kfake creates a
// partition with its metadata, so its error fault stands in for Kafka
// here: the topic exists, produce says it does not. That record is not
// for an unknown topic: it fails retriably, and a ResilientBus queues it
// instead of refusing it.
func TestUnknownPartitionOfAListedTopicIsRetriable(t *testing.T) {
	c := embeddedkafka.NewTestCluster(t, embeddedkafka.Config{Topics: []string{busTopic}})
	b := newBus(t, c.Addrs(), func(o *Options) { o.PublishTimeout = 2 * time.Second })
	if err := b.Publish(context.Background(), busTopic, "k", newEnvelope(t, 0)); err != nil {
		t.Fatal(err)
	}
	if err := c.Fault(embeddedkafka.FaultError, embeddedkafka.WithError(kerr.UnknownTopicOrPartition), embeddedkafka.WithTopic(busTopic)); err != nil {
		t.Fatal(err)
	}
	err := b.Publish(context.Background(), busTopic, "k", newEnvelope(t, 1))
	if errors.Is(err, ErrUnknownTopic) || !IsRetriable(err) || !errors.Is(err, ErrUnavailable) || !errors.Is(err, kerr.UnknownTopicOrPartition) {
		t.Fatalf("publish to a listed topic whose leader does not serve it yet: %v, want retriable ErrUnavailable wrapping UNKNOWN_TOPIC_OR_PARTITION", err)
	}

	h := newKafkaHarness(t, c, nil)
	if err := h.bus.PublishRecord(context.Background(), event.Record{Topic: busTopic, Key: []byte("k"), Value: []byte("queued")}); err != nil {
		t.Fatalf("ResilientBus refused the record: %v", err)
	}
	if err := c.Heal(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the queued record delivered", func() bool { return h.bus.Stats().Queue.Records == 0 })
	if st := h.bus.Stats(); st.Rejected != 0 || st.Spooled != 1 {
		t.Fatalf("stats %+v: want the record queued, not refused", st)
	}
}
