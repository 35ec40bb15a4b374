package spool

import (
	"context"
	"errors"
	"slices"
	"testing"
)

// drainAll reads everything queued in d with Peek (ahead false) or with
// PeekAfter in batches of batch (ahead true, so the read-ahead runs), and
// acknowledges nothing.
func drainAll(t *testing.T, d *Disk, ahead bool, batch int) []Entry {
	t.Helper()
	if !ahead {
		es, err := d.Peek(context.Background(), 1<<20)
		if err != nil {
			t.Fatalf("Peek: %v", err)
		}
		return es
	}
	var out []Entry
	var last uint64
	for {
		es, err := d.PeekAfter(context.Background(), last, batch)
		if err != nil {
			t.Fatalf("PeekAfter(%d): %v", last, err)
		}
		if len(es) == 0 {
			return out
		}
		out = append(out, es...)
		last = es[len(es)-1].Seq
	}
}

// A byte flipped in a committed record while the spool is open does not
// stop the reader: it moves the damaged range aside (a quarantine file),
// reports it (Stats.Quarantined, a gap of the one record), and returns
// the records before and after it. A reopen cuts the same range out,
// keeping the one quarantined copy, and queues the same records.
func TestDamageAfterOpenIsMovedAsideAndTheRecordsAroundItDelivered(t *testing.T) {
	const n = 40
	big := make([]byte, 30_000) // 40 records of 30 kB: several read buffers, and read-aheads
	tests := []struct {
		name    string
		ahead   bool
		damaged int // the record whose bytes flip
	}{
		{"Peek, a record in the middle", false, 17},
		{"PeekAfter with the read-ahead, a record in the middle", true, 17},
		{"Peek, the first record", false, 0},
		{"PeekAfter, the newest record", true, n - 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			d := openTest(t, dir, DiskOptions{})
			for i := range n {
				r := rec(i)
				r.Key = big
				if err := d.Append(context.Background(), r); err != nil {
					t.Fatal(err)
				}
			}
			seg := segmentPaths(t, dir)[0]
			sp := frameSpans(t, seg)[tt.damaged]
			modifyFile(t, seg, func(b []byte) []byte { b[sp.from+frameHeaderSize+100] ^= 0x20; return b })

			want := ints(0, n, tt.damaged)
			if got := indexesOf(t, drainAll(t, d, tt.ahead, 4)); !equalInts(got, want) {
				t.Fatalf("read %v, want every record but %d", got, tt.damaged)
			}
			seq := uint64(tt.damaged + 1)
			wantGaps := []Gap{{First: seq, Last: seq, Records: 1}}
			s := d.Stats()
			if s.Quarantined != 1 || s.MissingRecords != 1 || !slices.Equal(s.Gaps, wantGaps) || s.Records != n-1 {
				t.Fatalf("Stats() = %+v, want 1 range quarantined, gap %v, %d records", s, wantGaps, n-1)
			}
			q := quarantineFiles(t, dir)
			if len(q) != 1 || fileSize(t, q[0]) != sp.to-sp.from {
				t.Fatalf("quarantine holds %v, want one file of the damaged frame's %d bytes", q, sp.to-sp.from)
			}
			// New records after the damage are read too.
			appendRange(t, d, 100, 102)
			if got := queued(t, d); !equalInts(got, append(want, 100, 101)) {
				t.Fatalf("queued after appending more = %v", got)
			}
			if err := d.Close(); err != nil {
				t.Fatal(err)
			}

			d2 := openTest(t, dir, DiskOptions{})
			if got := queued(t, d2); !equalInts(got, append(want, 100, 101)) {
				t.Fatalf("queued after reopening = %v", got)
			}
			if s := d2.Stats(); s.Quarantined != 1 || !slices.Equal(s.Gaps, wantGaps) || s.Records != n+1 {
				t.Fatalf("Stats() after reopening = %+v, want the range cut out, gap %v, %d records", s, wantGaps, n+1)
			}
			if q := quarantineFiles(t, dir); len(q) != 1 {
				t.Fatalf("quarantine holds %v after reopening, want the one copy", q)
			}
			es, _ := d2.Peek(context.Background(), 1<<20)
			if err := d2.Ack(es[len(es)-1].Seq); err != nil {
				t.Fatal(err)
			}
			if s := d2.Stats(); s.Records != 0 || s.Bytes != 0 {
				t.Fatalf("Stats() after acknowledging everything = %+v, want empty", s)
			}
		})
	}
}

// Damage and records acknowledged around it: the counts stay exact, so
// that the drained queue gives its segments back.
func TestAcknowledgingPastAMovedAsideRangeDrainsTheQueue(t *testing.T) {
	dir := t.TempDir()
	d := openTest(t, dir, DiskOptions{SegmentBytes: MinSegmentBytes})
	appendRange(t, d, 0, 300)
	seg := segmentPaths(t, dir)[1]
	sp := frameSpans(t, seg)[5]
	modifyFile(t, seg, func(b []byte) []byte { b[sp.to-1] ^= 1; return b })
	var last uint64
	for {
		es, err := d.PeekAfter(context.Background(), last, 7)
		if err != nil {
			t.Fatal(err)
		}
		if len(es) == 0 {
			break
		}
		last = es[len(es)-1].Seq
		if err := d.Ack(last); err != nil {
			t.Fatal(err)
		}
	}
	if s := d.Stats(); s.Records != 0 || s.Bytes != 0 || s.Segments != 0 || s.MissingRecords != 1 {
		t.Fatalf("Stats() after draining = %+v, want empty, no segment, 1 record missing", s)
	}
	waitFor(t, "the segments to be removed", func() bool { return len(segmentPaths(t, dir)) == 0 })
}

// A range that cannot be moved aside (the quarantine cannot be written)
// stops the reader before it: the records before it are delivered, then
// reading at it is an error, until the quarantine works.
func TestDamageThatCannotBeMovedAsideStopsTheReaderBeforeIt(t *testing.T) {
	dir := t.TempDir()
	ffs := newFaultFS()
	d := openTest(t, dir, DiskOptions{FS: ffs})
	appendRange(t, d, 0, 10)
	seg := segmentPaths(t, dir)[0]
	sp := frameSpans(t, seg)[3]
	modifyFile(t, seg, func(b []byte) []byte { b[sp.to-1] ^= 1; return b })
	ffs.setSync(func(name string) error {
		if name != headFileName && !isSegment(name) {
			return errQuarantineBroken
		}
		return nil
	})
	es, err := d.Peek(context.Background(), 10)
	if got := indexesOf(t, es); err != nil || !equalInts(got, ints(0, 3)) {
		t.Fatalf("Peek with a failing quarantine = %v, %v; want the 3 records before the damage", got, err)
	}
	if err := d.Ack(es[2].Seq); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Peek(context.Background(), 10); !errors.Is(err, ErrFailed) || !errors.Is(err, errQuarantineBroken) {
		t.Fatalf("Peek at the damage with a failing quarantine = %v, want ErrFailed and the cause", err)
	}
	ffs.setSync(nil)
	if got := queued(t, d); !equalInts(got, ints(4, 10)) {
		t.Fatalf("queued once the quarantine works = %v", got)
	}
}

var errQuarantineBroken = errors.New("quarantine broken")
