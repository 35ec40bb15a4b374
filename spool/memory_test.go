package spool_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/huleedu/huleedu/spool"
	"github.com/huleedu/huleedu/spool/spooltest"
)

func TestMemoryKeepsTheQueueContract(t *testing.T) {
	spooltest.TestQueue(t, openMemoryForSuite)
}

func openMemoryForSuite(t *testing.T, cfg spooltest.Config) spool.Queue {
	max := cfg.Capacity
	if max == 0 {
		max = 100_000
	}
	m, err := spool.NewMemory(spool.MemoryOptions{MaxRecords: max, Overflow: cfg.Overflow})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func TestNewMemoryRejectsInvalidOptionsNamingTheField(t *testing.T) {
	for _, c := range []struct {
		opts spool.MemoryOptions
		want string
	}{
		{spool.MemoryOptions{MaxRecords: -1}, "MemoryOptions.MaxRecords = -1"},
		{spool.MemoryOptions{Overflow: spool.Overflow(7)}, "MemoryOptions.Overflow = 7"},
	} {
		if _, err := spool.NewMemory(c.opts); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("NewMemory(%+v) = %v, want an error naming %q", c.opts, err, c.want)
		}
	}
}

func TestMemoryDefaultsToTheOriginalQueueSize(t *testing.T) {
	m, err := spool.NewMemory(spool.MemoryOptions{Overflow: spool.OverflowReject})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	for i := range spool.DefaultMemoryMaxRecords {
		if err := m.Append(context.Background(), spooltest.Record(i)); err != nil {
			t.Fatalf("append %d: %v", i, err)
		}
	}
	if err := m.Append(context.Background(), spooltest.Record(0)); !errors.Is(err, spool.ErrFull) {
		t.Fatalf("append past %d: %v, want ErrFull", spool.DefaultMemoryMaxRecords, err)
	}
}

// A dead letter keeps its record and reason, and is counted in Stats.
func TestMemoryDeadLetterKeepsRecordAndReason(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	m, _ := spool.NewMemory(spool.MemoryOptions{Now: func() time.Time { return now }})
	defer m.Close()
	_ = m.Append(context.Background(), spooltest.Record(1), spooltest.Record(2))
	head, _ := m.Peek(context.Background(), 1)
	if err := m.DeadLetter(head[0], "MESSAGE_TOO_LARGE"); err != nil {
		t.Fatal(err)
	}
	dl := m.DeadLetters()
	if len(dl) != 1 || dl[0].Reason != "MESSAGE_TOO_LARGE" || dl[0].Entry.Seq != head[0].Seq || !dl[0].At.Equal(now) {
		t.Fatalf("dead letters %+v", dl)
	}
	if st := m.Stats(); st.Records != 1 || st.DeadLetters != 1 {
		t.Fatalf("stats %+v, want 1 queued and 1 dead letter", st)
	}
}

// Like the disk spool, the memory queue dead-letters what it holds, not
// the caller's copy of the entry, and counts its bytes accordingly.
func TestMemoryDeadLetterKeepsTheQueuedRecordNotTheCallersCopy(t *testing.T) {
	m, _ := spool.NewMemory(spool.MemoryOptions{})
	defer m.Close()
	_ = m.Append(context.Background(), spooltest.Record(1))
	head, _ := m.Peek(context.Background(), 1)
	e := head[0]
	e.Value = []byte("changed by the caller, and longer than the queued value")
	if err := m.DeadLetter(e, "r"); err != nil {
		t.Fatal(err)
	}
	if dl := m.DeadLetters(); len(dl) != 1 || string(dl[0].Entry.Value) != string(spooltest.Record(1).Value) {
		t.Fatalf("dead letters %+v, want the queued record", dl)
	}
	if st := m.Stats(); st.Records != 0 || st.Bytes != 0 {
		t.Fatalf("stats %+v after dead-lettering the only record, want 0 records and 0 bytes", st)
	}
}

// Entries live in fixed-size blocks; order, Peek and Ack must hold across
// block boundaries, with acks in uneven steps.
func TestMemoryKeepsOrderAcrossBlocks(t *testing.T) {
	m, _ := spool.NewMemory(spool.MemoryOptions{MaxRecords: 5000})
	defer m.Close()
	ctx := context.Background()
	for i := range 2500 {
		if err := m.Append(ctx, spooltest.Record(i)); err != nil {
			t.Fatal(err)
		}
	}
	next := 0 // index of the record expected at the head
	for _, step := range []int{1, 511, 1, 700, 513, 1, 773} {
		es, err := m.Peek(ctx, step)
		if err != nil || len(es) != step {
			t.Fatalf("peek %d: %d entries, %v", step, len(es), err)
		}
		for k, e := range es {
			if want := spooltest.Record(next + k); string(e.Value) != string(want.Value) {
				t.Fatalf("entry %d of a peek at %d: got %q, want %q", k, next, e.Value, want.Value)
			}
		}
		if err := m.Ack(es[len(es)-1].Seq); err != nil {
			t.Fatal(err)
		}
		next += step
		if got := m.Stats().Records; got != int64(2500-next) {
			t.Fatalf("after acking %d: %d queued, want %d", next, got, 2500-next)
		}
	}
	if rest := m.Remaining(); len(rest) != 0 {
		t.Fatalf("%d entries remain after acking all", len(rest))
	}
}

func TestMemoryKeepsTheReadAheadContract(t *testing.T) {
	spooltest.TestReadAhead(t, openMemoryForSuite)
}
