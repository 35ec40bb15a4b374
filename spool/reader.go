package spool

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"time"
)

// reader is the read side of the Disk: where the head is (the first
// unacknowledged record), the cursor Peek reads through, the window of
// entries Peek handed out that are not yet acknowledged, and the
// read-aheads handed over to PeekAfter.
//
// mu guards every field. Ack holds it to plan the new head and to apply
// it, not while the head file is written (the head file's lock keeps pos
// and acked unchanged meanwhile).
type reader struct {
	mu    sync.Mutex
	pos   position // first unacknowledged record (may sit at a segment's end)
	acked uint64   // every seq <= acked is acknowledged
	// window holds the entries of the last Peek still unacknowledged,
	// from pos on.
	window []peeked
	// spareWindow is the window slice of the last read-ahead taken,
	// copied into window: the next read-ahead fills it again.
	spareWindow []peeked
	cur         cursor
	// ahead is the batches being read in the background for the next
	// PeekAfter, or nil; buffered is a finished read-ahead whose first
	// entries were handed out, holding the rest.
	ahead    *readAhead
	buffered *readAhead
}

// position is a place in the log: a segment and an offset in it. base 0
// means "before the first segment".
type position struct {
	base uint64
	off  int64
}

// peeked is what Ack needs to know of an entry Peek returned.
type peeked struct {
	seq uint64
	pos position // where the entry starts
	n   int64    // its frame size
	at  time.Time
}

// end is where the entry after w starts (possibly past its segment's end).
func (w peeked) end() position { return position{base: w.pos.base, off: w.pos.off + w.n} }

// cursor reads records: a segment cursor and the decoder of what it
// reads. Not safe for concurrent use: the reader's is guarded by
// reader.mu, the read-ahead's by aheadCursor.mu.
type cursor struct {
	seg segReader
	dec recordDecoder
}

// frameAt reads the frame at p, below limit, returning its payload (not
// overwritten until the head passes it: see segReader) and size. Damage
// found here appeared after the spool was opened: a *damageError (see
// damage.go).
func (c *cursor) frameAt(p position, limit int64) ([]byte, int64, error) {
	if limit-p.off < frameHeaderSize+payloadPrefixSize {
		return nil, 0, newDamage(c.seg.dir, p, errFrameShort)
	}
	b, err := c.seg.read(p.base, p.off, frameHeaderSize, limit)
	if err == nil {
		size := int64(binary.LittleEndian.Uint32(b))
		if size < payloadPrefixSize || p.off+frameHeaderSize+size > limit {
			return nil, 0, newDamage(c.seg.dir, p, fmt.Errorf("%w: %d bytes", errFrameLength, size))
		}
		if b, err = c.seg.read(p.base, p.off, frameHeaderSize+size, limit); err == nil {
			payload, n, perr := parseFrame(b)
			if perr != nil {
				return nil, 0, newDamage(c.seg.dir, p, perr)
			}
			return payload, int64(n), nil
		}
	}
	return nil, 0, fmt.Errorf("spool: read %s: %w", filepath.Join(c.seg.dir, segmentName(p.base)), err)
}

// readFrames appends to out the entries with Seq > after from p on, until
// out holds max, and to win the window records of every entry it read
// (those skipped included). At damage it returns what it read before it
// with a *damageError; a read error after the first entry of out ends the
// batch early, at the first it is the error. It finds the committed end
// of each segment, and the holes to skip, through w.
func (c *cursor) readFrames(w *writer, out []Entry, win []peeked, p position, after uint64, max int) ([]Entry, []peeked, error) {
	if out == nil {
		out = make([]Entry, 0, min(max, 4096))
	}
	// The committed end of p's segment, located (under w.mu) only when p
	// reaches it: the next segment, or more committed since.
	limit := int64(-1)
	for len(out) < max {
		if p.off >= limit {
			l, ok := w.locate(&p)
			if !ok {
				break
			}
			limit = l
		}
		var e Entry
		payload, n, err := c.frameAt(p, limit)
		if err == nil {
			if derr := c.dec.decode(payload, &e); derr != nil {
				err = newDamage(c.seg.dir, p, derr)
			}
		}
		if err != nil {
			var de *damageError
			if errors.As(err, &de) {
				return out, win, err
			}
			if len(out) > 0 {
				break // deliver what precedes the failed read first
			}
			return nil, win, err
		}
		win = append(win, peeked{seq: e.Seq, pos: p, n: n, at: e.AppendedAt})
		if e.Seq > after {
			out = append(out, e)
		}
		p.off += n
	}
	return out, win, nil
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

// peek reads up to max entries with Seq > after. The entries it reads are
// kept in the reader's window, which always runs contiguously from the
// head (pos), so Ack can find positions without rereading.
//
// A PeekAfter that returns a full batch starts reading the next ones in
// the background (see readAhead), so that a drainer continuing from it
// finds them read and decoded while it was busy producing. What a
// read-ahead read beyond the batch taken from it waits in r.buffered for
// the PeekAfter that continues there.
func (d *Disk) peek(ctx context.Context, after uint64, max int, ahead bool) ([]Entry, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if max <= 0 {
		return nil, fmt.Errorf("spool: Peek max = %d: must be > 0", max)
	}
	r := &d.r
	r.mu.Lock()
	if ra := r.ahead; ra != nil && ahead && !r.buffered.continues(r.window, after) {
		// Nothing buffered to go on with: wait for the read-ahead, which
		// needs r.mu to start.
		r.mu.Unlock()
		select {
		case <-ra.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		r.mu.Lock()
	}
	defer r.mu.Unlock()
	if d.w.isClosed() {
		return nil, ErrClosed
	}
	p := r.pos
	if n := len(r.window); ahead && n > 0 && r.window[n-1].seq == after {
		p = r.window[n-1].end()
	} else {
		if cap(r.window) > 4096 && cap(r.window) > 4*max {
			r.window = nil // a huge Peek once should not pin its window forever
		}
		r.window = r.window[:0]
	}
	var out []Entry
	if ahead {
		// What was read ahead is what reading from p now would return
		// first, if it starts at p: committed log bytes never change.
		if b := r.buffered; b == nil || !b.usable(p, after) {
			r.buffered = nil
			if ra := r.ahead; ra != nil && ra.usable(p, after) {
				r.ahead = nil
				r.buffered = ra
			}
		}
		if b := r.buffered; b != nil {
			out = b.entries[:min(max, len(b.entries)):min(max, len(b.entries))]
			r.window = append(r.window, b.window[:len(out)]...)
			p, after = r.window[len(r.window)-1].end(), out[len(out)-1].Seq
			if b.take(len(out), p, after) {
				r.buffered = nil
				r.spareWindow = b.spare[:0] // copied: the next read-ahead fills it
			}
		}
	}
	if len(out) < max {
		// Nothing read ahead, a smaller batch than asked for now, or the
		// tail has grown since: read on from the cursor. A read-ahead not
		// yet run would start where this one is reading: cancel it.
		if ra := r.ahead; ra != nil && !ra.isDone() {
			r.ahead = nil
		}
		var err error
		out, err = d.readOn(out, p, after, max)
		if err != nil {
			return nil, err
		}
	}
	if ahead && len(out) == max {
		// Read on from the end of what is buffered, unless a read-ahead
		// already does (one that starts anywhere else is replaced).
		start, from := r.window[len(r.window)-1].end(), r.window[len(r.window)-1].seq
		more := true
		if b := r.buffered; b != nil {
			start, from = b.window[len(b.window)-1].end(), b.entries[len(b.entries)-1].Seq
			more = b.full // else it stopped at the tail: nothing more to read yet
		}
		if ra := r.ahead; more && (ra == nil || ra.start != start || ra.after != from) {
			d.startReadAhead(start, from, readAheadBatches*max)
		}
	}
	return out, nil
}

// readOn reads on from p with the reader's cursor (see readFrames),
// moving aside the damage it meets and going on after it. r.mu is held.
func (d *Disk) readOn(out []Entry, p position, after uint64, max int) ([]Entry, error) {
	r := &d.r
	var seen *damageError
	for {
		var err error
		out, r.window, err = r.cur.readFrames(&d.w, out, r.window, p, after, max)
		var de *damageError
		if !errors.As(err, &de) {
			return out, err
		}
		if seen != nil && de.at == seen.at {
			return nil, err // moved aside, yet still read: give up rather than loop
		}
		seen = de
		// The window runs from the head up to the damage.
		prev := r.acked
		if n := len(r.window); n > 0 {
			prev = r.window[n-1].seq
		}
		if err := d.quarantineLocked(de.at, prev); err != nil {
			if len(out) > 0 {
				return out, nil // deliver what precedes it first; the next read retries
			}
			return nil, fmt.Errorf("%w (moving it aside failed: %w)", de, err)
		}
		p = r.pos
		if n := len(r.window); n > 0 {
			p = r.window[n-1].end()
		}
	}
}
