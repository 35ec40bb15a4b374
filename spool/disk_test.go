package spool

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/huleedu/huleedu/event"
)

func TestOpenDiskRejectsBadOptionsNamingTheField(t *testing.T) {
	tests := []struct {
		opts  DiskOptions
		field string
	}{
		{DiskOptions{MaxBytes: -1}, "MaxBytes"},
		{DiskOptions{SegmentBytes: -1}, "SegmentBytes"},
		{DiskOptions{SegmentBytes: MinSegmentBytes - 1}, "SegmentBytes"},
		{DiskOptions{Overflow: Overflow(7)}, "Overflow"},
		{DiskOptions{GroupCommitMaxBytes: -1}, "GroupCommitMaxBytes"},
	}
	for _, tt := range tests {
		t.Run(tt.field, func(t *testing.T) {
			_, err := OpenDisk(t.TempDir(), tt.opts)
			if err == nil || !strings.Contains(err.Error(), "DiskOptions."+tt.field) {
				t.Fatalf("OpenDisk(%+v) = %v, want an error naming DiskOptions.%s", tt.opts, err, tt.field)
			}
		})
	}
}

func TestReopenReplaysUnacknowledgedRecordsInOrder(t *testing.T) {
	dir := t.TempDir()
	d := openTest(t, dir, DiskOptions{SegmentBytes: MinSegmentBytes})
	appendRange(t, d, 0, 300)
	es, _ := d.Peek(context.Background(), 20)
	if err := d.Ack(es[19].Seq); err != nil {
		t.Fatal(err)
	}
	before := d.Stats()
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	d2 := openTest(t, dir, DiskOptions{SegmentBytes: MinSegmentBytes})
	if got := queued(t, d2); !equalInts(got, ints(20, 300)) {
		t.Fatalf("queued after reopening = %v", got)
	}
	after := d2.Stats()
	if after.Records != before.Records || after.Bytes != before.Bytes || !after.OldestAt.Equal(before.OldestAt) || after.Segments != before.Segments {
		t.Fatalf("Stats() after reopening = %+v, before closing %+v", after, before)
	}
}

func TestStatsBytesCountFrameSizes(t *testing.T) {
	d := openTest(t, t.TempDir(), DiskOptions{})
	recs := []event.Record{rec(1), {Topic: "x", Value: make([]byte, 1000), Headers: []event.Header{{Key: "h", Value: []byte("v")}}}}
	if err := d.Append(context.Background(), recs...); err != nil {
		t.Fatal(err)
	}
	want := FrameSize(&recs[0]) + FrameSize(&recs[1])
	if got := d.Stats().Bytes; got != want {
		t.Fatalf("Stats().Bytes = %d, want %d", got, want)
	}
}

func TestAckRemovesFullyAcknowledgedSegments(t *testing.T) {
	dir := t.TempDir()
	d := openTest(t, dir, DiskOptions{SegmentBytes: MinSegmentBytes})
	appendRange(t, d, 0, 300)
	segs := segmentPaths(t, dir)
	first := recordsIn(t, segs[0])
	sizeBefore := dirSize(t, dir)

	es, _ := d.Peek(context.Background(), first+1)
	if err := d.Ack(es[first-1].Seq); err != nil {
		t.Fatal(err)
	}
	d.background.Wait() // segments are removed in the background
	if _, err := os.Stat(segs[0]); !os.IsNotExist(err) {
		t.Fatalf("fully acknowledged segment still there (%v)", err)
	}
	if d.Stats().Segments != len(segs)-1 || dirSize(t, dir) >= sizeBefore {
		t.Fatalf("after acknowledging a segment: %d segments, %d bytes on disk (before %d)", d.Stats().Segments, dirSize(t, dir), sizeBefore)
	}
	if got := queued(t, d); !equalInts(got, ints(first, 300)) {
		t.Fatalf("queued = %v", got)
	}
}

func TestDrainedSpoolRemovesEverySegmentAndKeepsNumbering(t *testing.T) {
	dir := t.TempDir()
	d := openTest(t, dir, DiskOptions{SegmentBytes: MinSegmentBytes})
	appendRange(t, d, 0, 300)
	es, _ := d.Peek(context.Background(), 1000)
	if err := d.Ack(es[len(es)-1].Seq); err != nil {
		t.Fatal(err)
	}
	d.background.Wait() // segments are removed in the background
	if n := len(segmentPaths(t, dir)); n != 0 {
		t.Fatalf("%d segment files left after draining", n)
	}
	appendRange(t, d, 300, 301)
	d.Close()

	d2 := openTest(t, dir, DiskOptions{})
	es, _ = d2.Peek(context.Background(), 10)
	if len(es) != 1 || es[0].Seq != 301 {
		t.Fatalf("after draining and reopening: %+v, want one entry with seq 301", es)
	}
	if err := d2.Ack(301); err != nil {
		t.Fatal(err)
	}
	d2.Close()
	d3 := openTest(t, dir, DiskOptions{})
	appendRange(t, d3, 301, 302)
	if es, _ := d3.Peek(context.Background(), 10); es[0].Seq != 302 {
		t.Fatalf("seq after reopening a drained spool = %d, want 302", es[0].Seq)
	}
}

func TestAppendOfRecordLargerThanMaxBytesFailsWithErrTooLarge(t *testing.T) {
	tests := []struct {
		name     string
		maxBytes int64
		value    int
	}{
		{"larger than MaxBytes", 1000, 1000},
		// Never touched, so the 256 MiB cost no memory.
		{"over 256 MiB - 8 KiB, within MaxBytes", 1 << 30, maxRecordPayload},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := openTest(t, t.TempDir(), DiskOptions{MaxBytes: tt.maxBytes})
			err := d.Append(context.Background(), event.Record{Topic: "t", Value: make([]byte, tt.value)})
			if !errors.Is(err, ErrTooLarge) {
				t.Fatalf("Append = %v, want ErrTooLarge", err)
			}
			if s := d.Stats(); s.Records != 0 {
				t.Fatalf("Stats() = %+v after a refused append", s)
			}
		})
	}
}

func TestRecordLargerThanASegmentGetsOneOfItsOwn(t *testing.T) {
	dir := t.TempDir()
	d := openTest(t, dir, DiskOptions{SegmentBytes: MinSegmentBytes})
	big := rec(1)
	big.Key = make([]byte, 2*MinSegmentBytes)
	for _, r := range []event.Record{rec(0), big, rec(2)} {
		if err := d.Append(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
	segs := segmentPaths(t, dir)
	if len(segs) != 3 || recordsIn(t, segs[1]) != 1 || fileSize(t, segs[1]) != logHeaderSize+FrameSize(&big) {
		t.Fatalf("segments %v, want 3 with the large record alone in the second", segs)
	}
	d.Close()
	if got := queued(t, openTest(t, dir, DiskOptions{SegmentBytes: MinSegmentBytes})); !equalInts(got, ints(0, 3)) {
		t.Fatalf("queued after reopening = %v", got)
	}
}

// Acknowledged segments are unlinked in the background, so Ack does not
// wait for it; Close does, before it lets go of the directory.
func TestCloseWaitsForAcknowledgedSegmentsToBeRemoved(t *testing.T) {
	dir := t.TempDir()
	ffs := newFaultFS()
	d := openTest(t, dir, DiskOptions{FS: ffs, SegmentBytes: MinSegmentBytes})
	appendRange(t, d, 0, 300)
	segs := segmentPaths(t, dir)
	removing, release := make(chan struct{}, len(segs)), make(chan struct{})
	releaseOnce := sync.OnceFunc(func() { close(release) })
	defer releaseOnce()
	ffs.setRemove(func(name string) {
		if isSegment(name) {
			removing <- struct{}{}
			<-release
		}
	})
	es, _ := d.Peek(context.Background(), recordsIn(t, segs[0]))
	if err := d.Ack(es[len(es)-1].Seq); err != nil { // returns with the removal blocked
		t.Fatal(err)
	}
	<-removing
	closed := make(chan error, 1)
	go func() { closed <- d.Close() }()
	select {
	case err := <-closed:
		t.Fatalf("Close returned (%v) while an acknowledged segment was being removed", err)
	case <-time.After(100 * time.Millisecond): // long enough for a Close that does not wait
	}
	releaseOnce()
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(segs[0]); !os.IsNotExist(err) {
		t.Fatalf("acknowledged segment still there after Close (%v)", err)
	}
}

func TestReopenWithSmallerMaxBytesKeepsEveryRecord(t *testing.T) {
	dir := t.TempDir()
	d := openTest(t, dir, DiskOptions{})
	appendRange(t, d, 0, 100)
	d.Close()
	small := openTest(t, dir, DiskOptions{MaxBytes: 1000, Overflow: OverflowReject})
	if got := queued(t, small); !equalInts(got, ints(0, 100)) {
		t.Fatalf("queued = %v", got)
	}
	if err := small.Append(context.Background(), rec(100)); !errors.Is(err, ErrFull) {
		t.Fatalf("Append over the new limit = %v, want ErrFull", err)
	}
	es, _ := small.Peek(context.Background(), 100)
	if err := small.Ack(es[99].Seq); err != nil {
		t.Fatal(err)
	}
	appendRange(t, small, 100, 101)
}

func TestDrainReadsEachByteAboutOnce(t *testing.T) {
	dir := t.TempDir()
	ffs := newFaultFS()
	d := openTest(t, dir, DiskOptions{FS: ffs, SegmentBytes: 64 << 10})
	const n = 20000
	for i := 0; i < n; i += 100 {
		batch := make([]event.Record, 100)
		for j := range batch {
			batch[j] = rec(i + j)
		}
		if err := d.Append(context.Background(), batch...); err != nil {
			t.Fatal(err)
		}
	}
	stored := d.Stats().Bytes
	reads, opens := ffs.readBytes.Load(), ffs.opens.Load()
	segments := int64(d.Stats().Segments)
	next := 0
	for {
		es, err := d.Peek(context.Background(), 100)
		if err != nil {
			t.Fatal(err)
		}
		if len(es) == 0 {
			break
		}
		for _, e := range es {
			if recIndex(t, e) != next {
				t.Fatalf("drained v%d where v%d was due", recIndex(t, e), next)
			}
			next++
		}
		if err := d.Ack(es[len(es)-1].Seq); err != nil {
			t.Fatal(err)
		}
	}
	if next != n {
		t.Fatalf("drained %d records, want %d", next, n)
	}
	read := ffs.readBytes.Load() - reads
	if read > stored+stored/4 {
		t.Fatalf("draining %d bytes read %d bytes: the cursor rereads", stored, read)
	}
	// One open per segment for reading, plus the head file's temp per Ack.
	if extra := ffs.opens.Load() - opens - n/100; extra > segments+2 {
		t.Fatalf("%d segment opens while draining %d segments", extra, segments)
	}
}

func TestRepeatedPeekIsServedFromTheCursor(t *testing.T) {
	ffs := newFaultFS()
	d := openTest(t, t.TempDir(), DiskOptions{FS: ffs})
	appendRange(t, d, 0, 100)
	first, _ := d.Peek(context.Background(), 50)
	reads := ffs.readBytes.Load()
	again, _ := d.Peek(context.Background(), 50)
	if len(again) != 50 || again[49].Seq != first[49].Seq {
		t.Fatal("a repeated Peek returned different entries")
	}
	if n := ffs.readBytes.Load() - reads; n != 0 {
		t.Fatalf("a repeated Peek read %d bytes from disk, want 0", n)
	}
}

func TestCloseWaitsForAppendsInFlight(t *testing.T) {
	dir := t.TempDir()
	d := openTest(t, dir, DiskOptions{})
	results := make([]error, 50)
	var wg sync.WaitGroup
	for i := range results {
		wg.Go(func() { results[i] = d.Append(context.Background(), rec(i)) })
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	d2 := openTest(t, dir, DiskOptions{})
	present := map[int]bool{}
	for _, i := range queued(t, d2) {
		present[i] = true
	}
	for i, err := range results {
		switch {
		case err == nil && !present[i]:
			t.Fatalf("Append of v%d returned nil but the record is gone after Close", i)
		case err != nil && !errors.Is(err, ErrClosed):
			t.Fatalf("Append of v%d = %v, want nil or ErrClosed", i, err)
		case err != nil && present[i]:
			t.Fatalf("Append of v%d failed but the record was stored", i)
		}
	}
}

func TestAppendedAtComesFromTheInjectedClock(t *testing.T) {
	at := time.Date(2030, 1, 2, 3, 4, 5, 6, time.UTC)
	d := openTest(t, t.TempDir(), DiskOptions{Now: func() time.Time { return at }})
	appendRange(t, d, 0, 1)
	es, _ := d.Peek(context.Background(), 1)
	if !es[0].AppendedAt.Equal(at) || !d.Stats().OldestAt.Equal(at) {
		t.Fatalf("AppendedAt = %v, OldestAt = %v, want %v", es[0].AppendedAt, d.Stats().OldestAt, at)
	}
}

func dirSize(t *testing.T, dir string) int64 {
	t.Helper()
	var n int64
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if info, err := os.Stat(filepath.Join(dir, e.Name())); err == nil && info.Mode().IsRegular() {
			n += info.Size()
		}
	}
	return n
}
