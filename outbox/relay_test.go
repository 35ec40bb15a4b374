package outbox_test

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/huleedu/huleedu/embeddedkafka"
	"github.com/huleedu/huleedu/event"
	"github.com/huleedu/huleedu/internal/pgtest"
	"github.com/huleedu/huleedu/internal/testwait"
	"github.com/huleedu/huleedu/kafkabus"
	"github.com/huleedu/huleedu/outbox"
	"github.com/huleedu/huleedu/resilience"
)

// latencies records what the relay observes.
type latencies struct {
	mu sync.Mutex // guards v
	v  []float64
}

func (l *latencies) Observe(s float64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.v = append(l.v, s)
}

func (l *latencies) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.v)
}

func TestRelayPublishesCommittedEventsWithTheirIDsBytesAndTrace(t *testing.T) {
	forEachBackend(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db, ob := openDB(t, dsn)
		c := cluster(t, embeddedkafka.Config{})
		lat := &latencies{}
		opts := testRelayOptions(t, "r1")
		opts.Latency = lat
		relay, _ := startRelay(t, ob, newBus(t, c.Addrs()), newBreaker(t), opts)

		sc := trace.NewSpanContext(trace.SpanContextConfig{
			TraceID: trace.TraceID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16},
			SpanID:  trace.SpanID{1, 2, 3, 4, 5, 6, 7, 8}, TraceFlags: trace.FlagsSampled,
		})
		tctx := trace.ContextWithSpanContext(ctx, sc)
		msgs := []outbox.Message{message(t, "k1", 1, 1), message(t, "k1", 2, 2), message(t, "k2", 1, 3)}
		if err := db.InTx(tctx, func(tx *sql.Tx) error { return ob.Enqueue(tctx, tx, msgs...) }); err != nil {
			t.Fatal(err)
		}
		waitDrained(t, ob, 20*time.Second)
		if d := mustDeliverAll(t, c.Addrs(), 3); d != 0 {
			t.Errorf("%d duplicates on a healthy run", d)
		}
		for _, d := range readDeliveries(t, c.Addrs()) {
			want := msgs[d.N-1].Envelope
			if d.EventID != want.EventID.String() {
				t.Errorf("event %d: id %s, enqueued %s", d.N, d.EventID, want.EventID)
			}
			if wantTP := "00-" + sc.TraceID().String() + "-" + sc.SpanID().String() + "-01"; d.TraceParent != wantTP {
				t.Errorf("event %d: traceparent %q, want the enqueuer's %q", d.N, d.TraceParent, wantTP)
			}
		}
		recs, err := embeddedkafka.ReadAll(ctx, c.Addrs(), testTopic)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			d := parseDelivery(t, r)
			want, _ := msgs[d.N-1].Envelope.Record(testTopic, d.Key)
			if string(r.Value) != string(want.Value) {
				t.Errorf("event %d: value %s\nis not the envelope enqueued: %s", d.N, r.Value, want.Value)
			}
		}
		if st := relay.Stats(); st.Published != 3 || st.Leases != outbox.LeasePartitions {
			t.Errorf("relay stats %+v, want 3 published and every lease", st)
		}
		if lat.count() != 3 {
			t.Errorf("%d latencies observed, want one per published row", lat.count())
		}
	})
}

func TestRelayDrainsInOrderAfterAKafkaOutage(t *testing.T) {
	forEachBackend(t, func(t *testing.T, dsn string) {
		db, ob := openDB(t, dsn)
		c := cluster(t, embeddedkafka.Config{})
		cb := newBreaker(t)
		relay, _ := startRelay(t, ob, newBus(t, c.Addrs()), cb, testRelayOptions(t, "r1"))
		e := newEnqueuer(t, db, ob, 7)
		e.commit(50)
		waitDrained(t, ob, 20*time.Second)

		if err := c.Fault(embeddedkafka.FaultCut); err != nil {
			t.Fatal(err)
		}
		e.commit(150)
		testwait.For(t, 20*time.Second, "the breaker to open", func() bool { return cb.State() != resilience.StateClosed })
		n := e.commit(100)
		st, err := ob.Stats(context.Background())
		if err != nil || st.Pending < 100 {
			t.Fatalf("during the outage: stats %+v (%v), want the rows to accumulate", st, err)
		}
		if err := c.Heal(); err != nil {
			t.Fatal(err)
		}
		waitDrained(t, ob, 60*time.Second)
		d := mustDeliverAll(t, c.Addrs(), n)
		t.Logf("%d events, %d duplicates, relay %+v", n, d, relay.Stats())
		if relay.Stats().Failed == 0 {
			t.Error("no publish failure counted during the outage")
		}
	})
}

func TestRelayDeadLettersAPoisonRowAndTheRowsBehindItGoOn(t *testing.T) {
	forEachBackend(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db, ob := openDB(t, dsn)
		c := cluster(t, embeddedkafka.Config{})
		bus, err := kafkabus.NewKafkaBus(kafkabus.Options{Brokers: c.Addrs(), PublishTimeout: relayProduceTimeout, MaxRecordBytes: 4096})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = bus.Close(context.Background()) })
		relay, _ := startRelay(t, ob, bus, newBreaker(t), testRelayOptions(t, "r1"))

		poison, err := event.NewEnvelope("huleedu.test.outbox.v1", "outbox-test",
			payload{Key: "k1", Seq: 0, N: 0}, event.WithMetadata(map[string]any{"padding": strings.Repeat("x", 8192)}))
		if err != nil {
			t.Fatal(err)
		}
		if err := db.InTx(ctx, func(tx *sql.Tx) error {
			return ob.Enqueue(ctx, tx, message(t, "k1", 1, 1), outbox.Message{Topic: testTopic, Key: "k1", Envelope: poison},
				message(t, "k1", 2, 2), message(t, "k1", 3, 3))
		}); err != nil {
			t.Fatal(err)
		}
		waitDrained(t, ob, 20*time.Second)
		mustDeliverAll(t, c.Addrs(), 3)
		var dead []outbox.Row
		if err := ob.DeadLetters(ctx, func(r outbox.Row) error { dead = append(dead, r); return nil }); err != nil {
			t.Fatal(err)
		}
		if len(dead) != 1 || dead[0].EventID != poison.EventID || !strings.Contains(dead[0].LastError, "too large") {
			t.Fatalf("dead letters %+v, want the poison row with its reason", dead)
		}
		if st := relay.Stats(); st.DeadLettered != 1 {
			t.Errorf("relay counted %d dead letters, want 1", st.DeadLettered)
		}
	})
}

// failingProducer fails every record with a retriable error and counts
// what it was asked.
type failingProducer struct {
	mu    sync.Mutex // guards calls, recs
	calls int
	recs  []int
}

func (p *failingProducer) Produce(_ context.Context, recs []event.Record) []error {
	p.mu.Lock()
	p.calls++
	p.recs = append(p.recs, len(recs))
	p.mu.Unlock()
	errs := make([]error, len(recs))
	for i := range errs {
		errs[i] = &kafkabus.ProduceError{Topic: recs[i].Topic, Partition: -1, Err: kafkabus.ErrUnavailable, Retriable: true}
	}
	return errs
}

func (p *failingProducer) snapshot() (calls int, recs []int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.calls, append([]int(nil), p.recs...)
}

func TestRelayDoesNotProduceWhileTheBreakerIsOpen(t *testing.T) {
	db, ob := openDB(t, backends[1].dsn(t))
	newEnqueuer(t, db, ob, 10).commit(200)
	cb := newBreaker(t) // opens after 3 failures, probes after 200ms
	p := &failingProducer{}
	startRelay(t, ob, p, cb, testRelayOptions(t, "r1"))
	halfOpened := func() int {
		n := 0
		for _, tr := range cb.Snapshot().Transitions {
			if tr.From == resilience.StateOpen && tr.To == resilience.StateHalfOpen {
				n += int(tr.Count)
			}
		}
		return n
	}
	testwait.For(t, 20*time.Second, "three probes", func() bool { return halfOpened() >= 3 })
	calls, recs := p.snapshot()
	probes := halfOpened()
	// Every produce was either one of the failures that opened the
	// breaker or a probe of one row; the count may trail by the probe in
	// flight when the snapshot was taken.
	if calls > 3+probes+1 {
		t.Fatalf("%d produce calls for 3 failures and %d probes: the relay hammered an open breaker", calls, probes)
	}
	for i, n := range recs[3:] {
		if n != 1 {
			t.Fatalf("probe %d carried %d records, want 1", i+1, n)
		}
	}
	st, err := ob.Stats(context.Background())
	if err != nil || st.Pending != 200 {
		t.Fatalf("stats %+v (%v): every row must stay in the table", st, err)
	}
}

func TestRelayReconnectsAfterPostgresRestartAndLosesNothing(t *testing.T) {
	dsn := backends[0].dsn(t)
	pgtest.Private(t)
	db, ob := openDB(t, dsn)
	c := cluster(t, embeddedkafka.Config{})
	relay, _ := startRelay(t, ob, newBus(t, c.Addrs()), newBreaker(t), testRelayOptions(t, "r1"))
	e := newEnqueuer(t, db, ob, 5)
	e.commit(100)
	// Kafka cut: the rows wait in the table while the server restarts
	// under the relay.
	if err := c.Fault(embeddedkafka.FaultCut); err != nil {
		t.Fatal(err)
	}
	e.commit(100)
	pgtest.Restart(t)
	errsAfterRestart := relay.Stats().Errors
	// A service's first statements after the restart fail on connections
	// the server closed; its callers retry, as these commits do.
	e.retry = true
	n := e.commit(100)
	if err := c.Heal(); err != nil {
		t.Fatal(err)
	}
	waitDrained(t, ob, 60*time.Second)
	d := mustDeliverAll(t, c.Addrs(), n)
	t.Logf("%d events, %d duplicates, database errors while restarting: %d, relay %+v", n, d, errsAfterRestart, relay.Stats())
}

// deathlessStore is a store whose Leave does nothing: a relay on it that
// stops is a relay that died, whose leases must expire.
type deathlessStore struct{ outbox.Store }

func (deathlessStore) Leave(context.Context, string) error { return nil }

func TestSeveralRelaysKeepPerKeyOrderAndHandOver(t *testing.T) {
	for _, relays := range []int{2, 3} {
		t.Run(fmt.Sprintf("%d relays", relays), func(t *testing.T) {
			forEachBackend(t, func(t *testing.T, dsn string) {
				db, ob := openDB(t, dsn)
				c := cluster(t, embeddedkafka.Config{Brokers: 3})
				bus := newBus(t, c.Addrs())
				e := newEnqueuer(t, db, ob, 13)

				var stops []func()
				var rs []*outbox.Relay
				for i := range relays {
					o := ob
					if i == 0 {
						o = outbox.NewWithStore(deathlessStore{ob.Store()}, ob.String(), outbox.Options{})
					}
					r, stop := startRelay(t, o, bus, newBreaker(t), testRelayOptions(t, fmt.Sprintf("r%d", i)))
					rs, stops = append(rs, r), append(stops, stop)
					e.commit(50)
				}
				var wg sync.WaitGroup
				wg.Go(func() { e.commit(200) })
				testwait.For(t, 30*time.Second, "the relays to share the leases", func() bool {
					held := 0
					for _, r := range rs {
						if r.Stats().Leases == 0 {
							return false
						}
						held += r.Stats().Leases
					}
					return held == outbox.LeasePartitions
				})
				// r0 dies (its leases expire), r1 stops (it hands its
				// leases over at once), while events keep coming.
				stops[0]()
				stops[1]()
				wg.Wait()
				n := e.commit(50)
				if relays == 2 {
					startRelay(t, ob, bus, newBreaker(t), testRelayOptions(t, "late"))
				}
				waitDrained(t, ob, 60*time.Second)
				d := mustDeliverAll(t, c.Addrs(), n)
				t.Logf("%d relays, %d events, %d duplicates", relays, n, d)
			})
		})
	}
}

func TestRelayPrunesPublishedRowsAfterRetention(t *testing.T) {
	db, ob := openDB(t, backends[1].dsn(t))
	c := cluster(t, embeddedkafka.Config{})
	opts := testRelayOptions(t, "r1")
	opts.Retention = 300 * time.Millisecond
	startRelay(t, ob, newBus(t, c.Addrs()), newBreaker(t), opts)
	e := newEnqueuer(t, db, ob, 3)
	e.commit(20)
	waitDrained(t, ob, 20*time.Second)
	st, err := ob.Stats(context.Background())
	if err != nil || st.Published == 0 {
		t.Fatalf("stats %+v (%v): published rows must be kept for the retention", st, err)
	}
	testwait.For(t, 20*time.Second, "the published rows to be pruned", func() bool {
		st, err := ob.Stats(context.Background())
		return err == nil && st.Published == 0
	})
}

func TestNewRelayRefusesBadOptions(t *testing.T) {
	_, ob := openDB(t, backends[1].dsn(t))
	p, cb := &failingProducer{}, newBreaker(t)
	for _, tc := range []struct {
		opts outbox.RelayOptions
		want string
	}{
		{outbox.RelayOptions{BatchSize: 20_000}, "BatchSize is 20000: want 1 to 10000"},
		{outbox.RelayOptions{PollInterval: -time.Second}, "PollInterval is -1s"},
		{outbox.RelayOptions{LeaseTTL: time.Second, ProduceTimeout: time.Second}, "LeaseTTL is 1s: want at least 2.5 x ProduceTimeout"},
		{outbox.RelayOptions{RetryMin: time.Second, RetryMax: time.Millisecond}, "RetryMax is 1ms: want >= RetryMin"},
	} {
		if _, err := outbox.NewRelay(ob, p, cb, tc.opts); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.opts, err, tc.want)
		}
	}
	if _, err := outbox.NewRelay(ob, p, nil, outbox.RelayOptions{}); err == nil {
		t.Error("a relay without a breaker")
	}
}
