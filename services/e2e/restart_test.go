package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/huleedu/huleedu/internal/platformtest"
	"github.com/huleedu/huleedu/services/spellchecker"
	"github.com/huleedu/huleedu/sqldb"
)

func TestBatchCompletesWhenServiceRestartsMidOutageOnDiskSpool(t *testing.T) {
	p := startPlatform(t, []string{"KAFKA_FALLBACK_MODE=disk", "DATA_DIR=" + t.TempDir()}, spellchecker.ServiceName)
	batchID, cutAt := p.cutMidPipeline(essays)
	old := resilientBus(t, p.App(spellchecker.ServiceName))
	platformtest.WaitFor(t, 20*time.Second, "a spellcheck result in the disk spool", func() bool { return old.Stats().Queue.Records > 0 })
	spooled := old.Stats().Queue.Records

	// Kill the Spellchecker mid-outage and start it again on the same
	// spool: the new process must find what the old one accepted.
	bus := resilientBus(t, p.Restart(spellchecker.ServiceName))
	if got := bus.Stats().Queue.Records; got < spooled {
		t.Fatalf("restarted spellchecker's spool holds %d records, want the %d the halted one accepted", got, spooled)
	}
	p.healAt(cutAt.Add(minOutage))

	b := p.WaitCompleted(batchID, completeWithin)
	assertPipelineCompleted(t, p, batchID, b)
	assertAcceptedEventsInKafka(t, p)
	if st := bus.Stats(); st.Replayed < uint64(spooled) || st.Queue.Records != 0 {
		t.Errorf("restarted spellchecker bus %+v: want the %d records of the halted process replayed", st, spooled)
	}
	t.Logf("the halted spellchecker left %d records in its spool; the restarted one replayed them", spooled)
}

// The outbox as the durable queue, on PostgreSQL: the Spellchecker halted
// mid-outage (as a crash would leave it) with results in its outbox, and
// a new process of it on the same database delivers them once Kafka is
// back.
func TestBatchCompletesWhenServiceRestartsMidOutageFromItsOutboxOnPostgres(t *testing.T) {
	p := startPlatformWith(t, platformtest.Options{Database: "postgres"}, spellchecker.ServiceName)
	batchID, cutAt := p.cutMidPipeline(essays)
	old := p.App(spellchecker.ServiceName)
	if db := old.Runner().Database(); db == nil || db.DB.Dialect() != sqldb.Postgres {
		t.Fatalf("the spellchecker's database is %v, want PostgreSQL", db)
	}
	platformtest.WaitFor(t, 20*time.Second, "a spellcheck result in the outbox", func() bool { return outboxPending(t, old) > 0 })

	restarted := p.Restart(spellchecker.ServiceName)
	left := outboxPending(t, restarted)
	if left == 0 {
		t.Fatal("the restarted spellchecker's outbox is empty: the halted process's results are lost")
	}
	p.healAt(cutAt.Add(minOutage))

	b := p.WaitCompleted(batchID, completeWithin)
	assertPipelineCompleted(t, p, batchID, b)
	assertAcceptedEventsInKafka(t, p)
	if n := outboxPending(t, restarted); n != 0 {
		t.Errorf("%d events still in the outbox after the batch completed", n)
	}
	t.Logf("the halted spellchecker left %d results in its outbox; the restarted one delivered them", left)
}

// `huleedu serve all` survives its own restart: every service and the
// cluster stopped mid-batch, as a crash would, and started again on the
// same data directory (the services' SQLite files, the cluster's log):
// the batch completes with every essay's result once.
func TestBatchCompletesWhenThePlatformRestartsMidBatch(t *testing.T) {
	p := startPlatformWith(t, platformtest.Options{PersistKafka: true}, spellchecker.ServiceName)
	ctx := context.Background()
	batchID, err := p.RegisterBatch(ctx, essays)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.UploadEssays(ctx, batchID, essays); err != nil {
		t.Fatal(err)
	}
	// The spellcheck phase has begun: its first result waits at the gate,
	// in the Spellchecker's transaction, when everything stops.
	select {
	case <-p.gates[spellchecker.ServiceName].Entered():
	case <-time.After(30 * time.Second):
		t.Fatal("the spellcheck phase did not start within 30s")
	}
	before := p.Batch(batchID)
	p.RestartAll()
	p.gates[spellchecker.ServiceName].Open()

	b := p.WaitCompleted(batchID, completeWithin)
	t.Logf("stopped at %s/%s, completed after the restart", before.Status, before.CurrentPhase)
	assertPipelineCompleted(t, p, batchID, b)
}
