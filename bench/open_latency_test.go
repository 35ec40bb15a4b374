package bench

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/huleedu/huleedu/event"
	"github.com/huleedu/huleedu/spool"
)

// pacedRate is the publish rate of the open-circuit benchmark.
const pacedRate = 10_000 // records/s

// pacedPublishers is how many goroutines publish in the open-circuit
// benchmark, as a service's handlers would: enough that the disk spool's
// group commits (0.3-1 ms each here) keep up with the rate. (With 64,
// each publisher idle for longer between records, the memory queue's p99
// was about 40 µs here, against 10 µs with 4 or 16.)
const pacedPublishers = 16

// BenchmarkOpenCircuitLatency measures what Publish costs a caller while
// Kafka is unavailable: the breaker is forced open, so every record goes to
// the fallback queue, a disk spool (accepted = written and fsynced, group
// commit) or the memory queue. Records of 1 KiB are published at a paced
// 10k records/s, open loop: record i is handed out at start + i/10k s,
// whatever the previous ones are doing, to one of pacedPublishers
// long-lived publishing goroutines, the way a service's request handlers
// or consumer loops publish. p50/p99/max of the Publish call are reported
// in µs, with the rate actually achieved and late-records: how many
// started more than 1 ms after they were due, which the call's latency
// does not show: every publisher busy, or (mostly, here) the pacing loop
// late, since a sleep of under 100 µs can overshoot by a millisecond,
// after which the records due start together.
//
// memory-fresh-goroutine publishes each record from a goroutine of its
// own instead, which then grows its new stack inside Publish (a copy of
// the stack, about 2.5 µs here) and churns the runtime's stack memory;
// it is reported for comparison and has no target.
//
// Run it with a fixed count: -benchtime 30000x is 3 s of publishing. The
// memory queue goes first: the disk runs leave the kernel writing back
// their data for a while, which competes for the CPUs.
func BenchmarkOpenCircuitLatency(b *testing.B) {
	b.Run("memory", func(b *testing.B) {
		pacedOpenPublish(b, newMemory(b), publishersPool)
	})
	b.Run("memory-fresh-goroutine", func(b *testing.B) {
		pacedOpenPublish(b, newMemory(b), goroutinePerRecord)
	})
	b.Run("disk", func(b *testing.B) {
		pacedOpenPublish(b, openDisk(b, spoolBytes(b.N)+1<<20, nil), publishersPool)
	})
}

// newMemory returns a memory queue with room for the whole benchmark.
func newMemory(b *testing.B) *spool.Memory {
	q, err := spool.NewMemory(spool.MemoryOptions{MaxRecords: b.N + 1})
	if err != nil {
		b.Fatal(err)
	}
	return q
}

// A dispatcher runs publish(i) for every i in [0, n), record i no earlier
// than start + i*interval, and returns when all have returned.
type dispatcher func(n int, start time.Time, interval time.Duration, publish func(i int))

// publishersPool hands the records to pacedPublishers goroutines through a
// channel with room for a second of records, so a slow publish delays no
// hand-out.
func publishersPool(n int, start time.Time, interval time.Duration, publish func(i int)) {
	work := make(chan int, pacedRate)
	var wg sync.WaitGroup
	for range pacedPublishers {
		wg.Go(func() {
			for i := range work {
				publish(i)
			}
		})
	}
	for i := range n {
		pace(start, i, interval)
		work <- i
	}
	close(work)
	wg.Wait()
}

// goroutinePerRecord starts a goroutine for every record.
func goroutinePerRecord(n int, start time.Time, interval time.Duration, publish func(i int)) {
	var wg sync.WaitGroup
	for i := range n {
		pace(start, i, interval)
		wg.Go(func() { publish(i) })
	}
	wg.Wait()
}

// pace sleeps until record i is due; when behind (a sleep overshot), it
// returns at once, so the records that are due start together.
func pace(start time.Time, i int, interval time.Duration) {
	if d := time.Until(start.Add(time.Duration(i) * interval)); d > 0 {
		time.Sleep(d)
	}
}

func pacedOpenPublish(b *testing.B, q spool.Queue, dispatch dispatcher) {
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
	var late atomic.Int64
	interval := time.Second / pacedRate
	b.ResetTimer()
	start := time.Now()
	dispatch(b.N, start, interval, func(i int) {
		t0 := time.Now()
		err := bus.PublishRecord(ctx, recs[i])
		lat[i] = time.Since(t0)
		if t0.Sub(start.Add(time.Duration(i)*interval)) > time.Millisecond {
			late.Add(1)
		}
		if err != nil {
			select {
			case errs <- err:
			default:
			}
		}
	})
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
	b.ReportMetric(float64(late.Load()), "late-records")
}
