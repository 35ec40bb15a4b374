package kafkabus_test

import (
	"context"
	"fmt"
	"time"

	"github.com/huleedu/huleedu/embeddedkafka"
	"github.com/huleedu/huleedu/event"
	"github.com/huleedu/huleedu/kafkabus"
	"github.com/huleedu/huleedu/resilience"
	"github.com/huleedu/huleedu/spool"
)

// A ResilientBus over a KafkaBus, with a memory fallback queue. During an
// outage Publish still accepts; the drainer delivers once Kafka is back.
func ExampleNewResilientBus() {
	cluster, _ := embeddedkafka.Start(embeddedkafka.Config{Topics: []string{"essays"}})
	defer cluster.Close()

	kb, _ := kafkabus.NewKafkaBus(kafkabus.Options{Brokers: cluster.Addrs(), PublishTimeout: time.Second})
	cb, _ := resilience.NewCircuitBreaker(resilience.Settings{Name: "example.kafka_producer", RecoveryTimeout: 100 * time.Millisecond})
	q, _ := spool.NewMemory(spool.MemoryOptions{MaxRecords: 1000})
	bus, _ := kafkabus.NewResilientBus(kb, kafkabus.ResilientOptions{Breaker: cb, Queue: q})

	_ = cluster.Fault(embeddedkafka.FaultCut) // Kafka goes away
	env, _ := event.NewEnvelope("essay.submitted.v1", "example", map[string]string{"essay_id": "e1"})
	err := bus.Publish(context.Background(), "essays", "e1", env)
	fmt.Println("accepted during the outage:", err == nil, "- queued:", bus.Stats().Queue.Records)

	_ = cluster.Heal() // Kafka is back: Close drains the queue before it returns
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	fmt.Println("close:", bus.Close(ctx))
	recs, _ := embeddedkafka.ReadAll(ctx, cluster.Addrs(), "essays")
	fmt.Println("in Kafka:", len(recs))
	// Output:
	// accepted during the outage: true - queued: 1
	// close: <nil>
	// in Kafka: 1
}
