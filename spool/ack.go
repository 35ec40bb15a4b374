package spool

import (
	"encoding/binary"
	"fmt"
	"path/filepath"
	"time"
)

// Ack implements Queue. It persists the new head (a slot of the head
// file, written in place: one fsync), so acknowledge batches rather than
// single records. Segments left fully acknowledged are deleted. Peek,
// PeekAfter and the read-ahead are not held up while the head file is
// written.
func (d *Disk) Ack(seq uint64) error {
	d.head.mu.Lock()
	defer d.head.mu.Unlock()
	r := &d.r
	r.mu.Lock()
	last, closed := d.w.lastCommitted()
	var (
		plan ackPlan
		err  error
	)
	switch {
	case closed:
		err = ErrClosed
	case seq > last:
		err = fmt.Errorf("spool: ack %d past the tail (last seq %d)", seq, last)
	case seq > r.acked:
		plan, err = d.planAck(seq)
	}
	r.mu.Unlock()
	if err != nil || plan.seq == 0 { // failed, or nothing new to acknowledge
		return err
	}
	// Without r.mu: head.mu keeps pos and acked as planned, and readers
	// only add to the window or rebuild it from pos.
	if err := d.persistAck(plan); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	d.applyAck(plan)
	return nil
}

// ackLocked removes every entry with Seq <= seq, which is at most the last
// committed seq. head.mu and r.mu are held.
func (d *Disk) ackLocked(seq uint64) error {
	if seq <= d.r.acked {
		return nil
	}
	plan, err := d.planAck(seq)
	if err != nil {
		return err
	}
	if err := d.persistAck(plan); err != nil {
		return err
	}
	d.applyAck(plan)
	return nil
}

// ackPlan is what acknowledging every seq up to seq changes: the new head
// position and what leaves the queue. next is the seq after the last
// committed one: the head file records it, so that an open can tell
// records lost at the end of the log (see dirPlan.missing).
type ackPlan struct {
	seq         uint64
	p           position
	recs, bytes int64
	next        uint64
}

// planAck works out the acknowledgement of everything up to seq, which is
// above acked and at most the last committed seq, without changing
// anything. r.mu is held.
func (d *Disk) planAck(seq uint64) (ackPlan, error) {
	r := &d.r
	p := r.pos
	var recs, bytes int64
	k := 0
	for k < len(r.window) && r.window[k].seq <= seq {
		w := r.window[k]
		p = w.end()
		recs++
		bytes += w.n
		k++
	}
	if k == len(r.window) {
		// Past what the last Peek returned: walk the frames' headers.
		for {
			limit, ok := d.w.locate(&p)
			if !ok {
				break
			}
			if limit-p.off < frameHeaderSize+payloadPrefixSize {
				return ackPlan{}, newDamage(d.dir, p, errFrameShort)
			}
			b, err := r.cur.seg.read(p.base, p.off, frameHeaderSize+payloadPrefixSize, limit)
			if err != nil {
				return ackPlan{}, fmt.Errorf("spool: read %s: %w", filepath.Join(d.dir, segmentName(p.base)), err)
			}
			size := int64(binary.LittleEndian.Uint32(b))
			_, ord, _ := payloadOrdinal(b[frameHeaderSize:])
			if size < payloadPrefixSize || p.off+frameHeaderSize+size > limit {
				return ackPlan{}, newDamage(d.dir, p, fmt.Errorf("%w: %d bytes", errFrameLength, size))
			}
			if ord > seq {
				break
			}
			p.off += frameHeaderSize + size
			recs++
			bytes += frameHeaderSize + size
		}
	}
	_, more, last := d.w.locateTail(&p)
	if !more {
		// Nothing committed after p: whatever seqs up to the last
		// committed one the plan does not cover were lost (gaps), and
		// acknowledging them too keeps them from being reported again on
		// the next open.
		seq = max(seq, last)
	}
	return ackPlan{seq: seq, p: p, recs: recs, bytes: bytes, next: last + 1}, nil
}

// persistAck writes the head file for plan.
func (d *Disk) persistAck(plan ackPlan) error {
	return d.head.writeLocked(func(h *headState) {
		h.acked, h.segBase, h.off, h.next = plan.seq, plan.p.base, plan.p.off, max(h.next, plan.next)
	})
}

// applyAck makes plan, whose head file is written, the in-memory state.
// head.mu and r.mu are held.
func (d *Disk) applyAck(plan ackPlan) {
	r := &d.r
	p := plan.p
	r.acked, r.pos = plan.seq, p
	r.cur.seg.release(p)
	// The window runs from the old pos: drop what was acknowledged (a
	// peek since the plan may have added to it, or rebuilt it).
	k := 0
	for k < len(r.window) && r.window[k].seq <= plan.seq {
		k++
	}
	// Moved down, not resliced: the window's capacity is reused, where
	// reslicing would make every later append reallocate it.
	r.window = r.window[:copy(r.window, r.window[k:])]
	var headAt time.Time
	if len(r.window) > 0 {
		headAt = r.window[0].at
	}
	drop, drained, retired := d.w.release(plan, headAt, &r.cur.seg)
	if drained {
		r.pos = position{}
	}
	if retired != nil {
		retired.f.Close()
	}
	if len(drop) > 0 {
		d.ahead.mu.Lock() // rare: once a segment
		for _, s := range drop {
			r.cur.seg.forget(s.base)
			d.ahead.cur.seg.forget(s.base)
		}
		d.ahead.mu.Unlock()
		// Unlinking a large file takes milliseconds the drain need not
		// wait for: nothing refers to these segments any more, and their
		// names are never reused (a segment is named by its first seq).
		d.background.Add(1)
		go d.removeSegments(drop)
	}
}

// removeSegments deletes fully acknowledged segments. Not fsynced: if a
// removal is lost in a crash, the next open finds the segment fully
// acknowledged and removes it again. Close waits for it.
func (d *Disk) removeSegments(segs []segInfo) {
	defer d.background.Done()
	for _, s := range segs {
		if err := d.fs.Remove(filepath.Join(d.dir, segmentName(s.base))); err != nil {
			d.log.Warn("spool: could not remove an acknowledged segment; the next open retries", "dir", d.dir, "segment", segmentName(s.base), "err", err)
		}
	}
}
