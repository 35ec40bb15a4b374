package spool

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"
)

// readBufferSize is the read cursor's buffer: Peek reads the log through
// it, so memory stays bounded whatever the backlog.
const readBufferSize = 256 << 10

// maxReadBuffers bounds the buffers the cursor keeps for reuse, in use and
// spare together (16 MiB). A drain at the default batch sizes has about 40
// in use: a few thousand records between Acks, and the batches in flight.
const maxReadBuffers = 64

// readBuffer is one of the cursor's buffers, holding bytes [off, end) of
// segment base (the off is the cursor's while it is current).
type readBuffer struct {
	b    []byte // len readBufferSize
	base uint64
	end  int64
}

// segReader is the cached read cursor of Peek and Ack: one open segment
// and a buffer of its bytes. It only ever reads below the committed end
// it is given, so it never caches bytes an in-flight group commit is
// still writing. A refill reads into another buffer, never over one whose
// bytes are not yet acknowledged: the records Peek decodes alias the bytes
// read, with no copy, and stay valid until acknowledged. Buffers whose
// every byte is acknowledged (release) are filled again, so a drain does
// not allocate, zero and fault in a fresh buffer every 256 KiB. Buffers it
// stops tracking (more than maxReadBuffers) are left to the garbage
// collector, never reused. Disk.rd is guarded by Disk.readMu; the
// read-ahead has one of its own, Disk.ard, guarded by Disk.aheadMu.
type segReader struct {
	fsys FS
	dir  string
	f    File
	base uint64
	buf  []byte // the segment's bytes [off, off+len(buf))
	off  int64
	cur  *readBuffer // whose bytes buf is; nil when buf is not pooled

	inUse     []*readBuffer // filled, oldest first, maybe aliased by entries not yet acknowledged
	spare     []*readBuffer // every byte acknowledged: free to fill again
	allocated int           // buffers made, for tests
}

// read returns bytes [off, off+n) of segment base; off+n must not exceed
// limit, the segment's committed end. The bytes are not overwritten before
// release is given a head past them.
func (r *segReader) read(base uint64, off, n, limit int64) ([]byte, error) {
	if off+n > limit {
		return nil, fmt.Errorf("%w: %d bytes at offset %d past the committed end %d", errFrameShort, n, off, limit)
	}
	if r.f == nil || r.base != base {
		r.closeFile()
		f, err := r.fsys.OpenFile(filepath.Join(r.dir, segmentName(base)), os.O_RDONLY, 0)
		if err != nil {
			return nil, err
		}
		r.f, r.base = f, base
	}
	if off >= r.off && off+n <= r.off+int64(len(r.buf)) {
		return r.buf[off-r.off : off-r.off+n], nil
	}
	if n > readBufferSize {
		b := make([]byte, n)
		return b, readFullAt(r.f, b, off)
	}
	rb := r.take()
	rb.base, rb.end = base, off+min(readBufferSize, limit-off)
	r.buf, r.off, r.cur = rb.b[:rb.end-off], off, rb
	if err := readFullAt(r.f, r.buf, off); err != nil {
		r.buf = r.buf[:0]
		return nil, err
	}
	return r.buf[:n], nil
}

// take returns a buffer to fill, a spare one if there is one, and tracks
// it as in use.
func (r *segReader) take() *readBuffer {
	var rb *readBuffer
	if k := len(r.spare); k > 0 {
		rb = r.spare[k-1]
		r.spare[k-1] = nil
		r.spare = r.spare[:k-1]
	} else {
		rb = &readBuffer{b: make([]byte, readBufferSize)}
		r.allocated++
	}
	if len(r.inUse)+len(r.spare) >= maxReadBuffers {
		// Not acknowledged for a long while (a reader that never acks):
		// stop tracking the oldest, which the garbage collector frees once
		// nothing refers to it.
		r.inUse[0] = nil
		r.inUse = r.inUse[1:]
	}
	r.inUse = append(r.inUse, rb)
	return rb
}

// release makes spare every buffer whose bytes all precede head, the first
// unacknowledged record: no entry a caller may still use aliases them.
func (r *segReader) release(head position) {
	k := 0
	for _, rb := range r.inUse {
		if rb.base < head.base || (rb.base == head.base && rb.end <= head.off) {
			if rb == r.cur {
				r.buf, r.cur = nil, nil // never serve reads from a spare
			}
			r.spare = append(r.spare, rb)
			continue
		}
		r.inUse[k] = rb
		k++
	}
	clear(r.inUse[k:])
	r.inUse = r.inUse[:k]
}

// forget drops the open file if it is segment base (being removed).
func (r *segReader) forget(base uint64) {
	if r.base == base {
		r.closeFile()
	}
}

// closeFile closes the open segment. The buffers stay: entries not yet
// acknowledged may alias them.
func (r *segReader) closeFile() {
	if r.f != nil {
		r.f.Close()
	}
	r.f, r.base, r.buf, r.cur = nil, 0, nil, nil
}

// close closes the file and lets every buffer go to the garbage collector:
// entries still held keep theirs alive, and nothing is reused any more.
func (r *segReader) close() {
	r.closeFile()
	r.inUse, r.spare = nil, nil
}

// locate moves p past the ends of finished segments to the next record's
// place and returns the committed end of p's segment. ok is false when p
// is at the tail: nothing committed beyond it. Takes mu.
func (d *Disk) locate(p *position) (limit int64, ok bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.locateLocked(p)
}

func (d *Disk) locateLocked(p *position) (limit int64, ok bool) {
	if len(d.segs) == 0 {
		return 0, false
	}
	i := sort.Search(len(d.segs), func(i int) bool { return d.segs[i].base >= p.base })
	if i == len(d.segs) || d.segs[i].base != p.base {
		// Before the first segment, or in one retired since.
		i = 0
		*p = position{base: d.segs[0].base, off: logHeaderSize}
	}
	for p.off >= d.segs[i].size {
		if i == len(d.segs)-1 {
			return 0, false
		}
		i++
		*p = position{base: d.segs[i].base, off: logHeaderSize}
	}
	return d.segs[i].size, true
}

// frameAt reads the frame at p, below limit, returning its payload (not
// overwritten until the head passes it: see segReader) and size. Damage found here appeared after the
// spool was opened: it is reported, not repaired; reopening quarantines it.
// It reads through rd: Disk.rd, or the read-ahead's Disk.ard.
func (d *Disk) frameAt(rd *segReader, p position, limit int64) ([]byte, int64, error) {
	if limit-p.off < frameHeaderSize+payloadPrefixSize {
		return nil, 0, d.corrupt(p, errFrameShort)
	}
	b, err := rd.read(p.base, p.off, frameHeaderSize, limit)
	if err == nil {
		size := int64(binary.LittleEndian.Uint32(b))
		if size < payloadPrefixSize || p.off+frameHeaderSize+size > limit {
			return nil, 0, d.corrupt(p, fmt.Errorf("%w: %d bytes", errFrameLength, size))
		}
		if b, err = rd.read(p.base, p.off, frameHeaderSize+size, limit); err == nil {
			payload, n, perr := parseFrame(b)
			if perr != nil {
				return nil, 0, d.corrupt(p, perr)
			}
			return payload, int64(n), nil
		}
	}
	return nil, 0, fmt.Errorf("spool: read %s: %w", filepath.Join(d.dir, segmentName(p.base)), err)
}

func (d *Disk) corrupt(p position, err error) error {
	return fmt.Errorf("%w: %s at offset %d changed on disk after it was written (%v); reopen the spool to quarantine it",
		ErrFailed, filepath.Join(d.dir, segmentName(p.base)), p.off, err)
}

// Peek implements Queue. It reads from the head through a cached cursor:
// a Peek after an Ack of what the previous Peek returned continues where
// that one stopped, without seeking or rescanning.
func (d *Disk) Peek(ctx context.Context, max int) ([]Entry, error) {
	return d.peek(ctx, 0, max, false)
}

// PeekAfter implements ReadAhead: up to max entries with Seq > after,
// oldest first. Called with the last seq the previous Peek or PeekAfter
// returned, it continues from the cursor; with any other seq it reads from
// the head and skips what precedes after.
func (d *Disk) PeekAfter(ctx context.Context, after uint64, max int) ([]Entry, error) {
	return d.peek(ctx, after, max, true)
}

// readAheadBatches is how many batches of the size PeekAfter was asked
// for one read-ahead reads: while the drainer takes the first from it, the
// next read-ahead is already under way, so the reader keeps reading while
// the drainer produces instead of waiting to be started after each batch.
const readAheadBatches = 2

// peek reads up to max entries with Seq > after. The entries it reads are
// kept in d.window, which always runs contiguously from the head (d.pos),
// so Ack can find positions without rereading.
//
// A PeekAfter that returns a full batch starts reading the next ones in
// the background (see readAhead), so that a drainer continuing from it
// finds them read and decoded while it was busy producing. What a
// read-ahead read beyond the batch taken from it waits in d.buffered for
// the PeekAfter that continues there.
func (d *Disk) peek(ctx context.Context, after uint64, max int, ahead bool) ([]Entry, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if max <= 0 {
		return nil, fmt.Errorf("spool: Peek max = %d: must be > 0", max)
	}
	d.readMu.Lock()
	if ra := d.ahead; ra != nil && ahead && !d.buffered.continues(d.window, after) {
		// Nothing buffered to go on with: wait for the read-ahead, which
		// needs readMu to start.
		d.readMu.Unlock()
		select {
		case <-ra.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		d.readMu.Lock()
	}
	defer d.readMu.Unlock()
	if d.isClosed() {
		return nil, ErrClosed
	}
	p := d.pos
	if n := len(d.window); ahead && n > 0 && d.window[n-1].seq == after {
		p = d.window[n-1].end()
	} else {
		if cap(d.window) > 4096 && cap(d.window) > 4*max {
			d.window = nil // a huge Peek once should not pin its window forever
		}
		d.window = d.window[:0]
	}
	var out []Entry
	if ahead {
		// What was read ahead is what reading from p now would return
		// first, if it starts at p: committed log bytes never change.
		if b := d.buffered; b == nil || !b.usable(p, after) {
			d.buffered = nil
			if ra := d.ahead; ra != nil && ra.usable(p, after) {
				d.ahead = nil
				d.buffered = ra
			}
		}
		if b := d.buffered; b != nil {
			out = b.entries[:min(max, len(b.entries)):min(max, len(b.entries))]
			d.window = append(d.window, b.window[:len(out)]...)
			p, after = d.window[len(d.window)-1].end(), out[len(out)-1].Seq
			if b.take(len(out), p, after) {
				d.buffered = nil
				d.spareWindow = b.spare[:0] // copied: the next read-ahead fills it
			}
		}
	}
	if len(out) < max {
		// Nothing read ahead, a smaller batch than asked for now, or the
		// tail has grown since: read on from the cursor. A read-ahead not
		// yet run would start where this one is reading: cancel it.
		if ra := d.ahead; ra != nil && !ra.isDone() {
			d.ahead = nil
		}
		var err error
		out, d.window, err = d.readFrames(&d.rd, &d.dec, out, d.window, p, after, max)
		if err != nil {
			return nil, err
		}
	}
	if ahead && len(out) == max {
		// Read on from the end of what is buffered, unless a read-ahead
		// already does (one that starts anywhere else is replaced).
		start, from := d.window[len(d.window)-1].end(), d.window[len(d.window)-1].seq
		more := true
		if b := d.buffered; b != nil {
			start, from = b.window[len(b.window)-1].end(), b.entries[len(b.entries)-1].Seq
			more = b.full // else it stopped at the tail: nothing more to read yet
		}
		if ra := d.ahead; more && (ra == nil || ra.start != start || ra.after != from) {
			d.startReadAhead(start, from, readAheadBatches*max)
		}
	}
	return out, nil
}

// readFrames appends to out the entries with Seq > after from p on, until
// out holds max, and to win the window records of every entry it read
// (those skipped included). Damage after the first entry of out ends the
// batch early; at the first, it is the error. It reads through rd and
// decodes with dec: readMu is held for Disk.rd and Disk.dec, aheadMu for
// the read-ahead's Disk.ard and Disk.adec.
func (d *Disk) readFrames(rd *segReader, dec *recordDecoder, out []Entry, win []peeked, p position, after uint64, max int) ([]Entry, []peeked, error) {
	if out == nil {
		out = make([]Entry, 0, min(max, 4096))
	}
	// The committed end of p's segment, located (under mu) only when p
	// reaches it: the next segment, or more committed since.
	limit := int64(-1)
	for len(out) < max {
		if p.off >= limit {
			l, ok := d.locate(&p)
			if !ok {
				break
			}
			limit = l
		}
		payload, n, err := d.frameAt(rd, p, limit)
		if err != nil {
			if len(out) > 0 {
				break // deliver what precedes the damage first
			}
			return nil, win, err
		}
		var e Entry
		if err := dec.decode(payload, &e); err != nil {
			if len(out) > 0 {
				break
			}
			return nil, win, d.corrupt(p, err)
		}
		win = append(win, peeked{seq: e.Seq, pos: p, n: n, at: e.AppendedAt})
		if e.Seq > after {
			out = append(out, e)
		}
		p.off += n
	}
	return out, win, nil
}

// readAhead is a batch read in the background for a PeekAfter(after, ...)
// that continues from start, where the previous one stopped. Its goroutine
// sets entries and window and then closes done, outside readMu (see
// startReadAhead); a peek that takes or replaces it (Disk.ahead, under
// readMu) before it started stops it from running at all, and one that
// replaces it while it reads never uses what it read.
type readAhead struct {
	start   position
	after   uint64
	done    chan struct{}
	entries []Entry
	// window[i] is entries[i]'s: from start nothing is at or below after,
	// so nothing is skipped.
	window []peeked
	spare  []peeked // window as read, before take: reused once all is taken
	full   bool     // it read as many as asked: more may follow
}

// usable reports whether ra read the entries a peek from p after after
// would read first. readMu is held.
func (ra *readAhead) usable(p position, after uint64) bool {
	return ra.isDone() && len(ra.entries) > 0 && ra.start == p && ra.after == after
}

// isDone reports whether ra's goroutine has finished (or will not run).
func (ra *readAhead) isDone() bool {
	select {
	case <-ra.done:
		return true
	default:
		return false // not run yet, or reading
	}
}

// continues reports whether ra, a finished read-ahead kept in d.buffered
// (ra may be nil), holds what a PeekAfter(after) continuing from the
// window would return first. readMu is held.
func (ra *readAhead) continues(win []peeked, after uint64) bool {
	if ra == nil || len(win) == 0 || win[len(win)-1].seq != after {
		return false
	}
	return ra.usable(win[len(win)-1].end(), after)
}

// take drops ra's first n entries, handed out: ra continues at p, after
// seq after. It reports whether nothing is left.
func (ra *readAhead) take(n int, p position, after uint64) (empty bool) {
	ra.entries, ra.window = ra.entries[n:], ra.window[n:]
	ra.start, ra.after = p, after
	return len(ra.entries) == 0
}

// startReadAhead reads up to max entries after the batch just returned, in
// a goroutine of its own. readMu is held.
//
// The goroutine holds readMu only to see whether it is still wanted and to
// take the spare window; it reads with the read-ahead's own cursor, under
// aheadMu, so that the PeekAfter taking the batch buffered before it, and
// Acks, go on meanwhile. Reading outside readMu is safe because committed
// log bytes never change, and an Ack that retires segments takes aheadMu
// to drop them from this cursor too, so no file is closed under a read.
// Only a read-ahead already replaced can start in a retired segment (the
// others read past every entry handed out): it reads the old bytes, or
// nothing once the file is gone, and what it read is never used. That
// happens when the drainer starts over from the head.
func (d *Disk) startReadAhead(start position, after uint64, max int) {
	ra := &readAhead{start: start, after: after, done: make(chan struct{})}
	d.ahead = ra
	d.background.Add(1)
	go func() {
		defer d.background.Done()
		defer close(ra.done)
		d.readMu.Lock()
		if d.ahead != ra || d.isClosed() {
			d.readMu.Unlock()
			return // taken by a peek already, or closed
		}
		win := d.spareWindow
		d.spareWindow = nil
		head := d.pos
		d.readMu.Unlock()

		d.aheadMu.Lock()
		defer d.aheadMu.Unlock()
		if d.isClosed() {
			return // closeFiles has closed ard, or waits to: do not reopen it
		}
		// Buffers of what was acknowledged since the last read-ahead are
		// free again (applyAck releases Disk.rd's, not these).
		d.ard.release(head)
		// An error leaves no entries: the peek that continues reads
		// again and reports it.
		ra.entries, ra.window, _ = d.readFrames(&d.ard, &d.adec, nil, win, start, after, max)
		ra.spare, ra.full = ra.window, len(ra.entries) == max
	}()
}

// Ack implements Queue. It persists the new head (a slot of the head
// file, written in place: one fsync), so acknowledge batches rather than
// single records. Segments left fully acknowledged are deleted. Peek,
// PeekAfter and the read-ahead are not held up while the head file is
// written.
func (d *Disk) Ack(seq uint64) error {
	d.ackMu.Lock()
	defer d.ackMu.Unlock()
	d.readMu.Lock()
	d.mu.Lock()
	closed, last := d.closed, d.lastSeq
	d.mu.Unlock()
	var (
		plan ackPlan
		err  error
	)
	switch {
	case closed:
		err = ErrClosed
	case seq > last:
		err = fmt.Errorf("spool: ack %d past the tail (last seq %d)", seq, last)
	case seq > d.acked:
		plan, err = d.planAck(seq)
	}
	d.readMu.Unlock()
	if err != nil || plan.seq == 0 { // failed, or nothing new to acknowledge
		return err
	}
	// Without readMu: ackMu keeps pos and acked as planned, and readers
	// only add to the window or rebuild it from pos.
	if err := d.persistAck(plan); err != nil {
		return err
	}
	d.readMu.Lock()
	defer d.readMu.Unlock()
	d.applyAck(plan)
	return nil
}

// ackLocked removes every entry with Seq <= seq, which is at most the last
// committed seq. ackMu and readMu are held.
func (d *Disk) ackLocked(seq uint64) error {
	if seq <= d.acked {
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
// position and what leaves the queue.
type ackPlan struct {
	seq         uint64
	p           position
	recs, bytes int64
}

// planAck works out the acknowledgement of everything up to seq, which is
// above acked and at most the last committed seq, without changing
// anything. readMu is held.
func (d *Disk) planAck(seq uint64) (ackPlan, error) {
	p := d.pos
	var recs, bytes int64
	k := 0
	for k < len(d.window) && d.window[k].seq <= seq {
		w := d.window[k]
		p = w.end()
		recs++
		bytes += w.n
		k++
	}
	if k == len(d.window) {
		// Past what the last Peek returned: walk the frames' headers.
		for {
			limit, ok := d.locate(&p)
			if !ok {
				break
			}
			if limit-p.off < frameHeaderSize+payloadPrefixSize {
				return ackPlan{}, d.corrupt(p, errFrameShort)
			}
			b, err := d.rd.read(p.base, p.off, frameHeaderSize+payloadPrefixSize, limit)
			if err != nil {
				return ackPlan{}, fmt.Errorf("spool: read %s: %w", filepath.Join(d.dir, segmentName(p.base)), err)
			}
			size := int64(binary.LittleEndian.Uint32(b))
			_, ord, _ := payloadOrdinal(b[frameHeaderSize:])
			if size < payloadPrefixSize || p.off+frameHeaderSize+size > limit {
				return ackPlan{}, d.corrupt(p, fmt.Errorf("%w: %d bytes", errFrameLength, size))
			}
			if ord > seq {
				break
			}
			p.off += frameHeaderSize + size
			recs++
			bytes += frameHeaderSize + size
		}
	}
	d.locate(&p)
	return ackPlan{seq: seq, p: p, recs: recs, bytes: bytes}, nil
}

// persistAck writes the head file for plan.
func (d *Disk) persistAck(plan ackPlan) error {
	return d.persistHead(func(h *headState) { h.acked, h.segBase, h.off = plan.seq, plan.p.base, plan.p.off })
}

// applyAck makes plan, whose head file is written, the in-memory state.
// readMu is held.
func (d *Disk) applyAck(plan ackPlan) {
	p := plan.p
	d.acked, d.pos = plan.seq, p
	d.rd.release(p)
	// The window runs from the old pos: drop what was acknowledged (a
	// peek since the plan may have added to it, or rebuilt it).
	k := 0
	for k < len(d.window) && d.window[k].seq <= plan.seq {
		k++
	}
	// Moved down, not resliced: the window's capacity is reused, where
	// reslicing would make every later append reallocate it.
	d.window = d.window[:copy(d.window, d.window[k:])]

	d.mu.Lock()
	d.records -= plan.recs
	d.bytes -= plan.bytes
	switch {
	case d.records == 0:
		d.oldestAt = time.Time{}
	case len(d.window) > 0:
		d.oldestAt = d.window[0].at
	default:
		d.oldestAt = d.timeAtLocked(p)
	}
	var drop []segInfo
	for len(d.segs) > 0 && d.segs[0].base < p.base {
		drop = append(drop, d.segs[0])
		d.segs = d.segs[1:]
	}
	var retired *segWriter
	if d.records == 0 && len(d.pending) == 0 && !d.committing && d.active != nil && len(d.segs) == 1 {
		// Drained: give the last segment back too; the next append starts
		// a new one.
		retired = d.active
		drop = append(drop, d.segs[0])
		d.active, d.segs = nil, nil
		d.pos = position{}
	}
	d.admitWaitersLocked()
	d.mu.Unlock()

	if retired != nil {
		retired.f.Close()
	}
	if len(drop) > 0 {
		d.aheadMu.Lock() // rare: once a segment
		for _, s := range drop {
			d.rd.forget(s.base)
			d.ard.forget(s.base)
		}
		d.aheadMu.Unlock()
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

// timeAtLocked reads the appended-at of the record at p, or the zero time
// if it cannot (Stats is then less precise, nothing else depends on it).
// readMu and mu are held: a read of a few bytes, from the page cache.
func (d *Disk) timeAtLocked(p position) time.Time {
	limit, ok := d.locateLocked(&p)
	if !ok {
		return time.Time{}
	}
	b, err := d.rd.read(p.base, p.off, frameHeaderSize+payloadPrefixSize, limit)
	if err != nil {
		return time.Time{}
	}
	return payloadTime(b[frameHeaderSize:])
}

// persistHead applies change to the head state and writes it to the head
// file, in place (see headWriter). The in-memory copy changes only if the
// write succeeded.
func (d *Disk) persistHead(change func(*headState)) error {
	d.headMu.Lock()
	defer d.headMu.Unlock()
	if d.hw == nil {
		return ErrClosed
	}
	h := d.head
	change(&h)
	h.gen = d.head.gen + 1
	if err := d.hw.write(h); err != nil {
		return err
	}
	d.head = h
	return nil
}
