package spool

import (
	"context"
	"runtime"
	"testing"

	"github.com/huleedu/huleedu/event"
)

// heapInuse returns the live heap after a collection.
func heapInuse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

func TestMillionRecordBacklogReplaysInBoundedMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("writes and replays a million records")
	}
	const (
		records = 1_000_000
		batch   = 1000
		// The backlog is ~35 MB on disk; holding it (or an index entry
		// per record) in memory would blow well past this.
		heapBound = 24 << 20
	)
	dir := t.TempDir()
	opts := DiskOptions{SegmentBytes: 4 << 20, Logger: quietLogger}
	d, err := OpenDisk(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	recs := make([]event.Record, batch)
	for i := 0; i < records; i += batch {
		for j := range recs {
			recs[j] = rec(i + j)
		}
		if err := d.Append(context.Background(), recs...); err != nil {
			t.Fatal(err)
		}
	}
	onDisk := d.Stats().Bytes
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	recs = nil
	base := heapInuse()

	d = openTest(t, dir, opts)
	if s := d.Stats(); s.Records != records {
		t.Fatalf("reopened spool holds %d records, want %d", s.Records, records)
	}
	peak := heapInuse()
	next := 0
	for round := 0; ; round++ {
		es, err := d.Peek(context.Background(), 1000)
		if err != nil {
			t.Fatal(err)
		}
		if len(es) == 0 {
			break
		}
		if got := recIndex(t, es[0]); got != next {
			t.Fatalf("replay is at v%d, want v%d", got, next)
		}
		next += len(es)
		if round%100 == 50 {
			peak = max(peak, heapInuse())
		}
		if err := d.Ack(es[len(es)-1].Seq); err != nil {
			t.Fatal(err)
		}
	}
	if next != records {
		t.Fatalf("replayed %d records, want %d", next, records)
	}
	t.Logf("%d records, %d bytes on disk; heap in use %d KiB before opening, at most %d KiB while replaying",
		records, onDisk, base>>10, peak>>10)
	if peak > base+heapBound {
		t.Fatalf("heap in use reached %d KiB replaying a %d KiB backlog (baseline %d KiB)", peak>>10, onDisk>>10, base>>10)
	}
}
