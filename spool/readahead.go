package spool

import "sync"

// readAheadBatches is how many batches of the size PeekAfter was asked
// for one read-ahead reads: while the drainer takes the first from it, the
// next read-ahead is already under way, so the reader keeps reading while
// the drainer produces instead of waiting to be started after each batch.
const readAheadBatches = 2

// aheadCursor is the read-ahead's own cursor. mu guards it: a read-ahead
// reads with it outside reader.mu, so that a PeekAfter taking what is
// already buffered, or an Ack, does not wait for it. An Ack that retires
// segments takes mu to drop them from this cursor too, so no file is
// closed under a read.
type aheadCursor struct {
	mu  sync.Mutex
	cur cursor
}

// readAhead is a batch read in the background for a PeekAfter(after, ...)
// that continues from start, where the previous one stopped. Its goroutine
// sets entries and window and then closes done, outside reader.mu (see
// startReadAhead); a peek that takes or replaces it (reader.ahead, under
// reader.mu) before it started stops it from running at all, and one that
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
// would read first. reader.mu is held.
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

// continues reports whether ra, a finished read-ahead kept in
// reader.buffered (ra may be nil), holds what a PeekAfter(after)
// continuing from the window would return first. reader.mu is held.
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
// a goroutine of its own. reader.mu is held.
//
// The goroutine holds reader.mu only to see whether it is still wanted and
// to take the spare window; it reads with the read-ahead's own cursor,
// under aheadCursor.mu, so that the PeekAfter taking the batch buffered
// before it, and Acks, go on meanwhile. Reading outside reader.mu is safe
// because committed log bytes never change, and an Ack that retires
// segments takes aheadCursor.mu to drop them from this cursor too, so no
// file is closed under a read. Only a read-ahead already replaced can
// start in a retired segment (the others read past every entry handed
// out): it reads the old bytes, or nothing once the file is gone, and
// what it read is never used. That happens when the drainer starts over
// from the head.
func (d *Disk) startReadAhead(start position, after uint64, max int) {
	ra := &readAhead{start: start, after: after, done: make(chan struct{})}
	r := &d.r
	r.ahead = ra
	d.background.Add(1)
	go func() {
		defer d.background.Done()
		defer close(ra.done)
		r.mu.Lock()
		if r.ahead != ra || d.w.isClosed() {
			r.mu.Unlock()
			return // taken by a peek already, or closed
		}
		win := r.spareWindow
		r.spareWindow = nil
		head := r.pos
		r.mu.Unlock()

		a := &d.ahead
		a.mu.Lock()
		defer a.mu.Unlock()
		if d.w.isClosed() {
			return // closeFiles has closed the cursor, or waits to: do not reopen it
		}
		// Buffers of what was acknowledged since the last read-ahead are
		// free again (Ack releases the reader's, not these).
		a.cur.seg.release(head)
		// An error leaves no entries: the peek that continues reads
		// again and reports it.
		ra.entries, ra.window, _ = a.cur.readFrames(&d.w, nil, win, start, after, max)
		ra.spare, ra.full = ra.window, len(ra.entries) == max
	}()
}
