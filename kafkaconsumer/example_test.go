package kafkaconsumer_test

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/huleedu/huleedu/embeddedkafka"
	"github.com/huleedu/huleedu/event"
	"github.com/huleedu/huleedu/kafkabus"
	"github.com/huleedu/huleedu/kafkaconsumer"
)

// A program reads a topic back: a consumer group without a dead-letter
// publisher, so a record it cannot handle stops it instead of being
// skipped.
func Example() {
	cluster, err := embeddedkafka.Start(embeddedkafka.Config{Brokers: 1, Topics: []string{"essays"}})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer cluster.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	bus, err := kafkabus.NewKafkaBus(kafkabus.Options{Brokers: cluster.Addrs()})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer bus.Close(context.Background())
	for _, title := range []string{"Hamlet", "Macbeth"} {
		env, _ := event.NewEnvelope("essay.submitted.v1", "example", map[string]string{"title": title})
		if err := bus.Publish(ctx, "essays", "one-key", env); err != nil {
			fmt.Println(err)
			return
		}
	}

	got := make(chan string)
	c, err := kafkaconsumer.New(kafkaconsumer.Options{
		Brokers: cluster.Addrs(),
		Group:   "essay-reader",
		Handlers: map[string]kafkaconsumer.Handler{"essays": func(ctx context.Context, env *event.Envelope) error {
			select {
			case got <- env.EventType + " " + string(env.Data):
				return nil
			case <-ctx.Done(): // Stop gave up waiting
				return ctx.Err()
			}
		}},
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := c.Start(); err != nil {
		fmt.Println(err)
		return
	}
	for range 2 {
		select {
		case line := <-got:
			fmt.Println(line)
		case <-c.Done(): // a record it could not handle
			fmt.Println(c.Err())
		case <-ctx.Done():
			fmt.Println(ctx.Err())
		}
	}
	if err := c.Stop(ctx); err != nil {
		fmt.Println(err)
	}
	// Output:
	// essay.submitted.v1 {"title":"Hamlet"}
	// essay.submitted.v1 {"title":"Macbeth"}
}
