package spool

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
)

const (
	// redriveChunk is how many dead letters Redrive reads at a time, so
	// its memory stays bounded however many there are.
	redriveChunk = 64
	// maxReasonBytes bounds a dead letter's reason (longer ones are cut),
	// so a dead letter always fits in a frame.
	maxReasonBytes = 4 << 10
)

// deadLetterLog is the dead-letter store: a log file of dead-letter frames
// (deadletter.log) whose consumed prefix is recorded in the head file as
// the first id not yet removed. Dead letters are only ever removed oldest
// first (Redrive, RequeueDeadLetters, Purge), so that prefix is all the
// state removal needs.
//
// mu guards every field but stat and turn. stat mirrors count, so that
// Stats never waits behind a dead letter's fsync; turn is held (a token in
// it) by the Redrive running, one at a time.
type deadLetterLog struct {
	stat atomic.Int64
	turn chan struct{}

	mu    sync.Mutex
	fsys  FS
	dir   string
	f     File // nil while the file does not exist
	size  int64
	first uint64 // ids below first were removed
	next  uint64 // id of the next dead letter
	count int64  // dead letters with id >= first
	// broken: a write or fsync failed. The next append first reopens the
	// file and cuts it back to size, the end of the last dead letter
	// written in full (see repair): dead-lettering goes on once the
	// storage works again, and never after bytes of a failed write.
	broken error
}

func (l *deadLetterLog) path() string { return filepath.Join(l.dir, deadLetterName) }

// open sets the log up from a recovered directory plan.
func (l *deadLetterLog) open(fsys FS, dir string, p *dirPlan) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.turn = make(chan struct{}, 1)
	l.fsys, l.dir = fsys, dir
	l.first, l.next, l.count = p.deadFirst, p.nextDeadID, p.deadRecords
	l.stat.Store(l.count)
	if p.dead == nil {
		return nil
	}
	f, err := fsys.OpenFile(l.path(), os.O_RDWR|os.O_APPEND, 0)
	if err != nil {
		return fmt.Errorf("spool: open %s: %w", l.path(), err)
	}
	l.f, l.size = f, p.dead.size
	return nil
}

func (l *deadLetterLog) close() error {
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}

// append writes dl (assigning its ID) and fsyncs it.
func (l *deadLetterLog) append(dl *DeadLetter) error {
	if l.broken != nil {
		if err := l.repair(); err != nil {
			return fmt.Errorf("%w: dead-lettering is refused until %s is cut back to its last dead letter (%v), after: %w", ErrFailed, l.path(), err, l.broken)
		}
		l.broken = nil
	}
	if l.f == nil {
		if err := l.create(); err != nil {
			return fmt.Errorf("%w: create %s: %w", ErrFailed, l.path(), err)
		}
	}
	dl.ID = l.next
	frame := appendDeadLetterFrame(nil, dl)
	_, err := writeFull(l.f, frame)
	if err == nil {
		err = l.f.Sync()
	}
	if err != nil {
		l.broken = fmt.Errorf("write %s: %w", l.path(), err)
		return fmt.Errorf("%w: %w", ErrFailed, l.broken)
	}
	l.size += int64(len(frame))
	l.next++
	l.count++
	l.stat.Store(l.count)
	return nil
}

// repair reopens the log after a failed write and cuts it back to size,
// fsynced. The new descriptor replaces the one that saw the failure.
func (l *deadLetterLog) repair() error {
	f, err := l.fsys.OpenFile(l.path(), os.O_RDWR|os.O_APPEND, 0)
	if err != nil {
		return err
	}
	info, err := f.Stat()
	switch {
	case err != nil:
	case info.Size() < l.size:
		err = fmt.Errorf("the file is %d bytes, shorter than its last dead letter's end %d", info.Size(), l.size)
	case info.Size() > l.size:
		err = f.Truncate(l.size)
	}
	if err == nil {
		err = f.Sync()
	}
	if err != nil {
		f.Close()
		return err
	}
	l.f.Close()
	l.f = f
	return nil
}

func (l *deadLetterLog) create() error {
	f, err := l.fsys.OpenFile(l.path(), os.O_RDWR|os.O_CREATE|os.O_TRUNC|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	_, err = writeFull(f, logHeader(deadLetterKind, 0))
	if err == nil {
		err = f.Sync()
	}
	if err == nil {
		err = l.fsys.SyncDir(l.dir)
	}
	if err != nil {
		f.Close()
		l.fsys.Remove(l.path())
		return err
	}
	l.f, l.size = f, logHeaderSize
	return nil
}

// errStopScan ends a scan early.
var errStopScan = errors.New("stop scan")

// read returns up to max dead letters not yet removed, starting at offset
// from, and the offset after the last one returned.
func (l *deadLetterLog) read(from int64, max int) ([]DeadLetter, int64, error) {
	if l.f == nil || from >= l.size {
		return nil, from, nil
	}
	var out []DeadLetter
	next := from
	s := newFrameScanner(l.f, l.size, deadLetterKind, 1, math.MaxUint64)
	err := s.scan(from, func(it scanItem) error {
		if it.damaged {
			return fmt.Errorf("%w: %s at offset %d changed on disk after it was written; reopen the spool to quarantine it", ErrFailed, l.path(), it.off)
		}
		next = it.off + it.n
		if it.ord < l.first {
			return nil
		}
		var dl DeadLetter
		// A copy: the scanner reads the next frames over it.
		if err := decodeDeadLetterPayload(append([]byte(nil), it.payload...), &dl); err != nil {
			return err
		}
		out = append(out, dl)
		if len(out) == max {
			return errStopScan
		}
		return nil
	})
	if err != nil && !errors.Is(err, errStopScan) {
		return nil, from, err
	}
	return out, next, nil
}

// DeadLetter implements Queue. The entry is first written to the
// dead-letter log and fsynced, then acknowledged in the queue: a crash in
// between leaves it in both (it may be replayed once more, it is never
// lost). A reason longer than 4 KiB is cut.
func (d *Disk) DeadLetter(e Entry, reason string) error {
	d.head.mu.Lock()
	defer d.head.mu.Unlock()
	r := &d.r
	r.mu.Lock()
	defer r.mu.Unlock()
	if d.w.isClosed() {
		return ErrClosed
	}
	p := r.pos
	limit, ok := d.w.locate(&p)
	if !ok {
		return fmt.Errorf("spool: dead-letter seq %d: not the head of the queue (the queue is empty)", e.Seq)
	}
	payload, _, err := r.cur.frameAt(p, limit)
	if err != nil {
		return err
	}
	// The dead letter keeps the bytes that were spooled, whatever the
	// caller did to its copy of e. head aliases the cursor's buffer, which
	// is not read over before the entry is acknowledged (below, once it is
	// written out).
	var head Entry
	if err := decodeRecordPayload(payload, &head); err != nil {
		return newDamage(d.dir, p, err)
	}
	if head.Seq != e.Seq {
		return fmt.Errorf("spool: dead-letter seq %d: not the head of the queue (head is %d)", e.Seq, head.Seq)
	}
	if len(reason) > maxReasonBytes {
		reason = reason[:maxReasonBytes]
	}
	dl := DeadLetter{Entry: head, Reason: reason, At: d.opts.Now()}
	d.dead.mu.Lock()
	err = d.dead.append(&dl)
	d.dead.mu.Unlock()
	if err != nil {
		return fmt.Errorf("spool: dead-letter seq %d: %w", e.Seq, err)
	}
	return d.ackLocked(e.Seq)
}

// DeadLetters returns every dead letter, oldest first. It holds them all
// in memory: Redrive streams instead.
func (d *Disk) DeadLetters() ([]DeadLetter, error) {
	d.dead.mu.Lock()
	defer d.dead.mu.Unlock()
	if d.w.isClosed() {
		return nil, ErrClosed
	}
	out, _, err := d.dead.read(logHeaderSize, math.MaxInt)
	return out, err
}

// Redrive passes every dead letter, oldest first, to send, and removes each
// one once send returned nil for it (durably, before the next is sent). It
// stops at the first error from send or ctx and returns how many it removed.
// A crash between a send and its removal sends that dead letter again next
// time. One Redrive (or RequeueDeadLetters) runs at a time, the others wait
// for their turn or for ctx; send is called without any lock held, so it
// may use the Disk.
func (d *Disk) Redrive(ctx context.Context, send func(context.Context, DeadLetter) error) (n int, err error) {
	select {
	case d.dead.turn <- struct{}{}:
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	defer func() { <-d.dead.turn }()
	off := int64(logHeaderSize)
	for {
		d.dead.mu.Lock()
		if d.w.isClosed() {
			d.dead.mu.Unlock()
			return n, ErrClosed
		}
		batch, next, err := d.dead.read(off, redriveChunk)
		d.dead.mu.Unlock()
		if err != nil || len(batch) == 0 {
			return n, err
		}
		for _, dl := range batch {
			if err := ctx.Err(); err != nil {
				return n, err
			}
			if err := send(ctx, dl); err != nil {
				return n, fmt.Errorf("spool: redrive dead letter %d: %w", dl.ID, err)
			}
			emptied, err := d.removeDeadLetter(dl.ID)
			if err != nil {
				return n, err
			}
			n++
			if emptied {
				next = logHeaderSize
			}
		}
		off = next
	}
}

// RequeueDeadLetters appends every dead letter's record to the tail of the
// queue (as a new entry with a new seq), oldest first, removing each dead
// letter once its record is stored. It returns how many it moved; ctx
// bounds waiting for room like Append.
func (d *Disk) RequeueDeadLetters(ctx context.Context) (int, error) {
	return d.Redrive(ctx, func(ctx context.Context, dl DeadLetter) error {
		return d.Append(ctx, dl.Entry.Record)
	})
}

// removeDeadLetter removes the oldest dead letter, id, by moving the
// head file's first dead-letter id past it. When none are left the log is
// cut back to its header; emptied reports that.
func (d *Disk) removeDeadLetter(id uint64) (emptied bool, err error) {
	d.head.mu.Lock()
	defer d.head.mu.Unlock()
	l := &d.dead
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := d.head.writeLocked(func(h *headState) { h.deadFirst = id + 1 }); err != nil {
		return false, err
	}
	l.first = id + 1
	l.count--
	l.stat.Store(l.count)
	if l.count > 0 || l.f == nil {
		return false, nil
	}
	// Safe to cut: the head file already says every id in it is removed.
	// A failure only costs disk space, the removal itself is durable.
	err = l.f.Truncate(logHeaderSize)
	if err == nil {
		l.size = logHeaderSize
		err = l.f.Sync()
	}
	if err != nil {
		d.log.Warn("spool: could not cut back the emptied dead-letter log", "path", l.path(), "err", err)
	}
	return err == nil, nil
}
