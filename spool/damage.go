package spool

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
)

// Damage that appears in a committed segment while the spool is open (bit
// rot, a stray write) is found by the reader, whose cursor checks every
// frame it reads. The reader moves the damaged range aside as recovery on
// open would, and goes on with the next valid record: the range is
// copied to the quarantine directory, becomes a hole of its segment that
// every reader skips (writer.locate), and the records it held are counted
// out of the queue and reported as a gap. The segment file keeps the
// bytes until it is acknowledged and removed; an open before then finds
// the same range again and cuts it out (keeping the one quarantined
// copy).

// damageError reports bytes of a committed frame that changed on disk
// after they were written. It wraps ErrFailed.
type damageError struct {
	path string
	at   position
	err  error
}

func newDamage(dir string, at position, err error) *damageError {
	return &damageError{path: filepath.Join(dir, segmentName(at.base)), at: at, err: err}
}

func (e *damageError) Error() string {
	return fmt.Sprintf("%v: %s at offset %d changed on disk after it was written (%v); the next read moves it aside",
		ErrFailed, e.path, e.at.off, e.err)
}

func (e *damageError) Unwrap() []error { return []error{ErrFailed, e.err} }

// quarantineLocked moves aside the damaged range that starts at at: up to
// the next valid frame of its segment, or to the segment's committed end.
// prev is the seq of the record before it in reading order (acked when
// none was read). r.mu is held.
func (d *Disk) quarantineLocked(at position, prev uint64) error {
	name := segmentName(at.base)
	limit, last, ok := d.w.segmentEnd(at.base)
	if !ok {
		return fmt.Errorf("spool: quarantine %s: the segment was retired", name)
	}
	f, err := d.fs.OpenFile(filepath.Join(d.dir, name), os.O_RDONLY, 0)
	if err != nil {
		return fmt.Errorf("spool: quarantine %s: %w", name, err)
	}
	// Records after the damage carry seqs above prev, and at most the
	// segment's last.
	sc := newFrameScanner(f, limit, segmentKind, prev+1, last+1)
	to, err := sc.resync(at.off + 1)
	next := last + 1
	if err == nil && to >= 0 {
		var payload []byte
		payload, _, next, err = sc.frameAt(to)
		if err == nil && payload == nil {
			err = errors.New("the frame found after the damage is no longer valid")
		}
	}
	f.Close()
	if err != nil {
		return fmt.Errorf("spool: quarantine %s: %w", name, err)
	}
	if to < 0 {
		to = limit
	}
	hole := span{at.off, to}
	path, err := quarantineRange(d.fs, d.dir, name, hole)
	if err != nil {
		return err
	}
	gap := d.w.addHole(at.base, hole, prev, next)
	d.log.Warn("spool: moved a damaged range aside while reading; going on with the next record",
		"dir", d.dir, "name", name, "offset", hole.from, "bytes", hole.to-hole.from, "quarantine", path,
		"missing", gap.Records, "seqs", gap.String())
	return nil
}

// segmentEnd returns the committed end of segment base and the seq of its
// last record; ok is false when there is no such segment.
func (w *writer) segmentEnd(base uint64) (limit int64, last uint64, ok bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if i, found := w.segment(base); found {
		return w.segs[i].size, w.segs[i].last, true
	}
	return 0, 0, false
}

// segment returns the index of segment base in segs. mu is held.
func (w *writer) segment(base uint64) (int, bool) {
	return slices.BinarySearchFunc(w.segs, base, func(s segInfo, b uint64) int { return cmp.Compare(s.base, b) })
}

// addHole records hole, a quarantined range of segment base between the
// records prev and next, and counts its records out of the queue: every
// seq between prev and next that is not a gap already found had its
// record there, since seqs increase in reading order. It returns the gap
// the hole leaves.
func (w *writer) addHole(base uint64, hole span, prev, next uint64) Gap {
	w.mu.Lock()
	defer w.mu.Unlock()
	i, ok := w.segment(base)
	if !ok {
		return Gap{}
	}
	s := &w.segs[i]
	k, _ := slices.BinarySearchFunc(s.holes, hole.from, func(h span, from int64) int { return cmp.Compare(h.from, from) })
	s.holes = slices.Insert(s.holes, k, hole)
	w.quarantined++
	w.bytes -= hole.to - hole.from
	if next <= prev+1 {
		return Gap{}
	}
	gap := Gap{First: prev + 1, Last: next - 1}
	gap.Records = int64(gap.Last-gap.First+1) - overlap(w.ledger, gap)
	w.records = max(w.records-gap.Records, 0)
	w.missing += gap.Records
	if len(w.gaps) < maxReportedGaps {
		w.gaps = append(w.gaps, gap)
	}
	k, _ = slices.BinarySearchFunc(w.ledger, gap.First, func(g Gap, first uint64) int { return cmp.Compare(g.First, first) })
	w.ledger = slices.Insert(w.ledger, k, gap)
	return gap
}

// overlap counts the seqs of g that lie in one of gaps.
func overlap(gaps []Gap, g Gap) int64 {
	var n int64
	for _, o := range gaps {
		lo, hi := max(o.First, g.First), min(o.Last, g.Last)
		if lo <= hi {
			n += int64(hi - lo + 1)
		}
	}
	return n
}
