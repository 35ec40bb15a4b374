package spool

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
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
	d, err := OpenDisk(dir, DiskOptions{SegmentBytes: MinSegmentBytes, Logger: quietLogger})
	if err != nil {
		t.Fatal(err)
	}
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
	d, err := OpenDisk(dir, DiskOptions{SegmentBytes: MinSegmentBytes, Logger: quietLogger})
	if err != nil {
		t.Fatal(err)
	}
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
	d := openTest(t, t.TempDir(), DiskOptions{MaxBytes: 1000})
	err := d.Append(context.Background(), event.Record{Topic: "t", Value: make([]byte, 1000)})
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Append = %v, want ErrTooLarge", err)
	}
	if s := d.Stats(); s.Records != 0 {
		t.Fatalf("Stats() = %+v after a refused append", s)
	}
}

func TestReopenWithSmallerMaxBytesKeepsEveryRecord(t *testing.T) {
	dir := t.TempDir()
	d, err := OpenDisk(dir, DiskOptions{Logger: quietLogger})
	if err != nil {
		t.Fatal(err)
	}
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
	d, err := OpenDisk(dir, DiskOptions{Logger: quietLogger})
	if err != nil {
		t.Fatal(err)
	}
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

func TestDamageAfterOpenIsReportedByPeekAndQuarantinedOnReopen(t *testing.T) {
	dir := t.TempDir()
	d, err := OpenDisk(dir, DiskOptions{Logger: quietLogger})
	if err != nil {
		t.Fatal(err)
	}
	appendRange(t, d, 0, 10)
	seg := segmentPaths(t, dir)[0]
	sp := frameSpans(t, seg)[3]
	modifyFile(t, seg, func(b []byte) []byte { b[sp.to-1] ^= 0xff; return b })

	es, err := d.Peek(context.Background(), 10)
	if err != nil || len(es) != 3 {
		t.Fatalf("Peek = %d entries, %v; want the 3 before the damage", len(es), err)
	}
	if err := d.Ack(es[2].Seq); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Peek(context.Background(), 10); !errors.Is(err, ErrFailed) || !strings.Contains(err.Error(), "reopen") {
		t.Fatalf("Peek at the damage = %v, want ErrFailed telling to reopen", err)
	}
	d.Close()
	d2 := openTest(t, dir, DiskOptions{})
	if got := queued(t, d2); !equalInts(got, ints(4, 10)) || d2.Stats().Quarantined != 1 {
		t.Fatalf("after reopening: queued %v, Stats %+v", got, d2.Stats())
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

// Peeked entries alias the bytes the read cursor read, without a copy, so
// the cursor must never read over them: entries handed out stay intact
// through later peeks (many refills of the cursor's buffer), acks (which
// reread frame headers) and segment deletions.
func TestPeekedEntriesSurviveLaterReads(t *testing.T) {
	d := openTest(t, t.TempDir(), DiskOptions{SegmentBytes: 1 << 20})
	const n = 3000 // 3 MB: a dozen cursor refills, three segments
	value := func(i int) []byte { return bytes.Repeat([]byte{byte('a' + i%26)}, 1000) }
	for i := 0; i < n; i += 100 {
		batch := make([]event.Record, 100)
		for j := range batch {
			batch[j] = event.Record{Topic: "t", Key: []byte(strconv.Itoa(i + j)), Value: value(i + j)}
		}
		if err := d.Append(context.Background(), batch...); err != nil {
			t.Fatal(err)
		}
	}
	var held []Entry
	var last uint64
	for len(held) < n {
		es, err := d.PeekAfter(context.Background(), last, 250)
		if err != nil || len(es) == 0 {
			t.Fatalf("PeekAfter(%d) = %d entries, %v", last, len(es), err)
		}
		held = append(held, es...)
		last = es[len(es)-1].Seq
		if len(held)%1000 == 0 {
			if err := d.Ack(held[len(held)-500].Seq); err != nil {
				t.Fatal(err)
			}
		}
	}
	for i, e := range held {
		if string(e.Key) != strconv.Itoa(i) || !bytes.Equal(e.Value, value(i)) || e.Topic != "t" {
			t.Fatalf("entry %d read back as key %q, value %.10q... after later reads", i, e.Key, e.Value)
		}
	}
}

// A drainer reading ahead (PeekAfter, batch after batch, acknowledging as
// it goes) while publishers keep appending sees every record exactly once,
// in order: the background read-ahead stops at the tail, is restarted
// after it, and never hands over a batch that does not continue the last.
func TestReadAheadWhileAppendingDeliversEveryRecordOnceInOrder(t *testing.T) {
	d := openTest(t, t.TempDir(), DiskOptions{SegmentBytes: 1 << 20})
	const n, writers = 6000, 4
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := w; i < n; i += writers {
				if err := d.Append(context.Background(), rec(i)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	seen := make([]bool, n)
	lastByWriter := make([]int, writers)
	for i := range lastByWriter {
		lastByWriter[i] = -1
	}
	var last uint64
	got := 0
	deadline := time.Now().Add(30 * time.Second)
	for got < n {
		if time.Now().After(deadline) {
			t.Fatalf("drained %d of %d records", got, n)
		}
		max := 50 + got%7*40 // the batch size varies, as read-aheads must cope
		es, err := d.PeekAfter(context.Background(), last, max)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range es {
			i := recIndex(t, e)
			if e.Seq <= last || seen[i] {
				t.Fatalf("record %d (seq %d) again, after seq %d", i, e.Seq, last)
			}
			if w := i % writers; i <= lastByWriter[w] {
				t.Fatalf("writer %d's record %d after its record %d", w, i, lastByWriter[w])
			} else {
				lastByWriter[w] = i
			}
			seen[i], last = true, e.Seq
			got++
		}
		if len(es) > 0 && got%3 == 0 {
			if err := d.Ack(last); err != nil {
				t.Fatal(err)
			}
		}
	}
	wg.Wait()
}
