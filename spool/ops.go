package spool

import (
	"fmt"
	"path/filepath"
	"time"
)

// Operator functions: they work on a spool directory by name, for the
// `huleedu spool` commands. Inspect, Dump and DumpDeadLetters only read,
// and work while a process holds the spool; Purge takes the lock. Each
// refuses a path that is not a spool directory with an error wrapping
// ErrNotSpool, creating and changing nothing.

// Report describes a spool directory, as Inspect found it.
type Report struct {
	Dir string `json:"dir"`
	// Locked: a process holds the spool; LockPID is its pid (0 if unknown).
	Locked  bool `json:"locked"`
	LockPID int  `json:"lock_pid,omitempty"`
	// Head is the state of the head file: "ok", "missing" or "corrupt"
	// (the latter two make the next open replay from the oldest segment).
	Head string `json:"head"`
	// AckedSeq: every record with seq <= AckedSeq is acknowledged.
	AckedSeq uint64 `json:"acked_seq"`
	// NextSeq is the seq the next appended record would get.
	NextSeq uint64 `json:"next_seq"`
	// Records and Bytes count the queued (unacknowledged, undamaged)
	// records and their FrameSize, exactly as OpenDisk would.
	Records  int64     `json:"records"`
	Bytes    int64     `json:"bytes"`
	OldestAt time.Time `json:"oldest_at,omitzero"`
	// Segments lists the segment files, oldest first.
	Segments []SegmentReport `json:"segments"`
	// Damaged lists ranges the next open will quarantine (or, for an
	// interrupted write at the end, truncate).
	Damaged []DamageReport `json:"damaged,omitempty"`
	// Missing lists the gaps in the sequence of queued records: seqs
	// between the head and the tail whose records are gone (a segment
	// deleted, emptied or cut short, or damage the next open quarantines),
	// which the next open reports too; MissingRecords counts their
	// records. While a process holds the spool, a segment it removes
	// during the inspection can show up as a gap.
	Missing        []Gap `json:"missing,omitempty"`
	MissingRecords int64 `json:"missing_records"`
	// Quarantined lists the files in the quarantine directory.
	Quarantined []QuarantineReport `json:"quarantined,omitempty"`
	// DeadLetters counts the entries in the dead-letter store.
	DeadLetters int64 `json:"dead_letters"`
	// Unknown lists files the spool does not know (it leaves them alone).
	Unknown []string `json:"unknown_files,omitempty"`
}

// SegmentReport describes one segment file.
type SegmentReport struct {
	Name     string `json:"name"`
	Size     int64  `json:"size"`
	FirstSeq uint64 `json:"first_seq"`
	// Records counts its queued records (0 when fully acknowledged).
	Records int64 `json:"records"`
}

// DamageReport is a damaged byte range found by Inspect.
type DamageReport struct {
	File   string `json:"file"`
	Offset int64  `json:"offset"`
	Bytes  int64  `json:"bytes"`
	// Torn: an interrupted write at the end of the newest file, which the
	// next open truncates rather than quarantines. While a process holds
	// the spool, its append in progress can show up as one.
	Torn bool `json:"torn,omitempty"`
}

// QuarantineReport is a file holding a damaged range moved aside.
type QuarantineReport struct {
	Name string `json:"name"`
	Size int64  `json:"size"`
}

// Inspect describes the spool in dir without changing anything: no lock is
// taken (it probes whether one is held, for an instant, with a shared
// lock that a starting process waits out), no file is written. While a
// process holds the spool the report is a snapshot of a moving target.
func Inspect(dir string) (Report, error) {
	dir = filepath.Clean(dir)
	if err := checkSpoolDir(OSFS, "inspect", dir); err != nil {
		return Report{}, err
	}
	r := Report{Dir: dir}
	var err error
	r.Locked, r.LockPID, err = lockHolder(filepath.Join(dir, lockFileName))
	if err != nil {
		return Report{}, fmt.Errorf("spool: inspect %s: %w", dir, err)
	}
	p, err := planDir(OSFS, dir, planVisitors{})
	if err != nil {
		return Report{}, err
	}
	r.Head = p.headStatus.String()
	r.AckedSeq, r.NextSeq = p.acked, p.nextSeq
	r.Records, r.Bytes, r.OldestAt = p.records, p.bytes, p.oldestAt
	r.DeadLetters = p.deadRecords
	r.Missing = p.missing()
	r.MissingRecords = missingRecords(r.Missing)
	r.Unknown = p.garbage
	r.Segments = []SegmentReport{}
	for _, sp := range p.segs {
		r.Segments = append(r.Segments, SegmentReport{Name: sp.name, Size: sp.size, FirstSeq: sp.base, Records: sp.records})
		r.Damaged = appendDamage(r.Damaged, sp)
	}
	if p.dead != nil {
		r.Damaged = appendDamage(r.Damaged, p.dead)
	}
	for _, q := range p.quarantine {
		r.Quarantined = append(r.Quarantined, QuarantineReport{Name: q.Name(), Size: q.Size()})
	}
	return r, nil
}

func appendDamage(out []DamageReport, p *logPlan) []DamageReport {
	for _, d := range p.damage {
		out = append(out, DamageReport{File: p.name, Offset: d.from, Bytes: d.to - d.from})
	}
	if p.tornAt >= 0 {
		out = append(out, DamageReport{File: p.name, Offset: p.tornAt, Bytes: p.size - p.tornAt, Torn: true})
	}
	return out
}

// Dump calls fn with every queued entry of the spool in dir, oldest first,
// reading from disk as it goes (memory stays bounded). It changes nothing
// and works while a process holds the spool. Damaged ranges are skipped,
// as OpenDisk would after quarantining them. An error from fn stops the
// dump and is returned.
func Dump(dir string, fn func(Entry) error) error {
	dir = filepath.Clean(dir)
	if err := checkSpoolDir(OSFS, "dump", dir); err != nil {
		return err
	}
	_, err := planDir(OSFS, dir, planVisitors{record: func(p []byte) error {
		var e Entry
		// A copy: the scan reads the next frames over p, and fn may keep e.
		if err := decodeRecordPayload(append([]byte(nil), p...), &e); err != nil {
			return err
		}
		return fn(e)
	}})
	return err
}

// DumpDeadLetters calls fn with every dead letter of the spool in dir,
// oldest first, like Dump.
func DumpDeadLetters(dir string, fn func(DeadLetter) error) error {
	dir = filepath.Clean(dir)
	if err := checkSpoolDir(OSFS, "dump dead letters of", dir); err != nil {
		return err
	}
	_, err := planDir(OSFS, dir, planVisitors{dead: func(p []byte) error {
		var dl DeadLetter
		if err := decodeDeadLetterPayload(append([]byte(nil), p...), &dl); err != nil {
			return err
		}
		return fn(dl)
	}})
	return err
}

// PurgeResult counts what Purge removed.
type PurgeResult struct {
	Records     int64 `json:"records"`
	Bytes       int64 `json:"bytes"`
	DeadLetters int64 `json:"dead_letters"`
	Segments    int   `json:"segments"`
}

// Purge removes every queued record and every dead letter of the spool in
// dir and returns exactly how many. It takes the lock like OpenDisk (and
// recovers the directory first), so it fails with an error wrapping
// ErrLocked while a process holds the spool. Seq numbering continues
// afterwards; quarantined files are kept for the operator to look at.
func Purge(dir string) (PurgeResult, error) {
	dir = filepath.Clean(dir)
	if err := checkSpoolDir(OSFS, "purge", dir); err != nil {
		return PurgeResult{}, err
	}
	d, err := OpenDisk(dir, DiskOptions{Existing: true})
	if err != nil {
		return PurgeResult{}, err
	}
	res, err := d.purge()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return res, err
}

// purge empties the spool: the head file moves past everything first, so
// a crash half-way leaves nothing counted as queued, then the files go.
func (d *Disk) purge() (PurgeResult, error) {
	d.head.mu.Lock()
	defer d.head.mu.Unlock()
	r := &d.r
	r.mu.Lock()
	defer r.mu.Unlock()
	d.dead.mu.Lock()
	defer d.dead.mu.Unlock()
	// Purge's own Disk: no appender, so nothing changes from here on.
	if err := d.w.busy(); err != nil {
		return PurgeResult{}, fmt.Errorf("spool: purge %s: %w", d.dir, err)
	}
	st := d.w.stats()
	last, _ := d.w.lastCommitted()
	res := PurgeResult{Records: st.Records, Bytes: st.Bytes, DeadLetters: d.dead.count, Segments: st.Segments}
	deadNext := d.dead.next
	if err := d.head.writeLocked(func(h *headState) { *h = headState{acked: last, deadFirst: deadNext, next: last + 1} }); err != nil {
		return PurgeResult{}, err
	}
	d.ahead.mu.Lock()
	d.ahead.cur.seg.close()
	d.ahead.mu.Unlock()
	r.cur.seg.close()
	segs, err := d.w.purge()
	var firstErr error
	if err != nil {
		firstErr = fmt.Errorf("spool: purge %s: %w", d.dir, err)
	}
	remove := func(name string) {
		if err := d.fs.Remove(filepath.Join(d.dir, name)); err != nil && firstErr == nil {
			firstErr = fmt.Errorf("spool: purge %s: %w", d.dir, err)
		}
	}
	for _, s := range segs {
		remove(segmentName(s.base))
	}
	if d.dead.f != nil {
		d.dead.close()
		remove(deadLetterName)
	}
	r.acked, r.pos, r.window = last, position{}, r.window[:0]
	d.dead.first, d.dead.count, d.dead.size = deadNext, 0, 0
	d.dead.stat.Store(0)
	if err := d.fs.SyncDir(d.dir); err != nil && firstErr == nil {
		firstErr = fmt.Errorf("spool: purge %s: %w", d.dir, err)
	}
	return res, firstErr
}
