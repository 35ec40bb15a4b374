package kafkacontract

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/huleedu/huleedu/event"
	"github.com/huleedu/huleedu/kafkabus"
)

// Kafka lists a new topic's partitions and leaders in its metadata before
// the leaders have created the partitions' logs, and answers a produce
// meanwhile with UNKNOWN_TOPIC_OR_PARTITION; kfake creates them at once.
// A record of a topic the metadata lists is therefore not "for an
// unknown topic": publishing the moment a topic is created must never be
// refused with ErrUnknownTopic. (A record for a topic that does not exist
// is, see TestRefusedRecordsAreReturnedNotQueued.)
func TestPublishTheMomentATopicIsCreatedIsNotRefused(t *testing.T) {
	c := kafka(t)
	const topics = 4
	var names []string
	for i := range topics {
		names = append(names, topicName(t, fmt.Sprint(i)))
	}
	obs := newObserver()
	kb, err := kafkabus.NewKafkaBus(kafkabus.Options{Brokers: c.Addrs(), PublishTimeout: publishTimeout, Logger: obs.logger("new-topics")})
	if err != nil {
		t.Fatal(err)
	}
	defer kb.Close(context.Background())
	// The metadata of every topic first, so that no publish below can
	// run before its topic exists at all.
	resp, err := c.Admin().CreateTopics(context.Background(), 6, 3, nil, names...)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, topics*6)
	for _, topic := range names {
		for k := range 6 {
			wg.Go(func() {
				rec := event.Record{Topic: topic, Key: fmt.Appendf(nil, "key-%d", k), Value: []byte("v")}
				for {
					err := kb.Produce(context.Background(), []event.Record{rec})[0]
					if err == nil || !kafkabus.IsRetriable(err) {
						errs <- err
						return
					}
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	t.Logf("Kafka answered UNKNOWN_TOPIC_OR_PARTITION for a listed partition: %v\n\t%s", obs.sawLogged(kerr.UnknownTopicOrPartition), obs.summary())
	for err := range errs {
		if errors.Is(err, kafkabus.ErrUnknownTopic) {
			t.Fatalf("a record for a topic that exists was refused: %v", err)
		}
		if err != nil {
			t.Fatalf("publish to a new topic: %v", err)
		}
	}
}
