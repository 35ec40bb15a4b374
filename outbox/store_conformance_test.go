package outbox_test

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/huleedu/huleedu/internal/testwait"
	"github.com/huleedu/huleedu/outbox"
	"github.com/huleedu/huleedu/sqldb"
)

// The Store conformance suite: every behaviour the relay and the operator
// commands rely on, run against PostgreSQL and SQLite alike.

// all is every lease partition.
var all = func() []int {
	ps := make([]int, outbox.LeasePartitions)
	for i := range ps {
		ps[i] = i
	}
	return ps
}()

func ids(rows []outbox.Row) []int64 {
	out := make([]int64, len(rows))
	for i, r := range rows {
		out[i] = r.ID
	}
	return out
}

func pending(t *testing.T, s outbox.Store, now time.Time) []outbox.Row {
	t.Helper()
	rows, err := s.Pending(context.Background(), all, now, 1000)
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

func TestStoreRolledBackEnqueueLeavesNoRow(t *testing.T) {
	forEachBackend(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db, ob := openDB(t, dsn)
		boom := errors.New("state change failed")
		err := db.InTx(ctx, func(tx *sql.Tx) error {
			if err := ob.Enqueue(ctx, tx, message(t, "k", 1, 1)); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatal(err)
		}
		if rows := pending(t, ob.Store(), time.Now()); len(rows) != 0 {
			t.Fatalf("%d rows after a rollback, want none", len(rows))
		}
		st, err := ob.Stats(ctx)
		if err != nil || st.Pending != 0 {
			t.Fatalf("stats %+v (%v), want nothing pending", st, err)
		}
	})
}

func TestStoreKeepsTheEnvelopeBytesAndHeaders(t *testing.T) {
	forEachBackend(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db, ob := openDB(t, dsn)
		m := message(t, "k1", 1, 1)
		want, err := m.Envelope.Record(m.Topic, m.Key)
		if err != nil {
			t.Fatal(err)
		}
		if err := db.InTx(ctx, func(tx *sql.Tx) error { return ob.Enqueue(ctx, tx, m) }); err != nil {
			t.Fatal(err)
		}
		rows := pending(t, ob.Store(), time.Now())
		if len(rows) != 1 {
			t.Fatalf("%d rows, want 1", len(rows))
		}
		got := rows[0].Record()
		if string(got.Value) != string(want.Value) || string(got.Key) != "k1" || got.Topic != testTopic {
			t.Fatalf("record %s/%s/%s\nwant     %s", got.Topic, got.Key, got.Value, want.Value)
		}
		if asJSON(got.Headers) != asJSON(want.Headers) {
			t.Fatalf("headers %s, want %s", asJSON(got.Headers), asJSON(want.Headers))
		}
		if rows[0].EventID != m.Envelope.EventID {
			t.Fatalf("pending row's event id %s, want the envelope's %s", rows[0].EventID, m.Envelope.EventID)
		}
		// The whole row, as operators see it.
		if err := ob.Store().Settle(ctx, outbox.Settlement{At: time.Now(), Dead: []outbox.Failure{{ID: rows[0].ID, Err: "test"}}}); err != nil {
			t.Fatal(err)
		}
		var dead []outbox.Row
		if err := ob.DeadLetters(ctx, func(r outbox.Row) error { dead = append(dead, r); return nil }); err != nil {
			t.Fatal(err)
		}
		if r := dead[0]; r.EventID != m.Envelope.EventID || r.EventType != m.Envelope.EventType || r.AggregateID != "k1" ||
			r.AggregateType != "test" || string(r.Envelope) != string(want.Value) || asJSON(r.Headers) != asJSON(want.Headers) {
			t.Fatalf("row %+v does not carry the envelope's identity", r)
		}
	})
}

func TestStorePendingIsOldestFirstAndSkipsKeysWaitingForARetry(t *testing.T) {
	forEachBackend(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db, ob := openDB(t, dsn)
		e := newEnqueuer(t, db, ob, 2) // k01, k00, k01, k00, ...
		e.commit(6)
		s := ob.Store()
		now := time.Now()
		rows := pending(t, s, now)
		if len(rows) != 6 || !slices.IsSorted(ids(rows)) {
			t.Fatalf("pending %v, want 6 ids in order", ids(rows))
		}
		// The first row of k01 fails and waits: every later k01 row waits
		// behind it; k00 goes on.
		first := rows[0]
		if err := s.Settle(ctx, outbox.Settlement{At: now, Retry: []outbox.Failure{{ID: first.ID, Err: "broker down", NextAttemptAt: now.Add(time.Minute)}}}); err != nil {
			t.Fatal(err)
		}
		for _, r := range pending(t, s, now) {
			if r.Key == first.Key {
				t.Fatalf("row %d of %s is pending while row %d of its key waits for a retry", r.ID, r.Key, first.ID)
			}
		}
		if got := len(pending(t, s, now)); got != 3 {
			t.Fatalf("%d rows pending, want the 3 of the other key", got)
		}
		// Once due, it comes first again, with its attempt counted.
		later := pending(t, s, now.Add(2*time.Minute))
		if len(later) != 6 || later[0].ID != first.ID || later[0].Attempts != 1 {
			t.Fatalf("after the retry time: %v (first %+v)", ids(later), later[0])
		}
	})
}

func TestStoreDeadRowsDoNotHoldBackTheirKey(t *testing.T) {
	forEachBackend(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db, ob := openDB(t, dsn)
		newEnqueuer(t, db, ob, 1).commit(3)
		s := ob.Store()
		now := time.Now()
		rows := pending(t, s, now)
		if err := s.Settle(ctx, outbox.Settlement{At: now, Dead: []outbox.Failure{{ID: rows[0].ID, Err: "MESSAGE_TOO_LARGE"}}}); err != nil {
			t.Fatal(err)
		}
		if got := ids(pending(t, s, now)); !slices.Equal(got, ids(rows[1:])) {
			t.Fatalf("pending %v, want the rows behind the dead one %v", got, ids(rows[1:]))
		}
		var dead []outbox.Row
		if err := ob.DeadLetters(ctx, func(r outbox.Row) error { dead = append(dead, r); return nil }); err != nil {
			t.Fatal(err)
		}
		if len(dead) != 1 || dead[0].ID != rows[0].ID || dead[0].LastError != "MESSAGE_TOO_LARGE" || dead[0].DeadAt.IsZero() {
			t.Fatalf("dead letters %+v", dead)
		}
		st, err := ob.Stats(ctx)
		if err != nil || st.DeadLetters != 1 || st.Pending != 2 {
			t.Fatalf("stats %+v (%v), want 1 dead letter and 2 pending", st, err)
		}
	})
}

func TestStoreSettleDeletesOrKeepsPublishedRowsAndPrunes(t *testing.T) {
	forEachBackend(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db, ob := openDB(t, dsn)
		newEnqueuer(t, db, ob, 3).commit(4)
		s := ob.Store()
		now := time.Now()
		rows := pending(t, s, now)
		if err := s.Settle(ctx, outbox.Settlement{At: now, Published: ids(rows[:2])}); err != nil {
			t.Fatal(err)
		}
		if err := s.Settle(ctx, outbox.Settlement{At: now, Keep: true, Published: ids(rows[2:])}); err != nil {
			t.Fatal(err)
		}
		st, err := ob.Stats(ctx)
		if err != nil || st.Pending != 0 || st.Published != 2 {
			t.Fatalf("stats %+v (%v): want none pending, the 2 kept ones published", st, err)
		}
		if n, err := s.Prune(ctx, all, now.Add(-time.Second), 100); err != nil || n != 0 {
			t.Fatalf("prune before their time: %d (%v)", n, err)
		}
		if n, err := s.Prune(ctx, all, now.Add(time.Second), 100); err != nil || n != 2 {
			t.Fatalf("prune after retention: %d (%v), want 2", n, err)
		}
	})
}

func TestStoreRedriveAndPurgeCountExactlyAndSparePendingRows(t *testing.T) {
	forEachBackend(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db, ob := openDB(t, dsn)
		newEnqueuer(t, db, ob, 5).commit(5)
		s := ob.Store()
		now := time.Now()
		rows := pending(t, s, now)
		var dead []outbox.Failure
		for _, r := range rows[:3] {
			dead = append(dead, outbox.Failure{ID: r.ID, Err: "rejected"})
		}
		if err := s.Settle(ctx, outbox.Settlement{At: now, Dead: dead}); err != nil {
			t.Fatal(err)
		}
		if n, err := ob.Redrive(ctx, []int64{rows[0].ID, rows[4].ID}); err != nil || n != 1 {
			t.Fatalf("redrive of one dead and one pending row: %d (%v), want 1", n, err)
		}
		if n, err := ob.PurgeDeadLetters(ctx, nil); err != nil || n != 2 {
			t.Fatalf("purge: %d (%v), want the 2 still dead", n, err)
		}
		if got := ids(pending(t, s, now)); !slices.Equal(got, []int64{rows[0].ID, rows[3].ID, rows[4].ID}) {
			t.Fatalf("pending %v, want the re-driven row and the 2 never dead", got)
		}
		if n, err := ob.PurgeDeadLetters(ctx, nil); err != nil || n != 0 {
			t.Fatalf("second purge: %d (%v), want 0", n, err)
		}
	})
}

func tick(t *testing.T, s outbox.Store, id string, ttl time.Duration, release []int) outbox.LeaseState {
	t.Helper()
	st, err := s.Leases(context.Background(), outbox.LeaseTick{RelayID: id, TTL: ttl, Release: release, Acquire: true})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(st.Held)
	return st
}

func TestStoreLeasesShareThePartitionsAndNeverOverlap(t *testing.T) {
	forEachBackend(t, func(t *testing.T, dsn string) {
		_, ob := openDB(t, dsn)
		s := ob.Store()
		a := tick(t, s, "a", time.Minute, nil)
		if len(a.Held) != outbox.LeasePartitions || a.Relays != 1 {
			t.Fatalf("a alone holds %d partitions among %d relays, want all", len(a.Held), a.Relays)
		}
		b := tick(t, s, "b", time.Minute, nil)
		if len(b.Held) != 0 || b.Relays != 2 || b.Share != 32 {
			t.Fatalf("b took %v (relays %d, share %d) while a holds everything", b.Held, b.Relays, b.Share)
		}
		// a gives up what is beyond its share; b takes it.
		a = tick(t, s, "a", time.Minute, a.Held[32:])
		b = tick(t, s, "b", time.Minute, nil)
		if len(a.Held) != 32 || len(b.Held) != 32 {
			t.Fatalf("a holds %d, b %d; want 32 each", len(a.Held), len(b.Held))
		}
		for _, p := range a.Held {
			if slices.Contains(b.Held, p) {
				t.Fatalf("partition %d held by both a and b", p)
			}
		}
		st, err := ob.Stats(context.Background())
		if err != nil || len(st.Relays) != 2 || st.Relays[0].Partitions+st.Relays[1].Partitions != outbox.LeasePartitions {
			t.Fatalf("stats relays %+v (%v)", st.Relays, err)
		}
	})
}

func TestStoreExpiredLeasesPassToAnotherRelayAndLeaveReleasesAtOnce(t *testing.T) {
	forEachBackend(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		_, ob := openDB(t, dsn)
		s := ob.Store()
		tick(t, s, "dies", 300*time.Millisecond, nil)
		if b := tick(t, s, "survivor", time.Minute, nil); len(b.Held) != 0 {
			t.Fatalf("survivor took %d partitions of a live relay", len(b.Held))
		}
		testwait.For(t, 10*time.Second, "the dead relay's leases to pass to the survivor", func() bool {
			return len(tick(t, s, "survivor", time.Minute, nil).Held) == outbox.LeasePartitions
		})
		if err := s.Leave(ctx, "survivor"); err != nil {
			t.Fatal(err)
		}
		if c := tick(t, s, "next", time.Minute, nil); len(c.Held) != outbox.LeasePartitions || c.Relays != 1 {
			t.Fatalf("after Leave the next relay got %d partitions among %d relays, want all at once", len(c.Held), c.Relays)
		}
	})
}

func TestStoreListenWakesOnCommit(t *testing.T) {
	forEachBackend(t, func(t *testing.T, dsn string) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		db, ob := openDB(t, dsn)
		wake := make(chan struct{}, 1)
		done := make(chan error, 1)
		go func() { done <- ob.Store().Listen(ctx, wake) }()
		select {
		case <-wake: // listening
		case <-time.After(10 * time.Second):
			t.Fatal("Listen did not signal that it listens")
		}
		newEnqueuer(t, db, ob, 1).commit(1)
		select {
		case <-wake:
		case <-time.After(10 * time.Second):
			t.Fatal("no wake-up after a commit")
		}
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Fatalf("Listen returned %v after its context ended", err)
		}
	})
}

func TestNewRefusesADatabaseWithoutTheOutbox(t *testing.T) {
	forEachBackend(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db, err := sqldb.Open(ctx, dsn, sqldb.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if _, err := outbox.New(ctx, db, outbox.Options{}); !errors.Is(err, outbox.ErrNoOutbox) {
			t.Fatalf("New on a database without the table: %v, want ErrNoOutbox", err)
		}
	})
}

func TestEnqueueRefusesInvalidMessagesAndWritesNone(t *testing.T) {
	forEachBackend(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db, ob := openDB(t, dsn)
		good := message(t, "k", 1, 1)
		for name, m := range map[string]outbox.Message{
			"no envelope":   {Topic: testTopic, Key: "k"},
			"no topic":      {Key: "k", Envelope: good.Envelope},
			"illegal topic": {Topic: "bad topic!", Key: "k", Envelope: good.Envelope},
		} {
			err := db.InTx(ctx, func(tx *sql.Tx) error { return ob.Enqueue(ctx, tx, good, m) })
			if !errors.Is(err, outbox.ErrInvalidMessage) {
				t.Errorf("%s: %v, want ErrInvalidMessage", name, err)
			}
		}
		if rows := pending(t, ob.Store(), time.Now()); len(rows) != 0 {
			t.Fatalf("%d rows written alongside invalid messages", len(rows))
		}
	})
}
