package outbox_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"

	"github.com/huleedu/huleedu/event"
	"github.com/huleedu/huleedu/outbox"
	"github.com/huleedu/huleedu/sqldb"
)

// A handler changes its state and enqueues the event the change causes in
// one transaction, on either database: a postgres:// URL or, as here, a
// SQLite file.
func ExampleOutbox_Enqueue() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "outbox-example")
	defer os.RemoveAll(dir)
	db, err := sqldb.Open(ctx, filepath.Join(dir, "batches.db"), sqldb.Options{Migrations: []sqldb.Migrations{outbox.Migrations()}})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer db.Close()
	ob, err := outbox.New(ctx, db, outbox.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	if _, err := db.SQL().ExecContext(ctx, `CREATE TABLE batches (id TEXT PRIMARY KEY, state TEXT NOT NULL)`); err != nil {
		fmt.Println(err)
		return
	}

	env, err := event.NewEnvelope("huleedu.batch.ready.v1", "batch_orchestrator_service", map[string]string{"batch_id": "b-1"},
		event.WithEventID(event.DeterministicID(event.Namespace, "huleedu.batch.ready.v1", "b-1")))
	if err != nil {
		fmt.Println(err)
		return
	}
	err = db.InTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO batches (id, state) VALUES ($1, $2)`, "b-1", "ready"); err != nil {
			return err
		}
		return ob.Enqueue(ctx, tx, outbox.Message{Topic: "huleedu.batch.ready.v1", Key: "b-1", Envelope: env,
			AggregateType: "batch", AggregateID: "b-1"})
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	st, _ := ob.Stats(ctx)
	// A Relay (NewRelay, Run) publishes it once Kafka acknowledges.
	fmt.Println("pending:", st.Pending)

	// Output: pending: 1
}
