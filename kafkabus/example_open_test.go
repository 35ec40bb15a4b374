package kafkabus_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/huleedu/huleedu/embeddedkafka"
	"github.com/huleedu/huleedu/event"
	"github.com/huleedu/huleedu/kafkabus"
)

// The whole publishing side from one Config: a ResilientBus with a disk
// spool. Records accepted while Kafka is away stay on disk until they are
// delivered; Close returns nil, since nothing accepted is lost.
func ExampleOpen() {
	cluster, err := embeddedkafka.Start(embeddedkafka.Config{Topics: []string{"essays"}})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer cluster.Close()
	dir, _ := os.MkdirTemp("", "spool")
	defer os.RemoveAll(dir)

	pub, err := kafkabus.Open(kafkabus.Config{
		Options:  kafkabus.Options{Brokers: cluster.Addrs(), ClientID: "file_service", PublishTimeout: time.Second},
		Breaker:  kafkabus.BreakerConfig{FailureThreshold: 1, RecoveryTimeout: time.Hour},
		Fallback: kafkabus.FallbackConfig{Mode: kafkabus.FallbackDisk, Dir: dir},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	env, _ := event.NewEnvelope("essay.submitted.v1", "file_service", map[string]string{"essay_id": "e1"})
	fmt.Println("published:", pub.Publish(context.Background(), "essays", "e1", env))

	_ = cluster.Fault(embeddedkafka.FaultCut) // Kafka goes away, and stays away
	fmt.Println("accepted during the outage:", pub.Publish(context.Background(), "essays", "e1", env))
	fmt.Println("spooled:", pub.Resilient.Stats().Queue.Records)

	// A shutdown deadline: the drain cannot finish, the record stays in
	// the spool for the next start.
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	fmt.Println("close:", pub.Close(ctx))

	// A bad value is refused before anything is opened, naming the field.
	_, err = kafkabus.Open(kafkabus.Config{
		Options: kafkabus.Options{Brokers: []string{"kafka:9092"}},
		Breaker: kafkabus.BreakerConfig{FailureThreshold: -1},
	})
	var ce *kafkabus.ConfigError
	fmt.Println(errors.As(err, &ce), ce.Field, ce.Want)
	// Output:
	// published: <nil>
	// accepted during the outage: <nil>
	// spooled: 1
	// close: <nil>
	// true Breaker.FailureThreshold must be between 1 and 1000000
}
