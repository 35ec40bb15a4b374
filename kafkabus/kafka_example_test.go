package kafkabus_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/huleedu/huleedu/embeddedkafka"
	"github.com/huleedu/huleedu/event"
	"github.com/huleedu/huleedu/kafkabus"
)

func ExampleKafkaBus_Publish() {
	cluster, err := embeddedkafka.Start(embeddedkafka.Config{Topics: []string{event.TopicClassCreatedV1}})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer cluster.Close()

	bus, err := kafkabus.NewKafkaBus(kafkabus.Options{Brokers: cluster.Addrs(), ClientID: "class_management"})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer bus.Close(context.Background())

	env, _ := event.NewEnvelope(event.TypeClassCreatedV1, "class_management", map[string]string{"class_id": "c-1"})
	err = bus.Publish(context.Background(), event.TopicClassCreatedV1, "c-1", env)
	fmt.Println("published:", err)

	err = bus.Publish(context.Background(), "huleedu.no.such.topic.v1", "c-1", env)
	fmt.Println("unknown topic:", errors.Is(err, kafkabus.ErrUnknownTopic), "retriable:", kafkabus.IsRetriable(err))
	// Output:
	// published: <nil>
	// unknown topic: true retriable: false
}

func ExampleIsRetriable() {
	cluster, err := embeddedkafka.Start(embeddedkafka.Config{Topics: []string{"orders"}})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer cluster.Close()
	bus, _ := kafkabus.NewKafkaBus(kafkabus.Options{Brokers: cluster.Addrs(), PublishTimeout: 300 * time.Millisecond})
	defer bus.Close(context.Background())
	env, _ := event.NewEnvelope("OrderPlacedV1", "shop", map[string]int{"order": 1})

	_ = cluster.Fault(embeddedkafka.FaultCut) // brokers unreachable
	err = bus.Publish(context.Background(), "orders", "o-1", env)
	switch {
	case err == nil:
		fmt.Println("acknowledged")
	case kafkabus.IsRetriable(err):
		fmt.Println("Kafka unavailable: keep the record and replay it later")
	default:
		fmt.Println("rejected for good:", err)
	}
	// Output: Kafka unavailable: keep the record and replay it later
}
