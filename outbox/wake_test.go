package outbox_test

import (
	"context"
	"database/sql"
	"errors"
	"testing"
	"time"

	"github.com/huleedu/huleedu/embeddedkafka"
	"github.com/huleedu/huleedu/outbox"
	"github.com/huleedu/huleedu/sqldb"
)

// readCountingStore tells the test each time the relay read pending rows.
type readCountingStore struct {
	outbox.Store
	reads chan int // receives the number of rows of each read
}

func (s readCountingStore) Pending(ctx context.Context, partitions []int, now time.Time, limit int) ([]outbox.Row, error) {
	rows, err := s.Store.Pending(ctx, partitions, now, limit)
	if err == nil {
		select {
		case s.reads <- len(rows):
		case <-ctx.Done():
		}
	}
	return rows, err
}

// A relay whose last read found nothing (its first one, or a wake-up
// whose transaction rolled back) publishes the next commit when that
// commit wakes it, not at its next poll or lease renewal: with an hour's
// poll interval and lease the commit would otherwise wait that long.
func TestRelayWokenAfterAnEmptyReadPublishesAtOnce(t *testing.T) {
	forEachBackend(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db, ob := openDB(t, dsn)
		reads := make(chan int)
		counted := outbox.NewWithStore(readCountingStore{Store: ob.Store(), reads: reads}, ob.String(), outbox.Options{})
		c := cluster(t, embeddedkafka.Config{})
		opts := testRelayOptions(t, "r1")
		// Neither polls nor lease renewals (a third of the lease time)
		// come during the test: only wake-ups make the relay read.
		opts.PollInterval, opts.LeaseTTL = time.Hour, time.Hour
		startRelay(t, counted, newBus(t, c.Addrs()), newBreaker(t), opts)
		next := func(what string) int {
			t.Helper()
			select {
			case n := <-reads:
				return n
			case <-time.After(30 * time.Second):
				t.Fatalf("the relay did not read %s within 30s (its poll interval is an hour: only a wake-up makes it read)", what)
				return 0
			}
		}
		commit := func() {
			t.Helper()
			if err := db.InTx(ctx, func(tx *sql.Tx) error { return ob.Enqueue(ctx, tx, message(t, "k", 1, 1)) }); err != nil {
				t.Fatal(err)
			}
			if n := next("the committed row"); n != 1 {
				t.Fatalf("the read after the commit's wake-up found %d rows, want 1", n)
			}
			waitDrained(t, ob, 30*time.Second)
		}
		// The first read (the listener's start) finds nothing.
		if n := next("at its start"); n != 0 {
			t.Fatalf("first read found %d rows in an empty outbox", n)
		}
		commit()
		if db.Dialect() == sqldb.SQLite {
			// A transaction that enqueues and rolls back wakes the relay
			// on SQLite (before its end), and the relay finds nothing.
			_ = db.InTx(ctx, func(tx *sql.Tx) error {
				if err := ob.Enqueue(ctx, tx, message(t, "k", 1, 1)); err != nil {
					return err
				}
				return errors.New("roll back")
			})
			if n := next("after a rolled-back transaction's wake-up"); n != 0 {
				t.Fatalf("read after a rollback found %d rows", n)
			}
			commit()
		}
	})
}
