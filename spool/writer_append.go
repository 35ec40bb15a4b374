package spool

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/huleedu/huleedu/event"
)

// maxRecordPayload bounds one record's payload, leaving room for the
// dead-letter envelope (id, time, reason) within maxPayloadSize.
const maxRecordPayload = maxPayloadSize - 8<<10

// appendReq is one Append call waiting for its group commit.
type appendReq struct {
	recs  []event.Record // the caller's; it is blocked in Append until done
	bytes int64          // sum of the records' FrameSize
	// done receives the commit's result, or errLead when this appender is
	// to lead the next group commit. Capacity 1: at most one message is
	// ever outstanding.
	done chan error
}

// errLead hands the committer role to a waiting appender.
var errLead = errors.New("spool: lead the next group commit")

// spaceWaiter is an Append blocked until there is room.
type spaceWaiter struct {
	need  int64
	ready chan struct{} // closed when admitted or refused
	// Set before ready is closed: admitted means the bytes were reserved
	// for it; err means it was refused (closed or failed spool).
	admitted bool
	err      error
}

// Append implements Queue: recs are written to the tail and fsynced, all
// or none. Concurrent Appends share one write and one fsync (group
// commit), and there is no delay to gather a group: an Append that finds
// no commit in progress writes and fsyncs at once, in its own goroutine;
// the Appends that arrive meanwhile queue up and form the next group,
// which the first of them commits for all. nil is returned only once the
// records are durable.
//
// ctx bounds the wait for room under OverflowBlock (the error then wraps
// both ErrFull and ctx.Err()). Once the records are queued for a group
// commit, Append waits for the fsync whatever ctx says: returning
// early would leave the caller unsure whether its records were stored.
//
// A write or fsync failure fails the Append with an error wrapping
// ErrFailed and the cause, and the Appends after it with ErrFailed, until
// a probe in the background finds the storage working again (see
// Stats.Failed and DiskOptions.ProbeInterval); then appends are accepted
// again, without reopening. The failed group is cut off first, so no
// later record is written after bytes of a group that failed. Records
// accepted earlier stay readable and drainable throughout.
func (d *Disk) Append(ctx context.Context, recs ...event.Record) error {
	return d.w.append(ctx, recs)
}

func (w *writer) append(ctx context.Context, recs []event.Record) error {
	if len(recs) == 0 {
		return nil
	}
	var need int64
	for i := range recs {
		n := FrameSize(&recs[i])
		if n-frameHeaderSize > maxRecordPayload {
			return fmt.Errorf("%w: record %d encodes to %d bytes, the most one record can take is %d", ErrTooLarge, i, n-frameHeaderSize, maxRecordPayload)
		}
		need += n
	}
	if need > w.maxBytes {
		return fmt.Errorf("%w: %d records take %d bytes, DiskOptions.MaxBytes is %d", ErrTooLarge, len(recs), need, w.maxBytes)
	}
	req := &appendReq{recs: recs, bytes: need, done: make(chan error, 1)}
	lead, err := w.admit(ctx, req)
	if err != nil {
		return err
	}
	if lead {
		w.commitGroup()
	}
	for {
		err := <-req.done
		if err != errLead {
			return err
		}
		w.commitGroup()
	}
}

// admit reserves room for req and queues it for the next group commit,
// waiting for room under OverflowBlock. lead reports that no commit was in
// progress: the caller is to commit the group itself.
func (w *writer) admit(ctx context.Context, req *appendReq) (lead bool, err error) {
	w.mu.Lock()
	if err := w.refuseLocked(); err != nil {
		w.mu.Unlock()
		return false, err
	}
	if len(w.waiters) == 0 && w.fitsLocked(req.bytes) {
		w.reserved += req.bytes
		lead = w.enqueueLocked(req)
		w.mu.Unlock()
		return lead, nil
	}
	if w.overflow == OverflowReject {
		used := w.bytes + w.reserved
		w.mu.Unlock()
		return false, fmt.Errorf("%w: %d of %d bytes used, the append needs %d", ErrFull, used, w.maxBytes, req.bytes)
	}
	sw := &spaceWaiter{need: req.bytes, ready: make(chan struct{})}
	w.waiters = append(w.waiters, sw)
	w.mu.Unlock()

	select {
	case <-sw.ready:
	case <-ctx.Done():
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	switch {
	case sw.err != nil:
		return false, sw.err
	case !sw.admitted:
		for i, o := range w.waiters {
			if o == sw {
				w.waiters = append(w.waiters[:i], w.waiters[i+1:]...)
				break
			}
		}
		w.admitWaitersLocked() // sw may have been the one holding others back
		return false, fmt.Errorf("%w while waiting for room: %w", ErrFull, ctx.Err())
	}
	if err := w.refuseLocked(); err != nil {
		w.reserved -= req.bytes
		w.admitWaitersLocked()
		return false, err
	}
	return w.enqueueLocked(req), nil
}

func (w *writer) refuseLocked() error {
	if w.closed {
		return ErrClosed
	}
	if f := w.fail; f != nil {
		next := max(f.next.Sub(w.now()), 0).Round(time.Millisecond)
		return fmt.Errorf("%w: appends are refused until the storage works again (next probe in %s), after: %w", ErrFailed, next, f.cause)
	}
	return nil
}

func (w *writer) fitsLocked(n int64) bool {
	return w.bytes+w.reserved+n <= w.maxBytes
}

// enqueueLocked queues req for the next group commit. If no commit is in
// progress it claims the committer role and returns true: the caller
// commits the group.
func (w *writer) enqueueLocked(req *appendReq) (lead bool) {
	w.pending = append(w.pending, req)
	if w.committing {
		return false
	}
	w.committing = true
	return true
}

// admitWaitersLocked admits blocked appenders, oldest first, while they
// fit. Called whenever room is freew.
func (w *writer) admitWaitersLocked() {
	for len(w.waiters) > 0 && w.fitsLocked(w.waiters[0].need) {
		sw := w.waiters[0]
		w.waiters[0] = nil
		w.waiters = w.waiters[1:]
		w.reserved += sw.need
		sw.admitted = true
		close(sw.ready)
	}
	if len(w.waiters) == 0 {
		w.waiters = nil
	}
}

// failWaitersLocked refuses every blocked appender with err.
func (w *writer) failWaitersLocked(err error) {
	for _, sw := range w.waiters {
		sw.err = err
		close(sw.ready)
	}
	w.waiters = nil
}
