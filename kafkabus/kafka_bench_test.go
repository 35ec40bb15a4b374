package kafkabus

import (
	"context"
	"testing"

	"github.com/huleedu/huleedu/embeddedkafka"
	"github.com/huleedu/huleedu/event"
)

// benchBus returns a bus on a one-broker kfake cluster whose busTopic has
// the given partitions; both close when the benchmark ends.
func benchBus(b *testing.B, partitions int32) *KafkaBus {
	b.Helper()
	c, err := embeddedkafka.Start(embeddedkafka.Config{Brokers: 1, Partitions: partitions, Topics: []string{busTopic}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(c.Close)
	bus, err := NewKafkaBus(Options{Brokers: c.Addrs()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { bus.Close(context.Background()) })
	return bus
}

// BenchmarkKafkaBusPublish measures one acknowledged (acks=all) Publish
// against an in-process kfake broker: the client-side cost plus a loopback
// round trip, not a real cluster's latency.
func BenchmarkKafkaBusPublish(b *testing.B) {
	bus := benchBus(b, 1)
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
	bus := benchBus(b, 3)
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
