package spool

import (
	"context"
	"path/filepath"
	"testing"
)

// segmentBase returns the first seq of the segment at path, from its name.
func segmentBase(t *testing.T, path string) uint64 {
	t.Helper()
	base, ok := parseSegmentName(filepath.Base(path))
	if !ok {
		t.Fatalf("%s is not a segment", path)
	}
	return base
}

// segmentGap is the gap left by the records of the i-th segment of dir
// (before the damage).
func segmentGap(t *testing.T, dir string, i int) []Gap {
	t.Helper()
	segs := segmentPaths(t, dir)
	first, next := segmentBase(t, segs[i]), segmentBase(t, segs[i+1])
	return []Gap{{First: first, Last: next - 1, Records: int64(next - first)}}
}

// damagedTailSpool is the recovery spool with its newest record
// damaged: the open that quarantines it reports the seqs it may have held
// as missing.
func damagedTailSpool(t *testing.T) string {
	t.Helper()
	dir := makeRecoverySpool(t)
	last := segmentPaths(t, dir)[2]
	spans := frameSpans(t, last)
	modifyFile(t, last, func(b []byte) []byte { b[spans[len(spans)-1].to-1] ^= 1; return b })
	return dir
}

// ackAll acknowledges everything d holds and closes it.
func ackAllAndClose(t *testing.T, d *Disk) {
	t.Helper()
	es, err := d.Peek(context.Background(), 1<<20)
	if err != nil || len(es) == 0 {
		t.Fatalf("Peek = %d entries, %v", len(es), err)
	}
	if err := d.Ack(es[len(es)-1].Seq); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
}

// A gap is reported on every open until the head has passed it. Draining
// up to a gap at the end of the log passes it too: nothing is left after
// it to deliver.
func TestGapIsNotReportedOnceTheHeadHasPassedIt(t *testing.T) {
	opts := DiskOptions{SegmentBytes: MinSegmentBytes}
	t.Run("gap at the end, drained up to it", func(t *testing.T) {
		dir := damagedTailSpool(t)
		d := openTest(t, dir, opts)
		if d.Stats().MissingRecords == 0 {
			t.Fatal("the damaged tail was not reported")
		}
		ackAllAndClose(t, d)
		d = openTest(t, dir, opts)
		if s := d.Stats(); s.MissingRecords != 0 || s.Records != 0 {
			t.Fatalf("after draining up to the gap: %+v, want nothing queued or missing", s)
		}
	})
	t.Run("gap before a record, then drained past it, then purged", func(t *testing.T) {
		dir := damagedTailSpool(t)
		d := openTest(t, dir, opts)
		appendRange(t, d, 1000, 1001)
		es, err := d.Peek(context.Background(), 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		if err := d.Ack(es[len(es)-2].Seq); err != nil { // up to the gap: it is still ahead
			t.Fatal(err)
		}
		d.Close()
		d = openTest(t, dir, opts)
		if d.Stats().MissingRecords == 0 {
			t.Fatal("a gap still between the head and the tail was not reported again")
		}
		ackAllAndClose(t, d)
		d = openTest(t, dir, opts)
		if s := d.Stats(); s.MissingRecords != 0 || s.Records != 0 {
			t.Fatalf("after draining past the gap: %+v, want nothing queued or missing", s)
		}
		appendRange(t, d, 2000, 2010)
		d.Close()
		if _, err := Purge(dir); err != nil {
			t.Fatal(err)
		}
		d = openTest(t, dir, opts)
		if s := d.Stats(); s.MissingRecords != 0 || s.Records != 0 {
			t.Fatalf("after a purge: %+v, want nothing queued or missing", s)
		}
	})
}
