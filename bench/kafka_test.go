package bench

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/huleedu/huleedu/resilience"
	"github.com/huleedu/huleedu/spool"
)

// Rounds of the paired Kafka benchmarks: long enough that per-round costs
// (waking the drainer, starting goroutines) do not matter, short enough
// that both sides see the same load.
const (
	healthyRound  = 20_000
	healthyWarmup = 2_000 // untimed records per side before the rounds
	drainRound    = 25_000
	drainWarmup   = drainRound // untimed records per side before the rounds
)

// BenchmarkKafkaHealthy compares the healthy path of ResilientBus (breaker
// closed, queue empty: PublishRecord goes straight to Kafka) with raw
// franz-go: kgo.Client.ProduceSync of the same records from the same number
// of goroutines (publishers), on a client with the same settings (a
// KafkaBus's own client: acks=all, idempotent), to the same 3-broker kfake
// cluster. b.N records go through each, in alternating rounds (see
// interleave); the figures are resilient-records/s, raw-records/s and
// their ratio.
//
// ResilientBus gets its records already encoded (PublishRecord), as raw
// franz-go does, so that envelope encoding, which the raw client would not
// do, is not counted against the bus.
func BenchmarkKafkaHealthy(b *testing.B) { benchmarkHealthy(b, newCluster(b)) }

// benchmarkHealthy is BenchmarkKafkaHealthy on the cluster at addrs, which
// has the benchmark topic.
func benchmarkHealthy(b *testing.B, addrs []string) {
	ctx := context.Background()
	cl := rawClient(b, addrs)
	cb, err := resilience.NewCircuitBreaker(resilience.Settings{Name: "kafka"})
	if err != nil {
		b.Fatal(err)
	}
	bus := newResilient(b, newKafkaBus(b, addrs), cb, openDisk(b, 0, nil), 0)
	resilient := side{"resilient", func(n int) time.Duration {
		return publishConcurrently(b, n, publishers, func(i int) error {
			return bus.PublishRecord(ctx, benchRecord(i))
		})
	}}
	raw := side{"raw", func(n int) time.Duration {
		return publishConcurrently(b, n, publishers, func(i int) error {
			return cl.ProduceSync(ctx, kgoRecord(i)).FirstErr()
		})
	}}
	// Warm up both: every partition's first batch, goroutine stacks.
	resilient.run(healthyWarmup)
	raw.run(healthyWarmup)
	b.ResetTimer()
	interleave(b, b.N, healthyRound, resilient, raw)
	b.StopTimer()
	if st := bus.Stats(); st.Published != uint64(b.N+healthyWarmup) || st.Spooled != 0 {
		b.Fatalf("healthy path: published %d, spooled %d of %d records; want all published directly", st.Published, st.Spooled, b.N+healthyWarmup)
	}
}

// drainBatch is ResilientOptions.DrainBatch's default: the drainer replays
// up to this many records per produce, and the raw baseline sends batches
// of the same size.
const drainBatch = 500

// BenchmarkDrain measures how fast a backlog reaches Kafka once Kafka is
// back. Each round of the resilient side publishes its records while the
// breaker is forced open (so they land in a disk spool; not timed), then
// Resets the breaker and times until the drainer has replayed them all. The
// raw side produces the same number of records with franz-go, in
// sequential ProduceSync batches of drainBatch, the way the drainer sends
// them. Both to the same kfake cluster; rounds alternate (see interleave).
//
// The drainer wakes when the breaker leaves the open state, so the Reset
// starts the replay at once (OpenPoll, a millisecond here, is only the
// fallback).
//
// Run it with a fixed count (-benchtime 100000x): the fill is not timed,
// so a time-based benchtime would run far longer than it says.
func BenchmarkDrain(b *testing.B) { benchmarkDrain(b, newCluster(b)) }

// benchmarkDrain is BenchmarkDrain on the cluster at addrs, which has the
// benchmark topic.
func benchmarkDrain(b *testing.B, addrs []string) {
	ctx := context.Background()
	cl := rawClient(b, addrs)
	cb := openBreaker(b)
	bus := newResilient(b, newKafkaBus(b, addrs), cb, openDisk(b, spoolBytes(drainRound)+1<<20, nil), time.Millisecond)

	recs := make([]*kgo.Record, drainRound)
	// The raw records' values, one after another in one array, as the
	// drainer's are in the spool's read buffers: a record whose value is
	// the one shared benchValue would be copied into franz-go's batch from
	// the same 1 KiB of cache every time, which no producer of real
	// records does (measured here: raw about 10% faster that way). Written
	// afresh before every round, as an application writes the values it is
	// about to produce: made once and left to go cold, they made raw
	// 30-40% slower, which measured the cache rather than franz-go.
	values := make([]byte, drainRound*len(benchValue))
	replayed := uint64(0)
	resilient := side{"resilient", func(n int) time.Duration {
		b.StopTimer()
		cb.ForceOpen()
		publishConcurrently(b, n, publishers, func(i int) error {
			return bus.PublishRecord(ctx, benchRecord(i))
		})
		if q := bus.Queue().Stats().Records; q != int64(n) {
			b.Fatalf("%d records queued while open, want %d", q, n)
		}
		b.StartTimer()
		start := time.Now()
		cb.Reset()
		replayed += uint64(n)
		// Polled every 50 µs: every millisecond would add half a
		// millisecond to every round of about 30 ms.
		waitUntil(b, 10*time.Minute, 50*time.Microsecond, "the spool to drain", func() bool { return bus.Stats().Replayed == replayed })
		return time.Since(start)
	}}
	raw := side{"raw", func(n int) time.Duration {
		// Fresh records every round, made before the clock starts:
		// franz-go stamps a record it is given without a timestamp, and
		// times a batch out by its first record's.
		b.StopTimer()
		for i := range n {
			v := values[i*len(benchValue) : (i+1)*len(benchValue) : (i+1)*len(benchValue)]
			copy(v, benchValue)
			recs[i] = kgoRecord(i)
			recs[i].Value = v
		}
		b.StartTimer()
		start := time.Now()
		for lo := 0; lo < n; lo += drainBatch {
			if err := cl.ProduceSync(ctx, recs[lo:min(lo+drainBatch, n)]...).FirstErr(); err != nil {
				b.Fatal(err)
			}
		}
		return time.Since(start)
	}}
	// Warm up both with one untimed round: the first replay of a fresh
	// bus pays for its read buffers, franz-go's first large batches and
	// kfake's, which no later drain does (in a service, once per process).
	resilient.run(drainWarmup)
	raw.run(drainWarmup)
	b.ResetTimer()
	interleave(b, b.N, drainRound, resilient, raw)
	b.StopTimer()
	if st := bus.Queue().Stats(); st.Records != 0 {
		b.Fatalf("%d records still queued after all %d were replayed", st.Records, b.N)
	}
}

// spoolBytes is what n benchmark records take in a disk spool.
func spoolBytes(n int) int64 {
	r := benchRecord(0)
	return int64(n) * spool.FrameSize(&r)
}
