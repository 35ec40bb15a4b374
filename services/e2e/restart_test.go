package e2e

import (
	"testing"
	"time"

	"github.com/huleedu/huleedu/internal/platformtest"
	"github.com/huleedu/huleedu/services/spellchecker"
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
