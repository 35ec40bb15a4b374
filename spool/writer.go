package spool

import (
	"errors"
	"log/slog"
	"slices"
	"sort"
	"sync"
	"time"
)

// writer is the tail of the log: it appends records (group commit, see
// commitGroup) and keeps what appenders share with the rest of the Disk:
// the segment files and their committed ends, the seq counter, and the
// count and bytes of the queued records, which admission checks against
// MaxBytes and Ack decreases.
//
// mu guards every field below it. The group commit itself writes and
// fsyncs without mu, by whoever holds the committer role (committing):
// one appender at a time, which alone touches wbuf and active's file
// meanwhile. The read side reads segments below the committed ends it
// finds here (locate), so it never sees bytes a commit is still writing;
// Ack retires active only while no commit is in progress.
type writer struct {
	fsys     FS
	dir      string
	log      *slog.Logger
	now      func() time.Time
	maxBytes int64
	segBytes int64
	groupMax int
	overflow Overflow
	// notify receives after each group commit (capacity one, never
	// blocks).
	notify chan struct{}
	// probeMax and afterFunc time the probes of failed storage
	// (writer_failure.go), counted in background.
	probeMax   time.Duration
	afterFunc  func(time.Duration, func()) func() bool
	background *sync.WaitGroup

	// wbuf is the group commit's write buffer, the committer role's.
	wbuf []byte

	mu       sync.Mutex
	idle     *sync.Cond // on mu: broadcast when the committer role is released
	closed   bool
	fail     *failure // set while appends are refused after a storage failure
	pending  []*appendReq
	waiters  []*spaceWaiter // blocked appenders, first come first served
	reserved int64          // bytes of admitted appends not yet committed
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
	quarantined int
	commits     uint64 // group commits done, for benchmarks
	// missing counts the records found missing since open; gaps lists the
	// first maxReportedGaps gaps found, for Stats. ledger lists the gaps
	// not yet passed by the head, all of them.
	missing int64
	gaps    []Gap
	ledger  []Gap
	// recoveredAt is when the storage last recovered from a failure, and
	// lastWait the probe wait that found it working.
	recoveredAt time.Time
	lastWait    time.Duration
}

// segInfo is a segment file, its committed size and the seq of its last
// committed record (base-1 while it has none). holes are the damaged
// ranges quarantined while the spool was open, in order: reading skips
// them.
type segInfo struct {
	base  uint64
	size  int64
	last  uint64
	holes []span
}

// segWriter is the segment being appended to.
type segWriter struct {
	f    File
	base uint64
	size int64  // bytes written, including the header
	last uint64 // seq of the last record written
}

func (w *writer) init(dir string, opts DiskOptions, background *sync.WaitGroup) {
	w.fsys, w.dir, w.log, w.now = opts.FS, dir, opts.Logger, opts.Now
	w.maxBytes, w.segBytes, w.groupMax, w.overflow = opts.MaxBytes, opts.SegmentBytes, opts.GroupCommitMaxBytes, opts.Overflow
	w.probeMax, w.afterFunc, w.background = opts.ProbeInterval, opts.AfterFunc, background
	w.notify = make(chan struct{}, 1)
	w.idle = sync.NewCond(&w.mu)
}

// load sets the tail from a recovered directory and opens the newest
// segment for appending, unless the next seq does not follow its last
// record (damage at its end, or records lost after it: see
// dirPlan.missing): the next append then starts a segment of its own, so
// that seqs run on without a jump inside any segment written from here
// on.
func (w *writer) load(p *dirPlan, quarantined int) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, sp := range p.segs {
		w.segs = append(w.segs, segInfo{base: sp.base, size: sp.size, last: sp.lastOrd})
	}
	if n := len(w.segs); n > 0 && w.segs[n-1].last+1 == p.nextSeq {
		sw, err := openSegment(w.fsys, w.dir, w.segs[n-1])
		if err != nil {
			return err
		}
		w.active = sw
	}
	w.nextSeq = p.nextSeq
	w.lastSeq = p.nextSeq - 1
	w.records, w.bytes, w.oldestAt = p.records, p.bytes, p.oldestAt
	w.quarantined = quarantined
	if gaps := p.missing(); len(gaps) > 0 {
		w.ledger = gaps
		w.missing = missingRecords(gaps)
		w.gaps = slices.Clone(gaps[:min(len(gaps), maxReportedGaps)])
		w.log.Warn("spool: records are missing from the sequence; they were lost before this open",
			"dir", w.dir, "missing", w.missing, "gaps", len(gaps), "seqs", gapList(gaps))
	}
	return nil
}

// stats returns the queue's counts; the caller adds the dead letters.
func (w *writer) stats() Stats {
	w.mu.Lock()
	defer w.mu.Unlock()
	return Stats{
		Records:        w.records,
		Bytes:          w.bytes,
		OldestAt:       w.oldestAt,
		MaxBytes:       w.maxBytes,
		Segments:       len(w.segs),
		Quarantined:    w.quarantined,
		Failed:         w.failureStatsLocked(),
		MissingRecords: w.missing,
		Gaps:           slices.Clone(w.gaps),
	}
}

func (w *writer) isClosed() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.closed
}

// close stops the writer: appends waiting for room fail with ErrClosed,
// appends already queued are committed first. It reports false if the
// writer was closed already.
func (w *writer) close() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return false
	}
	w.closed = true
	w.cancelProbeLocked()
	w.failWaitersLocked(ErrClosed)
	for w.committing {
		w.idle.Wait() // appends already queued are committed first
	}
	return true
}

// closeFiles closes the active segment.
func (w *writer) closeFiles() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	var err error
	if w.active != nil {
		err = w.active.f.Close()
		w.active = nil
	}
	return err
}

// lastCommitted returns the last committed seq and whether the writer is
// closed.
func (w *writer) lastCommitted() (last uint64, closed bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.lastSeq, w.closed
}

// locate moves p past the ends of finished segments to the next record's
// place and returns the committed end of p's segment. ok is false when p
// is at the tail: nothing committed beyond it.
func (w *writer) locate(p *position) (limit int64, ok bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.locateLocked(p)
}

// locateTail is locate, and also returns the last committed seq, read
// together with the segment ends.
func (w *writer) locateTail(p *position) (limit int64, ok bool, last uint64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	limit, ok = w.locateLocked(p)
	return limit, ok, w.lastSeq
}

func (w *writer) locateLocked(p *position) (limit int64, ok bool) {
	if len(w.segs) == 0 {
		return 0, false
	}
	i := sort.Search(len(w.segs), func(i int) bool { return w.segs[i].base >= p.base })
	if i == len(w.segs) || w.segs[i].base != p.base {
		// Before the first segment, or in one retired since.
		i = 0
		*p = position{base: w.segs[0].base, off: logHeaderSize}
	}
	for {
		s := &w.segs[i]
		for _, h := range s.holes {
			if p.off >= h.from && p.off < h.to {
				p.off = h.to
			}
		}
		if p.off < s.size {
			break
		}
		if i == len(w.segs)-1 {
			return 0, false
		}
		i++
		*p = position{base: w.segs[i].base, off: logHeaderSize}
	}
	s := &w.segs[i]
	limit = s.size
	for _, h := range s.holes {
		if h.from > p.off {
			limit = h.from // the reader stops there and locates again
			break
		}
	}
	return limit, true
}

// release accounts for an acknowledgement whose head file is written:
// plan.recs records of plan.bytes bytes left the queue, and the head is
// now at plan.p.
// It drops the segments wholly before p, and the last one too when the
// queue is drained (its file is given back even while the storage is
// failed: that may be what frees the space), and admits blocked
// appenders that fit now. headAt is the new head's appended-at, or zero
// to read it at p through rd (the read side's cursor: the caller holds
// the reader's lock). It returns the segments to delete and, when the
// queue drained (the read position is then to be reset), the active
// segment for the caller to close.
func (w *writer) release(plan ackPlan, headAt time.Time, rd *segReader) (drop []segInfo, drained bool, retired *segWriter) {
	w.mu.Lock()
	defer w.mu.Unlock()
	p := plan.p
	w.records -= plan.recs
	w.bytes -= plan.bytes
	for len(w.ledger) > 0 && w.ledger[0].Last <= plan.seq {
		w.ledger = w.ledger[1:] // passed: no record can be counted in it any more
	}
	switch {
	case w.records == 0:
		w.oldestAt = time.Time{}
	case !headAt.IsZero():
		w.oldestAt = headAt
	default:
		w.oldestAt = w.timeAtLocked(rd, p)
	}
	for len(w.segs) > 0 && w.segs[0].base < p.base {
		drop = append(drop, w.segs[0])
		w.segs = w.segs[1:]
	}
	if w.records == 0 && len(w.pending) == 0 && !w.committing && len(w.segs) == 1 {
		// Drained: give the last segment back too; the next append starts
		// a new one.
		retired, drained = w.active, true
		drop = append(drop, w.segs[0])
		w.active, w.segs = nil, nil
	}
	w.admitWaitersLocked()
	return drop, drained, retired
}

// timeAtLocked reads the appended-at of the record at p through rd, or
// the zero time if it cannot (Stats is then less precise, nothing else
// depends on it). The reader's lock and mu are held: a read of a few
// bytes, from the page cache.
func (w *writer) timeAtLocked(rd *segReader, p position) time.Time {
	limit, ok := w.locateLocked(&p)
	if !ok {
		return time.Time{}
	}
	b, err := rd.read(p.base, p.off, frameHeaderSize+payloadPrefixSize, limit)
	if err != nil {
		return time.Time{}
	}
	return payloadTime(b[frameHeaderSize:])
}

// purge forgets every segment (Purge has removed the files): the queue is
// empty, numbering continues. The caller has checked that no append is
// in progress.
func (w *writer) purge() (segs []segInfo, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.active != nil {
		err = w.active.f.Close()
		w.active = nil
	}
	segs = w.segs
	w.segs, w.records, w.bytes, w.oldestAt = nil, 0, 0, time.Time{}
	return segs, err
}

// busy reports whether the writer is closed or an append is in progress.
func (w *writer) busy() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed || w.committing || len(w.pending) > 0 {
		return errors.New("the spool is in use")
	}
	return nil
}
