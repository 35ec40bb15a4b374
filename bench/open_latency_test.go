package bench

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/huleedu/huleedu/event"
	"github.com/huleedu/huleedu/spool"
)

// pacedRate is the publish rate of the open-circuit benchmark.
const pacedRate = 10_000 // records/s

// BenchmarkOpenCircuitLatency measures what Publish costs a caller while
// Kafka is unavailable: the breaker is forced open, so every record goes to
// the fallback queue, a disk spool (accepted = written and fsynced, group
// commit) or the memory queue. Records of 1 KiB are published at a paced
// 10k records/s (open loop: record i is started at start + i/10k s,
// whatever the previous ones are doing, each on its own goroutine), and
// p50/p99/max of the Publish call are reported in µs, with the rate
// actually achieved.
//
// Run it with a fixed count: -benchtime 30000x is 3 s of publishing. The
// memory queue goes first: the disk runs leave the kernel writing back
// their data for a while, which competes for the CPUs.
func BenchmarkOpenCircuitLatency(b *testing.B) {
	b.Run("memory", func(b *testing.B) {
		q, err := spool.NewMemory(spool.MemoryOptions{MaxRecords: b.N + 1})
		if err != nil {
			b.Fatal(err)
		}
		pacedOpenPublish(b, q)
	})
	b.Run("disk", func(b *testing.B) {
		pacedOpenPublish(b, openDisk(b, spoolBytes(b.N)+1<<20, nil))
	})
}

func pacedOpenPublish(b *testing.B, q spool.Queue) {
	ctx := context.Background()
	bus := newResilient(b, newKafkaBus(b, newCluster(b)), openBreaker(b), q, 0)
	// The first append creates the segment file; keep it out of the
	// measurement.
	if err := bus.PublishRecord(ctx, benchRecord(0)); err != nil {
		b.Fatal(err)
	}

	// The callers' records, built beforehand: the benchmark's own garbage
	// would otherwise keep the collector busy during the measurement, and
	// its pauses and assists would be counted as publish latency.
	recs := make([]event.Record, b.N)
	for i := range recs {
		recs[i] = benchRecord(i)
	}
	lat := make([]time.Duration, b.N)
	errs := make(chan error, 1)
	var wg sync.WaitGroup
	interval := time.Second / pacedRate
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		// Sleep only when ahead of schedule; when behind (a sleep
		// overshot), start the records that are due at once.
		if d := time.Until(start.Add(time.Duration(i) * interval)); d > 0 {
			time.Sleep(d)
		}
		wg.Go(func() {
			t0 := time.Now()
			err := bus.PublishRecord(ctx, recs[i])
			lat[i] = time.Since(t0)
			if err != nil {
				select {
				case errs <- err:
				default:
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	select {
	case err := <-errs:
		b.Fatal(err)
	default:
	}
	if st := bus.Stats(); st.Spooled != uint64(b.N)+1 {
		b.Fatalf("spooled %d records, want %d", st.Spooled, b.N+1)
	}
	reportLatencies(b, lat)
	reportRate(b, b.N, elapsed)
}
