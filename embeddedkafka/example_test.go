package embeddedkafka_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/huleedu/huleedu/embeddedkafka"
	"github.com/huleedu/huleedu/event"
)

func ExampleCluster_Fault() {
	c, err := embeddedkafka.Start(embeddedkafka.Config{Topics: []string{"orders"}})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	cl, _ := kgo.NewClient(kgo.SeedBrokers(c.Addrs()...),
		kgo.AllowIdempotentProduceCancellation(), // let the record's context fail it in flight
		// franz-go may queue a produce request behind a connection
		// set-up; short set-up timeouts keep a blackhole from stalling it.
		kgo.RequestTimeoutOverhead(250*time.Millisecond), kgo.DisableClientMetrics())
	defer cl.Close()
	produce := func(v string) error {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		defer cancel()
		return cl.ProduceSync(ctx, &kgo.Record{Topic: "orders", Value: []byte(v)}).FirstErr()
	}

	_ = c.Fault(embeddedkafka.FaultBlackhole)
	err = produce("lost in the blackhole")
	fmt.Println("during the fault:", errors.Is(err, context.DeadlineExceeded))
	_ = c.Heal()
	fmt.Println("after heal:", produce("delivered"))
	// Output:
	// during the fault: true
	// after heal: <nil>
}

func ExampleReadAll() {
	c, err := embeddedkafka.Start(embeddedkafka.Config{Topics: []string{"orders"}, Partitions: 1})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	cl, _ := kgo.NewClient(kgo.SeedBrokers(c.Addrs()...))
	defer cl.Close()
	ctx := context.Background()
	for _, v := range []string{"a", "b"} {
		_ = cl.ProduceSync(ctx, &kgo.Record{Topic: "orders", Value: []byte(v)}).FirstErr()
	}
	recs, err := embeddedkafka.ReadAll(ctx, c.Addrs(), "orders")
	for _, r := range recs {
		fmt.Println(r.Offset, string(r.Value))
	}
	fmt.Println(err)
	// Output:
	// 0 a
	// 1 b
	// <nil>
}

func ExampleReadEnvelopes() {
	c, err := embeddedkafka.Start(embeddedkafka.Config{Topics: []string{"essays"}, Partitions: 1})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	cl, _ := kgo.NewClient(kgo.SeedBrokers(c.Addrs()...))
	defer cl.Close()
	ctx := context.Background()
	env, _ := event.NewEnvelope("EssaySubmittedV1", "example", map[string]string{"essay_id": "e1"})
	rec, _ := env.Record("essays", "e1")
	_ = cl.ProduceSync(ctx, &kgo.Record{Topic: rec.Topic, Key: rec.Key, Value: rec.Value}).FirstErr()

	envs, err := embeddedkafka.ReadEnvelopes(ctx, c.Addrs(), "essays")
	for _, e := range envs {
		fmt.Println(e.EventType, e.SourceService, e.EventID == env.EventID)
	}
	fmt.Println(err)
	// Output:
	// EssaySubmittedV1 example true
	// <nil>
}
