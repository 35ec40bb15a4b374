package spool

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// After a write or fsync failure the writer refuses appends and probes the
// storage in the background until it works again:
//
//   - The failed group is undone at once (rollback): the active segment is
//     cut back to its last committed size and fsynced, the segments the
//     group created are removed. The segment's file is closed, so no
//     append goes to a descriptor that saw the error.
//   - Each probe, run by whoever holds the committer role (so nothing else
//     writes meanwhile), first finishes what the rollback could not undo,
//     then writes and fsyncs probeFileName, then reopens the active
//     segment, checking that it ends at its committed size. Only then are
//     appends accepted again: no append ever builds on bytes of a failed
//     group.
//   - Probes back off from minProbeWait, doubling up to
//     DiskOptions.ProbeInterval. A failure soon after a recovery goes on
//     from the wait that recovery ended with, so a disk that fills again at
//     once is not probed at the shortest interval forever.
//
// A failed fsync may leave the kernel's page cache holding data the disk
// never got ("fsyncgate"): bytes written before the failure and not yet
// fsynced are never trusted, since the group they belong to is cut off,
// and everything committed before it was fsynced while the storage still
// worked.

const (
	// DefaultProbeInterval is DiskOptions.ProbeInterval when it is 0.
	DefaultProbeInterval = time.Second
	// minProbeWait is the first wait after a failure.
	minProbeWait = 50 * time.Millisecond
	// probeFileName is the file a probe writes and removes (a temporary
	// file: removed on open if a crash leaves it).
	probeFileName = "probe" + tempExt
	// probeSize is what a probe writes: a page.
	probeSize = 4 << 10
)

// failure is the state of a writer whose storage failed. Guarded by
// writer.mu.
type failure struct {
	cause  error
	since  time.Time
	next   time.Time     // when the next probe runs
	wait   time.Duration // the wait before next
	probes int           // probes that failed since
	// stop cancels the scheduled probe (see DiskOptions.AfterFunc); nil
	// while a probe runs.
	stop func() bool
	// undo is what the failed group left on disk that the rollback could
	// not remove.
	undo undo
}

// undo is what a probe must finish before appends may go on.
type undo struct {
	truncName string // a segment to cut back to truncSize and fsync
	truncSize int64
	remove    []string // segments to remove, then fsync the directory
	syncDir   bool     // the directory is to be fsynced (removals done)
}

// failLocked enters the failed state after a group commit failed with
// cause, leaving left to undo. w.mu is held; the caller holds the
// committer role.
func (w *writer) failLocked(cause error, left undo) {
	now := w.now()
	wait := minProbeWait
	if !w.recoveredAt.IsZero() && now.Sub(w.recoveredAt) < w.probeMax {
		wait = w.lastWait * 2
	}
	wait = min(wait, w.probeMax)
	if w.active != nil {
		w.active.f.Close()
		w.active = nil
	}
	w.fail = &failure{cause: cause, since: now, undo: left}
	if !w.closed { // Close has cancelled the probes already: schedule none it would wait for
		w.scheduleProbeLocked(wait)
	}
	w.log.Error("spool: write failed; refusing appends until the storage works again",
		"dir", w.dir, "err", cause, "next_probe_in", wait)
	w.failWaitersLocked(w.refuseLocked())
}

// scheduleProbeLocked runs a probe after wait. w.mu is held.
func (w *writer) scheduleProbeLocked(wait time.Duration) {
	f := w.fail
	f.wait, f.next = wait, w.now().Add(wait)
	w.background.Add(1)
	f.stop = w.afterFunc(wait, w.probe)
}

// cancelProbeLocked cancels a scheduled probe. w.mu is held.
func (w *writer) cancelProbeLocked() {
	if f := w.fail; f != nil && f.stop != nil {
		if f.stop() {
			w.background.Done() // it will not run
		}
		f.stop = nil
	}
}

// probe checks whether the storage works again (see the top of this
// file), and accepts appends again if it does; else it schedules the next
// probe.
func (w *writer) probe() {
	defer w.background.Done()
	w.mu.Lock()
	for w.committing && !w.closed {
		w.idle.Wait() // appenders refusing the queue behind the failed group
	}
	f := w.fail
	if w.closed || f == nil {
		w.mu.Unlock()
		return
	}
	f.stop = nil
	w.committing = true // nothing else writes until the role is released
	left := f.undo
	var tail *segInfo
	if n := len(w.segs); n > 0 {
		s := w.segs[n-1] // stable while the role is held: only Ack retires it, and not now
		tail = &s
	}
	w.mu.Unlock()

	sw, left, err := w.recoverStorage(left, tail)

	w.mu.Lock()
	if err == nil {
		now := w.now()
		w.fail, w.active = nil, sw
		w.recoveredAt, w.lastWait = now, f.wait
		w.log.Info("spool: storage works again; accepting appends",
			"dir", w.dir, "failed_for", now.Sub(f.since), "probes", f.probes+1, "after", f.cause)
	} else {
		f.undo = left
		f.probes++
		if !w.closed {
			w.log.Debug("spool: storage still failing", "dir", w.dir, "err", err)
			w.scheduleProbeLocked(min(2*f.wait, w.probeMax))
		}
	}
	if len(w.pending) > 0 {
		w.pending[0].done <- errLead
	} else {
		w.committing = false
		w.idle.Broadcast()
	}
	w.mu.Unlock()
}

// recoverStorage finishes left, proves that the storage takes a write
// and an fsync, and reopens tail (the newest segment, if any) for
// appending. It returns what is still to undo when it fails. The caller
// holds the committer role.
func (w *writer) recoverStorage(left undo, tail *segInfo) (*segWriter, undo, error) {
	if left.truncName != "" {
		if err := truncateFile(w.fsys, left.truncName, left.truncSize); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, left, err
		}
		left.truncName = ""
	}
	for len(left.remove) > 0 {
		if err := w.fsys.Remove(left.remove[0]); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, left, fmt.Errorf("remove %s: %w", left.remove[0], err)
		}
		left.remove, left.syncDir = left.remove[1:], true
	}
	if left.syncDir {
		if err := w.fsys.SyncDir(w.dir); err != nil {
			return nil, left, fmt.Errorf("fsync %s: %w", w.dir, err)
		}
		left.syncDir = false
	}
	if err := w.writeProbe(); err != nil {
		return nil, left, err
	}
	if tail == nil {
		return nil, left, nil // the next append creates a segment
	}
	sw, err := openSegment(w.fsys, w.dir, *tail)
	if err != nil {
		return nil, left, err
	}
	// The file must end where its last commit did: appends go to its end.
	info, err := sw.f.Stat()
	if err == nil && info.Size() != tail.size {
		err = fmt.Errorf("%s is %d bytes, its committed end is %d", filepath.Join(w.dir, segmentName(tail.base)), info.Size(), tail.size)
		if info.Size() > tail.size {
			if err = sw.f.Truncate(tail.size); err == nil {
				err = sw.f.Sync()
			}
		}
	}
	if err != nil {
		sw.f.Close()
		return nil, left, err
	}
	return sw, left, nil
}

// writeProbe writes a page to probeFileName, fsyncs and removes it.
func (w *writer) writeProbe() error {
	path := filepath.Join(w.dir, probeFileName)
	f, err := w.fsys.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	_, err = writeFull(f, make([]byte, probeSize))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if rerr := w.fsys.Remove(path); err == nil && rerr != nil {
		err = rerr
	}
	if err != nil {
		return fmt.Errorf("probe %s: %w", path, err)
	}
	return nil
}

// truncateFile cuts the file name back to size and fsyncs it, through a
// descriptor of its own.
func truncateFile(fsys FS, name string, size int64) error {
	f, err := fsys.OpenFile(name, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	err = f.Truncate(size)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("truncate %s: %w", name, err)
	}
	return nil
}

// failureStats describes the failure for Stats, nil while there is none.
// w.mu is held.
func (w *writer) failureStatsLocked() *StorageFailure {
	f := w.fail
	if f == nil {
		return nil
	}
	return &StorageFailure{Cause: f.cause.Error(), Since: f.since, NextProbe: f.next, Probes: f.probes}
}
