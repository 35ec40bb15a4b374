package spooltest

import (
	"context"
	"testing"

	"github.com/huleedu/huleedu/spool"
)

// TestReadAhead runs the spool.ReadAhead contract against queues from
// open, which must implement it.
func TestReadAhead(t *testing.T, open Opener) {
	ra := func(t *testing.T, q spool.Queue) spool.ReadAhead {
		r, ok := q.(spool.ReadAhead)
		if !ok {
			t.Fatalf("%T does not implement spool.ReadAhead", q)
		}
		return r
	}
	after := func(t *testing.T, r spool.ReadAhead, seq uint64, max int) []spool.Entry {
		t.Helper()
		es, err := r.PeekAfter(context.Background(), seq, max)
		if err != nil {
			t.Fatalf("PeekAfter(%d, %d): %v", seq, max, err)
		}
		return es
	}

	t.Run("ContinuesWhereThePreviousReadStopped", func(t *testing.T) {
		q := open(t, Config{})
		r := ra(t, q)
		appendN(t, q, 0, 10)
		first := peek(t, q, 3)
		wantIndexes(t, first, 0, 1, 2)
		second := after(t, r, first[2].Seq, 3)
		wantIndexes(t, second, 3, 4, 5)
		third := after(t, r, second[2].Seq, 100)
		wantIndexes(t, third, 6, 7, 8, 9)
		wantIndexes(t, after(t, r, third[3].Seq, 5)) // past the tail: nothing
		wantIndexes(t, peek(t, q, 2), 0, 1)          // nothing was removed
	})

	t.Run("AcknowledgingTheOldestKeepsTheReadAhead", func(t *testing.T) {
		q := open(t, Config{})
		r := ra(t, q)
		appendN(t, q, 0, 9)
		a := peek(t, q, 3)
		b := after(t, r, a[2].Seq, 3)
		ack(t, q, a[2].Seq)
		wantIndexes(t, after(t, r, b[2].Seq, 3), 6, 7, 8)
		ack(t, q, b[2].Seq)
		wantIndexes(t, peek(t, q, 10), 6, 7, 8)
	})

	t.Run("AnyEarlierSeqRestartsFromTheHead", func(t *testing.T) {
		q := open(t, Config{})
		r := ra(t, q)
		appendN(t, q, 0, 6)
		es := peek(t, q, 6)
		wantIndexes(t, after(t, r, es[1].Seq, 2), 2, 3)
		wantIndexes(t, after(t, r, 0, 2), 0, 1)
		ack(t, q, es[0].Seq)
		wantIndexes(t, after(t, r, es[0].Seq, 10), 1, 2, 3, 4, 5)
	})

	t.Run("SeesRecordsAppendedAfterTheRead", func(t *testing.T) {
		q := open(t, Config{})
		r := ra(t, q)
		appendN(t, q, 0, 2)
		es := peek(t, q, 10)
		appendN(t, q, 2, 2)
		wantIndexes(t, after(t, r, es[1].Seq, 10), 2, 3)
	})

	t.Run("ReadsAheadAcrossManyRecordsWhileAcking", func(t *testing.T) {
		q := open(t, Config{})
		r := ra(t, q)
		appendN(t, q, 0, 600)
		var pending [][]spool.Entry // read, not yet acknowledged, oldest first
		var last uint64
		next := 0
		for next < 600 || len(pending) > 0 {
			if len(pending) < 3 && next < 600 {
				es := after(t, r, last, 37)
				for k, e := range es {
					if got := index(t, e.Record); got != next+k {
						t.Fatalf("read-ahead returned record %d, want %d", got, next+k)
					}
				}
				next += len(es)
				last = es[len(es)-1].Seq
				pending = append(pending, es)
				continue
			}
			oldest := pending[0]
			ack(t, q, oldest[len(oldest)-1].Seq)
			pending = pending[1:]
		}
		if st := q.Stats(); st.Records != 0 {
			t.Fatalf("%d records left after reading ahead and acking all", st.Records)
		}
	})
}
