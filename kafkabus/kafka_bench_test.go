package kafkabus

import (
	"context"
	"testing"

	"github.com/huleedu/huleedu/event"
	"github.com/huleedu/huleedu/internal/kafkatest"
)

// BenchmarkKafkaBusPublish measures one acknowledged (acks=all) Publish
// against an in-process kfake broker: the client-side cost plus a loopback
// round trip, not a real cluster's latency.
func BenchmarkKafkaBusPublish(b *testing.B) {
	c, err := kafkatest.Start(kafkatest.Config{Brokers: 1, Partitions: 1, Topics: []string{busTopic}})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	bus, err := NewKafkaBus(Options{Brokers: c.Addrs()})
	if err != nil {
		b.Fatal(err)
	}
	defer bus.Close(context.Background())
	env, _ := event.NewEnvelope("BenchV1", "bench", map[string]int{"n": 1})
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := bus.Publish(ctx, busTopic, "k", env); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkKafkaBusPublishParallel shows concurrent publishers sharing
// batches while a request is in flight (Linger 0).
func BenchmarkKafkaBusPublishParallel(b *testing.B) {
	c, err := kafkatest.Start(kafkatest.Config{Brokers: 1, Partitions: 3, Topics: []string{busTopic}})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	bus, err := NewKafkaBus(Options{Brokers: c.Addrs()})
	if err != nil {
		b.Fatal(err)
	}
	defer bus.Close(context.Background())
	env, _ := event.NewEnvelope("BenchV1", "bench", map[string]int{"n": 1})
	b.ReportAllocs()
	b.SetParallelism(16)
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		for pb.Next() {
			if err := bus.Publish(ctx, busTopic, "k", env); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
