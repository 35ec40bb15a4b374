package bench

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/huleedu/huleedu/event"
	"github.com/huleedu/huleedu/kafkabus"
	"github.com/huleedu/huleedu/resilience"
	"github.com/huleedu/huleedu/spool"
)

// Shared set-up of the Kafka and spool benchmarks. Every benchmark run
// (every b.N) gets a fresh kfake cluster, so that records kept in memory by
// earlier runs neither slow nor bloat later ones.

const (
	benchTopic      = "bench"
	benchPartitions = 6
	valueBytes      = 1024 // 1 KiB values, as the issue asks
	publishers      = 64   // concurrent publishing goroutines
	keys            = 256  // distinct partition keys
)

// newCluster starts a 3-broker kfake cluster with the benchmark topic and
// returns its addresses; it closes with the benchmark run. The cluster
// acknowledges produce requests without storing the records
// (BlackholeProduce): no benchmark reads them back, and a broker heap
// growing by every record produced would make each round slower than the
// last, with garbage collection that both sides of a comparison pay for
// alike. It also makes the comparisons stricter: the broker's share of the
// work, the same on both sides, gets smaller.
func newCluster(tb testing.TB) []string {
	tb.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(3), kfake.SeedTopics(benchPartitions, benchTopic), kfake.BlackholeProduce())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(c.Close)
	return c.ListenAddrs()
}

// newKafkaBus returns the project's franz-go bus (acks=all, idempotent)
// with its default options, already connected: one record is produced, so
// metadata and the producer id are in place before any timing starts.
func newKafkaBus(tb testing.TB, addrs []string) *kafkabus.KafkaBus {
	tb.Helper()
	kb, err := kafkabus.NewKafkaBus(kafkabus.Options{Brokers: addrs})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := kb.Close(ctx); err != nil {
			tb.Error(err)
		}
	})
	if err := kb.Produce(context.Background(), []event.Record{benchRecord(0)})[0]; err != nil {
		tb.Fatalf("warm-up produce: %v", err)
	}
	return kb
}

// rawClient returns the franz-go client of a KafkaBus of its own: the very
// settings ResilientBus produces with (acks=all, idempotence, timeouts,
// linger), driven directly. It is warmed up like newKafkaBus.
func rawClient(tb testing.TB, addrs []string) *kgo.Client {
	tb.Helper()
	return newKafkaBus(tb, addrs).Client()
}

// benchValue is the 1 KiB payload every benchmark record carries.
var benchValue = func() []byte {
	v := make([]byte, valueBytes)
	for i := range v {
		v[i] = byte('a' + i%26)
	}
	return v
}()

// benchKeys are the partition keys, precomputed so that no benchmark pays
// for formatting them.
var benchKeys = func() [][]byte {
	ks := make([][]byte, keys)
	for i := range ks {
		ks[i] = fmt.Appendf(nil, "essay-%03d", i)
	}
	return ks
}()

// benchRecord is record i: a 1 KiB value and the headers every envelope
// carries, on one of the benchmark's keys.
func benchRecord(i int) event.Record {
	return event.Record{
		Topic: benchTopic,
		Key:   benchKeys[i%keys],
		Value: benchValue,
		Headers: []event.Header{
			{Key: "event_id", Value: []byte("5b0a8c54-7d1e-4f0a-9a3c-2f6f3b7e9d10")},
			{Key: "event_type", Value: []byte("huleedu.essay.spellcheck.completed.v1")},
			{Key: "correlation_id", Value: []byte("0f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a")},
		},
	}
}

// kgoRecord is benchRecord(i) as franz-go takes it.
func kgoRecord(i int) *kgo.Record {
	r := benchRecord(i)
	hs := make([]kgo.RecordHeader, len(r.Headers))
	for j, h := range r.Headers {
		hs[j] = kgo.RecordHeader{Key: h.Key, Value: h.Value}
	}
	return &kgo.Record{Topic: r.Topic, Key: r.Key, Value: r.Value, Headers: hs}
}

// openBreaker returns a default breaker that is forced open.
func openBreaker(tb testing.TB) *resilience.CircuitBreaker {
	tb.Helper()
	cb, err := resilience.NewCircuitBreaker(resilience.Settings{Name: "kafka"})
	if err != nil {
		tb.Fatal(err)
	}
	cb.ForceOpen()
	return cb
}

// openDisk opens a disk spool in a fresh temporary directory, with room
// for maxBytes.
func openDisk(tb testing.TB, maxBytes int64, fs spool.FS) *spool.Disk {
	tb.Helper()
	d, err := spool.OpenDisk(tb.TempDir(), spool.DiskOptions{MaxBytes: maxBytes, FS: fs})
	if err != nil {
		tb.Fatal(err)
	}
	return d
}

// newResilient wraps kb with cb and q, with the default options except
// openPoll (0 = the default, 1s): how often the drainer asks an open
// breaker again. The bus is closed with the benchmark run, without waiting
// for the queue to drain.
func newResilient(tb testing.TB, kb *kafkabus.KafkaBus, cb *resilience.CircuitBreaker, q spool.Queue, openPoll time.Duration) *kafkabus.ResilientBus {
	tb.Helper()
	bus, err := kafkabus.NewResilientBus(kb, kafkabus.ResilientOptions{
		Breaker:  cb,
		Queue:    q,
		OpenPoll: openPoll,
	})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithCancel(context.Background())
		cancel() // do not wait for a drain: leftovers stay in the spool or are reported
		err := bus.Close(ctx)
		if err != nil && !errors.Is(err, kafkabus.ErrUndelivered) && !errors.Is(err, context.Canceled) {
			tb.Error(err)
		}
	})
	return bus
}

// publishConcurrently calls publish(i) for i in [0, n) from the given
// number of goroutines and returns how long it took. The first error stops
// the benchmark.
func publishConcurrently(tb testing.TB, n, goroutines int, publish func(i int) error) time.Duration {
	tb.Helper()
	var (
		next     atomic.Int64
		wg       sync.WaitGroup
		errOnce  sync.Once
		firstErr error
	)
	start := time.Now()
	for range goroutines {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				if err := publish(i); err != nil {
					errOnce.Do(func() { firstErr = err })
					next.Store(int64(n)) // stop everyone
					return
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if firstErr != nil {
		tb.Fatal(firstErr)
	}
	return elapsed
}

// reportRate reports n records in d as records/s.
func reportRate(b *testing.B, n int, d time.Duration) {
	b.ReportMetric(float64(n)/d.Seconds(), "records/s")
}

// side is one contender of a paired comparison: run does n iterations and
// returns how long the timed part took.
type side struct {
	name string // metric prefix: <name>-records/s
	run  func(n int) time.Duration
}

// interleave runs n iterations of ours and of base in alternating rounds of
// at most round iterations, ours first in even rounds and base first in odd
// ones, and reports <name>-records/s for both and ratio = ours/base
// throughput. On a machine shared with other work the load drifts over
// seconds; measured in alternation, both sides see the same drift, so their
// ratio is far steadier than that of two benchmarks run one after the
// other.
func interleave(b *testing.B, n, round int, ours, base side) {
	b.Helper()
	var tOurs, tBase time.Duration
	for r, done := 0, 0; done < n; r, done = r+1, done+round {
		k := min(round, n-done)
		if r%2 == 0 {
			tOurs += ours.run(k)
			tBase += base.run(k)
		} else {
			tBase += base.run(k)
			tOurs += ours.run(k)
		}
	}
	rOurs, rBase := float64(n)/tOurs.Seconds(), float64(n)/tBase.Seconds()
	b.ReportMetric(rOurs, ours.name+"-records/s")
	b.ReportMetric(rBase, base.name+"-records/s")
	b.ReportMetric(rOurs/rBase, "ratio")
}

// waitUntil polls cond every poll until it holds or timeout passes.
func waitUntil(tb testing.TB, timeout, poll time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(poll)
	}
}

// percentile returns the p-th percentile (0-100) of sorted durations.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted)-1) * p / 100)
	return sorted[i]
}

// reportLatencies sorts lat and reports p50, p99 and the maximum in µs.
func reportLatencies(b *testing.B, lat []time.Duration) {
	slices.Sort(lat)
	us := func(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
	b.ReportMetric(us(percentile(lat, 50)), "p50-µs")
	b.ReportMetric(us(percentile(lat, 99)), "p99-µs")
	b.ReportMetric(us(lat[len(lat)-1]), "max-µs")
}
