package bench

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/huleedu/huleedu/outbox"
	"github.com/huleedu/huleedu/resilience"
)

// Rounds of the outbox benchmarks.
const (
	enqueueRound   = 2_000
	enqueueWorkers = 8 // concurrent transactions
	relayRound     = 20_000
)

// BenchmarkOutboxEnqueue measures what the outbox adds to a service's
// transaction: each side commits b.N transactions from enqueueWorkers
// goroutines on PostgreSQL, each changing one row of a state table; the
// outbox side also enqueues one 1 KiB event (with its pg_notify) in it.
// Rounds alternate (see interleave): ratio is outbox/plain transactions
// per second, so 1 - ratio is the overhead.
func BenchmarkOutboxEnqueue(b *testing.B) {
	ctx := context.Background()
	db, ob := outboxDB(b)
	withOutbox := side{"outbox", func(n int) time.Duration {
		return publishConcurrently(b, n, enqueueWorkers, func(i int) error {
			return db.InTx(ctx, func(tx *sql.Tx) error {
				if err := changeBenchState(ctx, tx, i); err != nil {
					return err
				}
				return ob.Enqueue(ctx, tx, benchMessage(i))
			})
		})
	}}
	plain := side{"plain", func(n int) time.Duration {
		return publishConcurrently(b, n, enqueueWorkers, func(i int) error {
			return db.InTx(ctx, func(tx *sql.Tx) error { return changeBenchState(ctx, tx, i) })
		})
	}}
	withOutbox.run(enqueueRound / 4)
	plain.run(enqueueRound / 4)
	b.ResetTimer()
	interleave(b, b.N, enqueueRound, withOutbox, plain)
}

// BenchmarkOutboxRelay measures how fast the relay empties a backlog: each
// round commits its events into the outbox while the breaker is forced
// open (not timed), then Resets the breaker and times until the relay has
// published them all (Kafka acknowledged, rows deleted). The raw side
// produces the same number of records with franz-go, in sequential
// ProduceSync batches of the relay's batch size, to the same kfake
// cluster. Besides the rates and their ratio it reports outbox-µs/record,
// the relay's time per record, whose target (<= 50 µs) is the issue's
// 20,000 records/s.
//
// Run it with a fixed count (-benchtime 100000x): the fill is not timed.
func BenchmarkOutboxRelay(b *testing.B) {
	db, ob := outboxDB(b)
	addrs := newCluster(b)
	cl := rawClient(b, addrs)
	cb := openBreaker(b)
	relay := benchRelay(b, ob, newKafkaBus(b, addrs), cb, outbox.RelayOptions{})
	published := uint64(0)
	ours := side{"outbox", func(n int) time.Duration {
		b.StopTimer()
		cb.ForceOpen()
		fillOutbox(b, db, ob, n)
		b.StartTimer()
		start := time.Now()
		cb.Reset()
		published += uint64(n)
		waitUntil(b, 10*time.Minute, 50*time.Microsecond, "the relay to publish the backlog", func() bool { return relay.Stats().Published >= published })
		return time.Since(start)
	}}
	recs := make([]*kgo.Record, relayRound)
	raw := side{"raw", func(n int) time.Duration {
		b.StopTimer()
		for i := range n {
			recs[i] = kgoRecord(i)
		}
		b.StartTimer()
		start := time.Now()
		for lo := 0; lo < n; lo += outbox.DefaultBatchSize {
			if err := cl.ProduceSync(context.Background(), recs[lo:min(lo+outbox.DefaultBatchSize, n)]...).FirstErr(); err != nil {
				b.Fatal(err)
			}
		}
		return time.Since(start)
	}}
	ours.run(relayRound / 4)
	raw.run(relayRound / 4)
	b.ResetTimer()
	tOurs := interleaveTimed(b, b.N, relayRound, ours, raw)
	b.ReportMetric(float64(tOurs.Microseconds())/float64(b.N), "outbox-µs/record")
}

// interleaveTimed is interleave that also returns ours' total time.
func interleaveTimed(b *testing.B, n, round int, ours, base side) time.Duration {
	var total time.Duration
	timed := side{ours.name, func(k int) time.Duration {
		d := ours.run(k)
		total += d
		return d
	}}
	interleave(b, n, round, timed, base)
	return total
}

// BenchmarkOutboxCommitToAck measures the latency from a transaction's
// commit to Kafka's acknowledgement of its event: b.N transactions, one
// after another, each waiting for its event's acknowledgement. The relay
// polls only every 10 s, so what wakes it is the pg_notify of the
// enqueuing transaction. Reports p50, p99 and the maximum in µs.
func BenchmarkOutboxCommitToAck(b *testing.B) {
	ctx := context.Background()
	db, ob := outboxDB(b)
	addrs := newCluster(b)
	cb, err := resilience.NewCircuitBreaker(resilience.Settings{Name: "kafka"})
	if err != nil {
		b.Fatal(err)
	}
	acks := make(chan time.Time, 1)
	benchRelay(b, ob, newKafkaBus(b, addrs), cb, outbox.RelayOptions{PollInterval: 10 * time.Second, Latency: ackTimes(acks)})
	lat := make([]time.Duration, 0, b.N)
	commit := func(i int) time.Time {
		if err := db.InTx(ctx, func(tx *sql.Tx) error {
			if err := changeBenchState(ctx, tx, i); err != nil {
				return err
			}
			return ob.Enqueue(ctx, tx, benchMessage(i))
		}); err != nil {
			b.Fatal(err)
		}
		return time.Now()
	}
	for i := range 100 { // warm-up: connections, metadata, the relay's first batches
		commit(i)
		<-acks
	}
	b.ResetTimer()
	for i := range b.N {
		committed := commit(i)
		select {
		case acked := <-acks:
			lat = append(lat, max(acked.Sub(committed), 0))
		case <-time.After(30 * time.Second):
			b.Fatalf("event %d not acknowledged 30s after its commit", i)
		}
	}
	b.StopTimer()
	reportLatencies(b, lat)
}

// ackTimes is a RelayOptions.Latency that sends the time of every
// acknowledgement the relay observes.
type ackTimes chan time.Time

func (a ackTimes) Observe(float64) { a <- time.Now() }
