package bench

import (
	"context"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/huleedu/huleedu/event"
	"github.com/huleedu/huleedu/internal/apachekafka"
	"github.com/huleedu/huleedu/kafkabus"
	"github.com/huleedu/huleedu/resilience"
)

// The Apache Kafka benchmarks run the paired comparisons of kafka_test.go,
// and a recovery measurement of their own, on a real cluster: three
// brokers with a dedicated controller (package apachekafka), replication
// factor 3, min.insync.replicas 2, acks=all. One cluster serves every
// run of every benchmark of the process (starting one takes seconds, and
// go test calls a benchmark function more than once); TestMain closes it.
// The jars are fetched on first use (Maven); without Java the benchmarks
// are skipped, saying why.

var (
	apacheOnce    sync.Once
	apacheCluster *apachekafka.Cluster
	apacheErr     error
)

// apacheBrokerJVM gives the brokers the optimising compiler and a larger
// heap: the launcher's defaults are for fast start-ups, and a broker
// without C2 would be the bottleneck of every comparison.
var apacheBrokerJVM = []string{"-XX:TieredStopAtLevel=4", "-Xmx768m"}

// apache returns the shared cluster, starting it on first use, or skips
// the benchmark when Apache Kafka cannot run here.
func apache(b *testing.B) *apachekafka.Cluster {
	b.Helper()
	apacheOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		inst, err := apachekafka.Fetch(ctx, os.Stderr)
		if err != nil {
			apacheErr = err
			return
		}
		apacheCluster, apacheErr = apachekafka.Start(ctx, apachekafka.Config{
			Nodes:               3,
			DedicatedController: true,
			Partitions:          benchPartitions,
			Topics:              []string{benchTopic},
			// The benchmarks write gigabytes; a partition keeps its
			// last 32 MB.
			TopicConfigs:  map[string]string{"retention.bytes": "33554432", "segment.bytes": "8388608"},
			BrokerConfigs: map[string]string{"log.retention.check.interval.ms": "5000"},
			JVMOptions:    apacheBrokerJVM,
			Install:       inst,
		})
	})
	if apacheErr != nil {
		if os.Getenv("HULEEDU_KAFKA_REQUIRED") != "" {
			b.Fatalf("Apache Kafka is required here: %v", apacheErr)
		}
		b.Skipf("no Apache Kafka: %v", apacheErr)
	}
	return apacheCluster
}

// closeApache closes the shared cluster if a benchmark started it.
func closeApache() error {
	if apacheCluster == nil {
		return nil
	}
	return apacheCluster.Close()
}

// BenchmarkApacheHealthy is BenchmarkKafkaHealthy on Apache Kafka: the
// healthy path of ResilientBus against raw franz-go ProduceSync, same
// client settings, same goroutines, alternating rounds.
func BenchmarkApacheHealthy(b *testing.B) { benchmarkHealthy(b, apache(b).Addrs()) }

// BenchmarkApacheDrain is BenchmarkDrain on Apache Kafka: a backlog in a
// disk spool replayed by the drainer against raw franz-go batches of
// the same size.
func BenchmarkApacheDrain(b *testing.B) { benchmarkDrain(b, apache(b).Addrs()) }

// recoveryTimeout is the breaker's recovery timeout in
// BenchmarkApacheRecovery; its target is this plus a second.
const recoveryTimeout = 2 * time.Second

// BenchmarkApacheRecovery measures how long after Kafka comes back the
// first record queued during the outage is in Kafka again. Each
// iteration cuts every client connection (the proxies in front of the
// brokers), publishes until the breaker is open and records are queued
// in a disk spool, keeps the outage a little longer (a different share of
// the recovery timeout each time, so that the heal falls at different
// points of the breaker's wait), heals, and times until the drainer has
// replayed a record. The breaker probes only after RecoveryTimeout, so
// the time is at most about that: the figure is return-to-replay-ms, the
// largest over the iterations.
func BenchmarkApacheRecovery(b *testing.B) {
	c := apache(b)
	ctx := context.Background()
	kb, err := kafkabus.NewKafkaBus(kafkabus.Options{Brokers: c.Addrs(), PublishTimeout: time.Second})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { kb.Close(context.Background()) })
	if err := kb.Produce(ctx, []event.Record{benchRecord(0)})[0]; err != nil {
		b.Fatalf("warm-up produce: %v", err)
	}
	cb, err := resilience.NewCircuitBreaker(resilience.Settings{Name: "kafka", FailureThreshold: 3, RecoveryTimeout: recoveryTimeout, SuccessThreshold: 1})
	if err != nil {
		b.Fatal(err)
	}
	bus := newResilient(b, kb, cb, openDisk(b, 0, nil), 0)
	var times []time.Duration
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		if err := c.Fault(apachekafka.FaultCut); err != nil {
			b.Fatal(err)
		}
		for n := 0; cb.State() != resilience.StateOpen || bus.Queue().Stats().Records < 100; n++ {
			if err := bus.PublishRecord(ctx, benchRecord(n)); err != nil {
				b.Fatal(err)
			}
		}
		time.Sleep(time.Duration(i%4) * recoveryTimeout / 4)
		replayed := bus.Stats().Replayed
		if err := c.Heal(); err != nil {
			b.Fatal(err)
		}
		back := time.Now()
		b.StartTimer()
		waitUntil(b, time.Minute, 100*time.Microsecond, "the first replayed record", func() bool { return bus.Stats().Replayed > replayed })
		times = append(times, time.Since(back))
		b.StopTimer()
		waitUntil(b, time.Minute, time.Millisecond, "the spool to drain", func() bool { return bus.Queue().Stats().Records == 0 })
	}
	b.StopTimer()
	b.ReportMetric(float64(slices.Max(times))/float64(time.Millisecond), "return-to-replay-ms")
}
