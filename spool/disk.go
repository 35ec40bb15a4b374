package spool

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Defaults of DiskOptions.
const (
	// DefaultDiskMaxBytes bounds the queued bytes when MaxBytes is 0.
	DefaultDiskMaxBytes = 1 << 30
	// DefaultSegmentBytes is the segment size when SegmentBytes is 0.
	DefaultSegmentBytes = 64 << 20
	// MinSegmentBytes is the smallest SegmentBytes accepted.
	MinSegmentBytes = 4 << 10
	// DefaultGroupCommitMaxBytes bounds one group commit's write when
	// GroupCommitMaxBytes is 0.
	DefaultGroupCommitMaxBytes = 4 << 20
)

// DiskOptions configure OpenDisk. The zero value is usable.
type DiskOptions struct {
	// MaxBytes bounds the bytes of queued records, counted as FrameSize
	// (payload plus framing; segment headers and dead letters are not
	// counted). 0 means DefaultDiskMaxBytes (1 GiB); negative is an error.
	// A spool reopened with a smaller limit than it holds keeps every
	// record and accepts new ones once it has drained below the limit.
	MaxBytes int64
	// SegmentBytes is the size at which the spool starts a new segment
	// file. Disk space is given back a whole segment at a time, so smaller
	// segments shrink the directory sooner while draining, at the cost of
	// more files. 0 means DefaultSegmentBytes (64 MiB); otherwise at least
	// MinSegmentBytes (4 KiB). A record larger than a segment gets one of
	// its own.
	SegmentBytes int64
	// Overflow says what Append does when MaxBytes is reached: block (the
	// default) waits for acknowledgements to free room or for its context
	// to end; reject fails at once with ErrFull.
	Overflow Overflow
	// FS is the file system; nil means the operating system's (OSFS).
	FS FS
	// Now stamps AppendedAt and dead letters, and times storage failures;
	// nil means time.Now.
	Now func() time.Time
	// Logger receives recovery events (each logged once, at Warn) and
	// storage failures; nil means slog.Default().
	Logger *slog.Logger
	// GroupCommitMaxBytes bounds the bytes one group commit writes before
	// its fsync; appends beyond it wait for the next group. 0 means
	// DefaultGroupCommitMaxBytes (4 MiB). It bounds the write buffer.
	// There is no delay to gather a group: an append that finds no commit
	// in progress is written at once, and the appends that arrive while
	// that fsync runs form the next group by themselves, so an idle spool
	// answers after one fsync and a busy one batches as much as it needs.
	GroupCommitMaxBytes int
	// ProbeInterval bounds the wait between probes of the storage after a
	// write or fsync failure. The spool then refuses appends (ErrFailed)
	// and probes in the background, first after 50 ms, then doubling the
	// wait up to ProbeInterval, until a probe (a page written and fsynced)
	// succeeds; then it accepts appends again. 0 means
	// DefaultProbeInterval (1s); negative is an error.
	ProbeInterval time.Duration
	// Existing makes OpenDisk refuse, with an error wrapping ErrNotSpool,
	// a directory that does not exist or holds no spool (no head file,
	// lock file, segment or dead-letter log), instead of creating one:
	// for operator tools, which must not turn a mistyped path into a new
	// spool.
	Existing bool
	// AfterFunc schedules those probes like time.AfterFunc: it calls f in
	// a goroutine of its own after d, and returns a function that cancels
	// the call and reports whether it did (Timer.Stop). nil means
	// time.AfterFunc. Tests inject one that fires when they say.
	AfterFunc func(d time.Duration, f func()) (stop func() bool)
}

func (o DiskOptions) withDefaults() (DiskOptions, error) {
	switch {
	case o.MaxBytes < 0:
		return o, fmt.Errorf("spool: DiskOptions.MaxBytes = %d: must be >= 0 (0 means %d)", o.MaxBytes, DefaultDiskMaxBytes)
	case o.SegmentBytes < 0 || (o.SegmentBytes > 0 && o.SegmentBytes < MinSegmentBytes):
		return o, fmt.Errorf("spool: DiskOptions.SegmentBytes = %d: must be 0 (meaning %d) or >= %d", o.SegmentBytes, DefaultSegmentBytes, MinSegmentBytes)
	case o.Overflow != OverflowBlock && o.Overflow != OverflowReject:
		return o, fmt.Errorf("spool: DiskOptions.Overflow = %d: must be OverflowBlock or OverflowReject", int(o.Overflow))
	case o.GroupCommitMaxBytes < 0:
		return o, fmt.Errorf("spool: DiskOptions.GroupCommitMaxBytes = %d: must be >= 0 (0 means %d)", o.GroupCommitMaxBytes, DefaultGroupCommitMaxBytes)
	case o.ProbeInterval < 0:
		return o, fmt.Errorf("spool: DiskOptions.ProbeInterval = %s: must be >= 0 (0 means %s)", o.ProbeInterval, DefaultProbeInterval)
	}
	if o.MaxBytes == 0 {
		o.MaxBytes = DefaultDiskMaxBytes
	}
	if o.SegmentBytes == 0 {
		o.SegmentBytes = DefaultSegmentBytes
	}
	if o.FS == nil {
		o.FS = OSFS
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.GroupCommitMaxBytes == 0 {
		o.GroupCommitMaxBytes = DefaultGroupCommitMaxBytes
	}
	if o.ProbeInterval == 0 {
		o.ProbeInterval = DefaultProbeInterval
	}
	if o.AfterFunc == nil {
		o.AfterFunc = func(d time.Duration, f func()) func() bool { return time.AfterFunc(d, f).Stop }
	}
	return o, nil
}

// Disk is the durable spool: a Queue kept in a directory as a segmented
// log. See the package documentation for its format and guarantees.
//
// It is made of parts with a lock each (see their types):
//
//	w     writer          the tail: group commit, segments, admission, failure probes
//	r     reader          the head position, Peek's cursor and window, damage found reading
//	ahead aheadCursor     the read-ahead's own cursor
//	head  headFile        the head file; its lock is held by what moves the head
//	dead  deadLetterLog   deadletter.log
//
// Locks are always taken in this order: head.mu, r.mu, dead.mu, ahead.mu,
// w.mu (any of them may be skipped). Append takes only w.mu; Peek r.mu,
// then w.mu for a moment to find the committed end; Ack head.mu, r.mu to
// plan and to apply the move, w.mu to count it. The Disk's own goroutines
// (counted in background) read ahead for PeekAfter, unlink acknowledged
// segments and probe failed storage; appends never wait for a goroutine
// of its own.
type Disk struct {
	dir  string
	opts DiskOptions
	fs   FS
	log  *slog.Logger
	lock io.Closer

	w     writer
	r     reader
	ahead aheadCursor
	head  headFile
	dead  deadLetterLog

	// background counts the goroutines reading ahead, deleting
	// acknowledged segments and probing failed storage (a probe from when
	// it is scheduled: Close cancels it first); Close waits for them.
	background sync.WaitGroup
}

// OpenDisk opens the spool in dir, creating the directory if needed,
// takes its lock and recovers whatever a previous process left (see the
// package documentation). A directory held by another Disk, in this or
// another process, fails with an error wrapping ErrLocked.
func OpenDisk(dir string, opts DiskOptions) (*Disk, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if dir == "" {
		return nil, errors.New("spool: OpenDisk: empty directory name")
	}
	dir = filepath.Clean(dir)
	if opts.Existing {
		if err := checkSpoolDir(opts.FS, "open", dir); err != nil {
			return nil, err
		}
	}
	if err := opts.FS.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("spool: open %s: %w", dir, err)
	}
	lock, err := opts.FS.Lock(filepath.Join(dir, lockFileName))
	if err != nil {
		var le *LockedError
		if errors.As(err, &le) {
			le.Dir = dir
			return nil, le
		}
		return nil, fmt.Errorf("spool: open %s: %w", dir, err)
	}
	d := &Disk{
		dir:  dir,
		opts: opts,
		fs:   opts.FS,
		log:  opts.Logger,
		lock: lock,
	}
	d.w.init(dir, opts, &d.background)
	d.r.cur.seg = segReader{fsys: d.fs, dir: dir}
	d.ahead.cur.seg = segReader{fsys: d.fs, dir: dir}
	if err := d.load(); err != nil {
		d.closeFiles()
		lock.Close()
		return nil, err
	}
	return d, nil
}

// load recovers the directory and sets the in-memory state from it.
func (d *Disk) load() error {
	p, quarantined, err := recoverDir(d.fs, d.dir, d.log)
	if err != nil {
		return err
	}
	if err := d.w.load(p, quarantined); err != nil {
		return err
	}
	d.r.acked = p.acked
	if p.records == 0 {
		d.r.acked = p.nextSeq - 1
	}
	d.r.pos = position{base: p.headBase, off: p.headOff}
	if err := d.dead.open(d.fs, d.dir, p); err != nil {
		return err
	}
	// A fresh file, written atomically, whatever recovery found (an old
	// format, a damaged slot): the updates in place start from two sound
	// slots, one holding this state, the other empty.
	h := headState{acked: d.r.acked, segBase: d.r.pos.base, off: d.r.pos.off, deadFirst: d.dead.first, next: p.nextSeq, gen: p.head.gen + 1}
	return d.head.create(d.fs, d.dir, h)
}

// Dir returns the spool's directory.
func (d *Disk) Dir() string { return d.dir }

// Stats implements Queue. Records and Bytes count what is committed and
// not yet acknowledged; appends waiting for their fsync are not included.
func (d *Disk) Stats() Stats {
	s := d.w.stats()
	s.DeadLetters = d.dead.stat.Load()
	return s
}

// Notify implements Queue: the channel receives after each group commit.
func (d *Disk) Notify() <-chan struct{} { return d.w.notify }

// Close implements Queue. Appends already queued for a group commit are
// written and fsynced first, appends waiting for room fail with ErrClosed,
// and everything unacknowledged stays on disk for the next OpenDisk.
// Closing twice returns nil.
func (d *Disk) Close() error {
	d.head.mu.Lock() // whatever moves the head finishes first
	defer d.head.mu.Unlock()
	if !d.w.close() {
		return nil
	}
	err := errors.Join(d.closeFiles(), d.head.closeLocked())
	if err != nil {
		err = fmt.Errorf("spool: close %s: %w", d.dir, err)
	}
	d.background.Wait() // before the lock goes: the directory is ours until then
	if lerr := d.lock.Close(); err == nil {
		err = lerr
	}
	return err
}

// closeFiles closes every file the Disk holds open but the head file.
func (d *Disk) closeFiles() error {
	d.r.mu.Lock()
	d.r.cur.seg.close()
	d.r.mu.Unlock()
	d.ahead.mu.Lock()
	d.ahead.cur.seg.close()
	d.ahead.mu.Unlock()
	d.dead.mu.Lock()
	err := d.dead.close()
	d.dead.mu.Unlock()
	return errors.Join(err, d.w.closeFiles())
}

var (
	_ Queue     = (*Disk)(nil)
	_ ReadAhead = (*Disk)(nil)
)

// openSegment opens segment s of dir for appending at its end.
func openSegment(fsys FS, dir string, s segInfo) (*segWriter, error) {
	f, err := fsys.OpenFile(filepath.Join(dir, segmentName(s.base)), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return nil, fmt.Errorf("spool: open %s: %w", dir, err)
	}
	return &segWriter{f: f, base: s.base, size: s.size, last: s.last}, nil
}

// checkSpoolDir fails with an error wrapping ErrNotSpool, for operation
// op, unless dir is a directory holding a spool's files.
func checkSpoolDir(fsys FS, op, dir string) error {
	info, err := fsys.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return &notSpoolError{op, dir, "no such directory"}
	case err != nil:
		return fmt.Errorf("spool: %s %s: %w", op, dir, err)
	case !info.IsDir():
		return &notSpoolError{op, dir, "it is a file"}
	}
	entries, err := fsys.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("spool: %s %s: %w", op, dir, err)
	}
	for _, e := range entries {
		switch name := e.Name(); {
		case name == headFileName, name == lockFileName, name == deadLetterName, name == quarantineDir, isSegmentName(name):
			return nil
		}
	}
	return &notSpoolError{op, dir, "it holds no head file, lock file, segment or dead-letter log"}
}

// notSpoolError says why dir is not a spool directory. It wraps
// ErrNotSpool.
type notSpoolError struct{ op, dir, why string }

func (e *notSpoolError) Error() string {
	return fmt.Sprintf("spool: %s %s: not a spool directory: %s", e.op, e.dir, e.why)
}

func (e *notSpoolError) Unwrap() error { return ErrNotSpool }
