package spool

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// commitGroup commits one group of pending appends. The caller holds the
// committer role (committing is set): it claimed it in enqueueLocked or
// was handed it with errLead. Afterwards the role passes to the oldest
// appender still queued, or is released when none is: one commit runs at
// a time, and no appender commits more than one group on others' behalf.
func (w *writer) commitGroup() {
	w.mu.Lock()
	if w.fail != nil {
		// Queued behind the failed group: refuse, release the role.
		err := w.refuseLocked()
		for _, req := range w.pending {
			w.reserved -= req.bytes
			req.done <- err
		}
		clear(w.pending)
		w.pending = w.pending[:0]
		w.committing = false
		w.idle.Broadcast()
		w.mu.Unlock()
		return
	}
	var size int64
	n := 0
	for n < len(w.pending) && (n == 0 || size+w.pending[n].bytes <= int64(w.groupMax)) {
		size += w.pending[n].bytes
		n++
	}
	batch := append([]*appendReq(nil), w.pending[:n]...)
	rest := copy(w.pending, w.pending[n:])
	clear(w.pending[rest:])
	w.pending = w.pending[:rest]
	sw, seq := w.active, w.nextSeq
	w.mu.Unlock()

	res, left, err := w.writeBatch(sw, seq, batch)

	w.mu.Lock()
	w.reserved -= size
	if err != nil {
		w.failLocked(err, left)
	} else {
		if sw != nil {
			s := &w.segs[len(w.segs)-1]
			s.size, s.last = sw.size, sw.last
		}
		for _, c := range res.created {
			w.segs = append(w.segs, segInfo{base: c.base, size: c.size, last: c.last})
		}
		w.active = res.active
		if w.records == 0 {
			w.oldestAt = res.at
		}
		w.nextSeq, w.lastSeq = res.next, res.next-1
		w.records += int64(res.next - seq)
		w.bytes += size
		w.commits++
	}
	if len(w.pending) > 0 {
		w.pending[0].done <- errLead // it is blocked in Append, its channel empty
	} else {
		w.committing = false
		w.idle.Broadcast()
	}
	w.mu.Unlock()

	result := err
	if err != nil {
		result = fmt.Errorf("%w: %w", ErrFailed, err)
	}
	for _, req := range batch {
		req.done <- result
	}
	if err == nil {
		select {
		case w.notify <- struct{}{}:
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

// writeBatch writes the group's frames, numbered from seq, to sw (or to
// new segments as they fill), then fsyncs. Nothing is reported committed
// unless every byte is durable. On failure it cuts the file back to where
// the group began and removes the segments it created, and returns in
// left what of that failed (the caller refuses appends until a probe has
// finished it).
func (w *writer) writeBatch(sw *segWriter, seq uint64, batch []*appendReq) (res batchResult, left undo, err error) {
	at := w.now().UnixNano()
	res.at = time.Unix(0, at)
	orig := sw
	var origSize int64
	if sw != nil {
		origSize = sw.size
	}
	defer func() {
		if err != nil {
			left = w.rollback(orig, origSize, res.created)
			if orig != nil {
				orig.size = origSize
			}
		}
	}()
	buf := w.wbuf[:0]
	flush := func() error {
		if len(buf) == 0 {
			return nil
		}
		n, err := writeFull(sw.f, buf)
		sw.size += int64(n)
		buf = buf[:0]
		if err != nil {
			return fmt.Errorf("write %s: %w", filepath.Join(w.dir, segmentName(sw.base)), err)
		}
		return nil
	}
	maxBuf := w.groupMax
	for _, req := range batch {
		for i := range req.recs {
			r := &req.recs[i]
			if sw == nil || sw.size+int64(len(buf)) > logHeaderSize && sw.size+int64(len(buf))+FrameSize(r) > w.segBytes {
				if sw != nil {
					sw.last = seq - 1
					if err := flush(); err != nil {
						return res, left, err
					}
					if err := sw.f.Sync(); err != nil {
						return res, left, fmt.Errorf("fsync %s: %w", filepath.Join(w.dir, segmentName(sw.base)), err)
					}
				}
				nw, err := w.createSegment(seq)
				if nw != nil {
					res.created = append(res.created, nw) // removed again if the group fails
				}
				if err != nil {
					return res, left, err
				}
				sw = nw
			}
			buf = appendRecordFrame(buf, seq, at, r)
			seq++
			if len(buf) >= maxBuf {
				if err := flush(); err != nil {
					return res, left, err
				}
			}
		}
	}
	sw.last = seq - 1
	err = flush()
	if cap(buf) <= 2*maxBuf {
		w.wbuf = buf[:0]
	}
	if err != nil {
		return res, left, err
	}
	if err := sw.f.Sync(); err != nil {
		return res, left, fmt.Errorf("fsync %s: %w", filepath.Join(w.dir, segmentName(sw.base)), err)
	}
	if len(res.created) > 0 {
		if err := w.fsys.SyncDir(w.dir); err != nil {
			return res, left, fmt.Errorf("fsync %s: %w", w.dir, err)
		}
	}
	res.active, res.next = sw, seq
	return res, left, nil
}

// createSegment creates the segment whose first record will be seq and
// writes its header (fsynced with the records that follow). When the
// header cannot be written it returns the error with the segment created,
// for the caller's rollback to remove.
func (w *writer) createSegment(seq uint64) (*segWriter, error) {
	path := filepath.Join(w.dir, segmentName(seq))
	f, err := w.fsys.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", path, err)
	}
	sw := &segWriter{f: f, base: seq, last: seq - 1}
	n, err := writeFull(f, logHeader(segmentKind, seq))
	sw.size = int64(n)
	if err != nil {
		return sw, fmt.Errorf("write %s: %w", path, err)
	}
	return sw, nil
}

// rollback undoes a failed group: orig is cut back to size and fsynced,
// the created segments removed. It returns what it could not do, for the
// probes to finish (see failLocked): until then no append is accepted.
func (w *writer) rollback(orig *segWriter, size int64, created []*segWriter) (left undo) {
	var errs []error
	if orig != nil && orig.size != size {
		err := orig.f.Truncate(size)
		if err == nil {
			err = orig.f.Sync()
		}
		if err != nil {
			errs = append(errs, err)
			left.truncName, left.truncSize = filepath.Join(w.dir, segmentName(orig.base)), size
		}
	}
	for _, c := range created {
		c.f.Close()
		name := filepath.Join(w.dir, segmentName(c.base))
		if err := w.fsys.Remove(name); err != nil {
			errs = append(errs, err)
			left.remove = append(left.remove, name)
		}
	}
	if len(created) > 0 {
		if err := w.fsys.SyncDir(w.dir); err != nil {
			errs = append(errs, err)
			left.syncDir = true
		}
	}
	if err := errors.Join(errs...); err != nil {
		w.log.Error("spool: could not undo a failed write yet; appends wait until it is undone", "dir", w.dir, "err", err)
	}
	return left
}
