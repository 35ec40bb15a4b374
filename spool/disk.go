package spool

import (
	"errors"
	"fmt"
	"io"
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
	// Now stamps AppendedAt and dead letters; nil means time.Now.
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
	return o, nil
}

// Disk is the durable spool: a Queue kept in a directory as a segmented
// log. See the package documentation for its format and guarantees.
//
// Locks, always taken in this order: redriveMu (Redrive runs one at a
// time), ackMu (what moves the head: Ack, DeadLetter, Purge, and Close,
// which waits for them), readMu (the read side: head position, read
// cursor), aheadMu (the read-ahead's own cursor), deadMu (the
// dead-letter log), headMu (the head file), mu (everything shared with
// appenders). Append takes only mu. No file I/O happens under mu except
// the few-byte read of the new head's timestamp in Ack and Purge's
// removals (on a Disk of its own). The committer role (see commitGroup)
// writes to active without mu while committing is set; Ack retires active
// only while it is not. The Disk's own goroutines (counted in background)
// only read ahead for PeekAfter, under aheadMu, and unlink acknowledged
// segments; appends never wait for a goroutine of its own.
type Disk struct {
	dir    string
	opts   DiskOptions
	fs     FS
	log    *slog.Logger
	lock   io.Closer
	notify chan struct{}

	// wbuf is the group commit's write buffer, used by whoever holds the
	// committer role.
	wbuf []byte

	mu        sync.Mutex
	idle      *sync.Cond // on mu: broadcast when the committer role is released
	closed    bool
	failCause error // first write/fsync failure; appends refused since
	pending   []*appendReq
	waiters   []*spaceWaiter // blocked appenders, first come first served
	reserved  int64          // bytes of admitted appends not yet committed
	// committing: an appender holds the committer role (one at a time).
	// Whenever pending is not empty, committing is set.
	committing  bool
	active      *segWriter // newest segment; the role holder's while committing
	segs        []segInfo  // every segment file, oldest first; the last is active's
	nextSeq     uint64
	lastSeq     uint64 // last committed seq
	records     int64  // committed, unacknowledged
	bytes       int64
	oldestAt    time.Time
	deadCount   int64
	quarantined int
	commits     uint64 // group commits done, for benchmarks

	// ackMu is held by whatever moves the head. Ack releases readMu while
	// it writes the head file, so that PeekAfter and the read-ahead go on
	// during its fsyncs; ackMu keeps pos and acked unchanged meanwhile.
	ackMu sync.Mutex

	readMu sync.Mutex
	pos    position // first unacknowledged record (may sit at a segment's end)
	acked  uint64   // every seq <= acked is acknowledged
	window []peeked // the entries of the last Peek still unacknowledged, from pos on
	// spareWindow is the window slice of the last read-ahead taken, copied
	// into window: the next read-ahead fills it again.
	spareWindow []peeked
	rd          segReader
	dec         recordDecoder // decodes what rd reads
	// ahead is the batches being read in the background for the next
	// PeekAfter, or nil; buffered is a finished read-ahead whose first
	// entries were handed out, holding the rest.
	ahead    *readAhead
	buffered *readAhead

	// aheadMu guards the read-ahead's own cursor and decoder: it reads
	// with them outside readMu, so that a PeekAfter taking what is
	// already buffered, or an Ack, does not wait for it.
	aheadMu sync.Mutex
	ard     segReader
	adec    recordDecoder
	// background counts the goroutines reading ahead and deleting
	// acknowledged segments; Close waits for them.
	background sync.WaitGroup

	deadMu sync.Mutex
	dead   deadLetterLog

	headMu sync.Mutex
	head   headState   // as last written to the head file
	hw     *headWriter // updates the head file in place

	redriveMu sync.Mutex
}

// segInfo is a segment file and its committed size.
type segInfo struct {
	base uint64
	size int64
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
		dir:    dir,
		opts:   opts,
		fs:     opts.FS,
		log:    opts.Logger,
		lock:   lock,
		notify: make(chan struct{}, 1),
	}
	d.idle = sync.NewCond(&d.mu)
	d.rd = segReader{fsys: d.fs, dir: dir}
	d.ard = segReader{fsys: d.fs, dir: dir}
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
	for _, sp := range p.segs {
		d.segs = append(d.segs, segInfo{base: sp.base, size: sp.size})
	}
	if n := len(d.segs); n > 0 {
		last := d.segs[n-1]
		f, err := d.fs.OpenFile(filepath.Join(d.dir, segmentName(last.base)), os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			return fmt.Errorf("spool: open %s: %w", d.dir, err)
		}
		d.active = &segWriter{f: f, base: last.base, size: last.size}
	}
	d.nextSeq = p.nextSeq
	d.lastSeq = p.nextSeq - 1
	d.records, d.bytes, d.oldestAt = p.records, p.bytes, p.oldestAt
	d.quarantined = quarantined
	d.acked = p.acked
	if p.records == 0 {
		d.acked = d.lastSeq
	}
	d.pos = position{base: p.headBase, off: p.headOff}
	if err := d.dead.open(d.fs, d.dir, p); err != nil {
		return err
	}
	d.deadCount = p.deadRecords
	// A fresh file, written atomically, whatever recovery found (an old
	// format, a damaged slot): the updates in place start from two sound
	// slots, one holding this state, the other empty.
	d.head = headState{acked: d.acked, segBase: d.pos.base, off: d.pos.off, deadFirst: d.dead.first, next: d.nextSeq, gen: p.head.gen + 1}
	if err := writeHead(d.fs, d.dir, d.head); err != nil {
		return err
	}
	hw, err := openHeadWriter(d.fs, d.dir)
	if err != nil {
		return err
	}
	d.headMu.Lock()
	d.hw = hw
	d.headMu.Unlock()
	return nil
}

// Dir returns the spool's directory.
func (d *Disk) Dir() string { return d.dir }

// Stats implements Queue. Records and Bytes count what is committed and
// not yet acknowledged; appends waiting for their fsync are not included.
func (d *Disk) Stats() Stats {
	d.mu.Lock()
	defer d.mu.Unlock()
	return Stats{
		Records:     d.records,
		Bytes:       d.bytes,
		OldestAt:    d.oldestAt,
		MaxBytes:    d.opts.MaxBytes,
		Segments:    len(d.segs),
		DeadLetters: d.deadCount,
		Quarantined: d.quarantined,
	}
}

// Notify implements Queue: the channel receives after each group commit.
func (d *Disk) Notify() <-chan struct{} { return d.notify }

// Close implements Queue. Appends already queued for a group commit are
// written and fsynced first, appends waiting for room fail with ErrClosed,
// and everything unacknowledged stays on disk for the next OpenDisk.
// Closing twice returns nil.
func (d *Disk) Close() error {
	d.ackMu.Lock() // an Ack writing the head file finishes first
	defer d.ackMu.Unlock()
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil
	}
	d.closed = true
	d.failWaitersLocked(ErrClosed)
	for d.committing {
		d.idle.Wait() // appends already queued are committed first
	}
	d.mu.Unlock()
	err := d.closeFiles()
	d.background.Wait() // before the lock goes: the directory is ours until then
	if lerr := d.lock.Close(); err == nil {
		err = lerr
	}
	return err
}

// closeFiles closes every file the Disk holds open.
func (d *Disk) closeFiles() error {
	var errs []error
	d.readMu.Lock()
	d.rd.close()
	d.readMu.Unlock()
	d.aheadMu.Lock()
	d.ard.close()
	d.aheadMu.Unlock()
	d.deadMu.Lock()
	errs = append(errs, d.dead.close())
	d.deadMu.Unlock()
	d.headMu.Lock()
	if d.hw != nil {
		errs = append(errs, d.hw.close())
		d.hw = nil
	}
	d.headMu.Unlock()
	d.mu.Lock()
	if d.active != nil {
		errs = append(errs, d.active.f.Close())
		d.active = nil
	}
	d.mu.Unlock()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("spool: close %s: %w", d.dir, err)
	}
	return nil
}

func (d *Disk) isClosed() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.closed
}

var (
	_ Queue     = (*Disk)(nil)
	_ ReadAhead = (*Disk)(nil)
)
