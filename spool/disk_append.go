package spool

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
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

// segWriter is the segment being appended to.
type segWriter struct {
	f    File
	base uint64
	size int64 // bytes written, including the header
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
// ErrFailed, and every later Append too, until the spool is reopened:
// after a failed fsync the kernel may have dropped the dirty pages and
// marked them clean, so the state of the file is unknown and a retried
// fsync could report success for data that is gone ("fsyncgate",
// PostgreSQL 2018). Reopening re-reads and checks what is on disk.
// Records accepted earlier stay readable and drainable.
func (d *Disk) Append(ctx context.Context, recs ...event.Record) error {
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
	if need > d.opts.MaxBytes {
		return fmt.Errorf("%w: %d records take %d bytes, DiskOptions.MaxBytes is %d", ErrTooLarge, len(recs), need, d.opts.MaxBytes)
	}
	req := &appendReq{recs: recs, bytes: need, done: make(chan error, 1)}
	lead, err := d.admit(ctx, req)
	if err != nil {
		return err
	}
	if lead {
		d.commitGroup()
	}
	for {
		err := <-req.done
		if err != errLead {
			return err
		}
		d.commitGroup()
	}
}

// admit reserves room for req and queues it for the next group commit,
// waiting for room under OverflowBlock. lead reports that no commit was in
// progress: the caller is to commit the group itself.
func (d *Disk) admit(ctx context.Context, req *appendReq) (lead bool, err error) {
	d.mu.Lock()
	if err := d.refuseLocked(); err != nil {
		d.mu.Unlock()
		return false, err
	}
	if len(d.waiters) == 0 && d.fitsLocked(req.bytes) {
		d.reserved += req.bytes
		lead = d.enqueueLocked(req)
		d.mu.Unlock()
		return lead, nil
	}
	if d.opts.Overflow == OverflowReject {
		used := d.bytes + d.reserved
		d.mu.Unlock()
		return false, fmt.Errorf("%w: %d of %d bytes used, the append needs %d", ErrFull, used, d.opts.MaxBytes, req.bytes)
	}
	w := &spaceWaiter{need: req.bytes, ready: make(chan struct{})}
	d.waiters = append(d.waiters, w)
	d.mu.Unlock()

	select {
	case <-w.ready:
	case <-ctx.Done():
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	switch {
	case w.err != nil:
		return false, w.err
	case !w.admitted:
		for i, o := range d.waiters {
			if o == w {
				d.waiters = append(d.waiters[:i], d.waiters[i+1:]...)
				break
			}
		}
		d.admitWaitersLocked() // w may have been the one holding others back
		return false, fmt.Errorf("%w while waiting for room: %w", ErrFull, ctx.Err())
	}
	if err := d.refuseLocked(); err != nil {
		d.reserved -= req.bytes
		d.admitWaitersLocked()
		return false, err
	}
	return d.enqueueLocked(req), nil
}

func (d *Disk) refuseLocked() error {
	if d.closed {
		return ErrClosed
	}
	if d.failCause != nil {
		return fmt.Errorf("%w: appends are refused until the spool is reopened, after: %w", ErrFailed, d.failCause)
	}
	return nil
}

func (d *Disk) fitsLocked(n int64) bool {
	return d.bytes+d.reserved+n <= d.opts.MaxBytes
}

// enqueueLocked queues req for the next group commit. If no commit is in
// progress it claims the committer role and returns true: the caller
// commits the group.
func (d *Disk) enqueueLocked(req *appendReq) (lead bool) {
	d.pending = append(d.pending, req)
	if d.committing {
		return false
	}
	d.committing = true
	return true
}

// admitWaitersLocked admits blocked appenders, oldest first, while they
// fit. Called whenever room is freed.
func (d *Disk) admitWaitersLocked() {
	for len(d.waiters) > 0 && d.fitsLocked(d.waiters[0].need) {
		w := d.waiters[0]
		d.waiters[0] = nil
		d.waiters = d.waiters[1:]
		d.reserved += w.need
		w.admitted = true
		close(w.ready)
	}
	if len(d.waiters) == 0 {
		d.waiters = nil
	}
}

// failWaitersLocked refuses every blocked appender with err.
func (d *Disk) failWaitersLocked(err error) {
	for _, w := range d.waiters {
		w.err = err
		close(w.ready)
	}
	d.waiters = nil
}

// commitGroup commits one group of pending appends. The caller holds the
// committer role (committing is set): it claimed it in enqueueLocked or
// was handed it with errLead. Afterwards the role passes to the oldest
// appender still queued, or is released when none is: one commit runs at
// a time, and no appender commits more than one group on others' behalf.
func (d *Disk) commitGroup() {
	d.mu.Lock()
	if d.failCause != nil {
		// Queued behind the failed group: refuse, release the role.
		err := d.refuseLocked()
		for _, req := range d.pending {
			d.reserved -= req.bytes
			req.done <- err
		}
		clear(d.pending)
		d.pending = d.pending[:0]
		d.committing = false
		d.idle.Broadcast()
		d.mu.Unlock()
		return
	}
	var size int64
	n := 0
	for n < len(d.pending) && (n == 0 || size+d.pending[n].bytes <= int64(d.opts.GroupCommitMaxBytes)) {
		size += d.pending[n].bytes
		n++
	}
	batch := append([]*appendReq(nil), d.pending[:n]...)
	rest := copy(d.pending, d.pending[n:])
	clear(d.pending[rest:])
	d.pending = d.pending[:rest]
	w, seq := d.active, d.nextSeq
	d.mu.Unlock()

	res, err := d.writeBatch(w, seq, batch)

	d.mu.Lock()
	d.reserved -= size
	if err != nil {
		d.failCause = err
		d.log.Error("spool: write failed; refusing appends until reopened", "dir", d.dir, "err", err)
		d.failWaitersLocked(fmt.Errorf("%w: appends are refused until the spool is reopened, after: %w", ErrFailed, err))
	} else {
		if w != nil {
			d.segs[len(d.segs)-1].size = w.size
		}
		for _, c := range res.created {
			d.segs = append(d.segs, segInfo{base: c.base, size: c.size})
		}
		d.active = res.active
		if d.records == 0 {
			d.oldestAt = res.at
		}
		d.nextSeq, d.lastSeq = res.next, res.next-1
		d.records += int64(res.next - seq)
		d.bytes += size
		d.commits++
	}
	if len(d.pending) > 0 {
		d.pending[0].done <- errLead // it is blocked in Append, its channel empty
	} else {
		d.committing = false
		d.idle.Broadcast()
	}
	d.mu.Unlock()

	result := err
	if err != nil {
		result = fmt.Errorf("%w: %w", ErrFailed, err)
	}
	for _, req := range batch {
		req.done <- result
	}
	if err == nil {
		select {
		case d.notify <- struct{}{}:
		default:
		}
	}
}

// batchResult is what a successful writeBatch changed.
type batchResult struct {
	active  *segWriter   // the segment now being appended to
	created []*segWriter // segments created, in order (the last is active)
	next    uint64       // the next seq
	at      time.Time    // the group's AppendedAt
}

// writeBatch writes the group's frames, numbered from seq, to w (or to new
// segments as they fill), then fsyncs. Nothing is reported committed
// unless every byte is durable. On failure it cuts the file back to where
// the group began and removes the segments it created, best effort (the
// caller refuses appends from then on either way).
func (d *Disk) writeBatch(w *segWriter, seq uint64, batch []*appendReq) (res batchResult, err error) {
	now := d.opts.Now()
	at := now.UnixNano()
	res.at = time.Unix(0, at)
	orig := w
	var origSize int64
	if w != nil {
		origSize = w.size
	}
	defer func() {
		if err != nil {
			d.rollback(orig, origSize, res.created)
			if orig != nil {
				orig.size = origSize
			}
		}
	}()
	buf := d.wbuf[:0]
	flush := func() error {
		if len(buf) == 0 {
			return nil
		}
		n, err := writeFull(w.f, buf)
		w.size += int64(n)
		buf = buf[:0]
		if err != nil {
			return fmt.Errorf("write %s: %w", filepath.Join(d.dir, segmentName(w.base)), err)
		}
		return nil
	}
	maxBuf := d.opts.GroupCommitMaxBytes
	for _, req := range batch {
		for i := range req.recs {
			r := &req.recs[i]
			if w == nil || w.size+int64(len(buf)) > logHeaderSize && w.size+int64(len(buf))+FrameSize(r) > d.opts.SegmentBytes {
				if w != nil {
					if err := flush(); err != nil {
						return res, err
					}
					if err := w.f.Sync(); err != nil {
						return res, fmt.Errorf("fsync %s: %w", filepath.Join(d.dir, segmentName(w.base)), err)
					}
				}
				nw, err := d.createSegment(seq)
				if err != nil {
					return res, err
				}
				res.created = append(res.created, nw)
				w = nw
			}
			buf = appendRecordFrame(buf, seq, at, r)
			seq++
			if len(buf) >= maxBuf {
				if err := flush(); err != nil {
					return res, err
				}
			}
		}
	}
	err = flush()
	if cap(buf) <= 2*maxBuf {
		d.wbuf = buf[:0]
	}
	if err != nil {
		return res, err
	}
	if err := w.f.Sync(); err != nil {
		return res, fmt.Errorf("fsync %s: %w", filepath.Join(d.dir, segmentName(w.base)), err)
	}
	if len(res.created) > 0 {
		if err := d.fs.SyncDir(d.dir); err != nil {
			return res, fmt.Errorf("fsync %s: %w", d.dir, err)
		}
	}
	res.active, res.next = w, seq
	return res, nil
}

// createSegment creates the segment whose first record will be seq and
// writes its header (fsynced with the records that follow).
func (d *Disk) createSegment(seq uint64) (*segWriter, error) {
	path := filepath.Join(d.dir, segmentName(seq))
	f, err := d.fs.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", path, err)
	}
	w := &segWriter{f: f, base: seq}
	n, err := writeFull(f, logHeader(segmentKind, seq))
	w.size = int64(n)
	if err != nil {
		f.Close()
		d.fs.Remove(path)
		return nil, fmt.Errorf("write %s: %w", path, err)
	}
	return w, nil
}

// rollback undoes a failed group: orig is cut back to size and fsynced,
// the created segments removed. Errors are logged: the spool refuses
// appends from now on, and the next open checks every byte anyway.
func (d *Disk) rollback(orig *segWriter, size int64, created []*segWriter) {
	var errs []error
	if orig != nil && orig.size != size {
		if err := orig.f.Truncate(size); err != nil {
			errs = append(errs, err)
		} else if err := orig.f.Sync(); err != nil {
			errs = append(errs, err)
		}
	}
	for _, c := range created {
		c.f.Close()
		if err := d.fs.Remove(filepath.Join(d.dir, segmentName(c.base))); err != nil {
			errs = append(errs, err)
		}
	}
	if len(created) > 0 {
		if err := d.fs.SyncDir(d.dir); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		d.log.Error("spool: could not undo a failed write; the next open recovers the files", "dir", d.dir, "err", err)
	}
}
