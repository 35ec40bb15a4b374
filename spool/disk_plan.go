package spool

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Recovery happens in two steps. planDir scans the directory read-only and
// says what it found and what repair each file needs; Inspect and Dump stop
// there. OpenDisk then applies the plan (disk_recover.go).

// span is a byte range [from, to) of a file.
type span struct{ from, to int64 }

// logPlan is what a read-only scan of one log file (a segment or the
// dead-letter log) found.
type logPlan struct {
	name string
	base uint64 // segments: first seq, from the name; dead-letter log: 0
	size int64

	// unscanned: every record in it is acknowledged (the next segment
	// starts at or before acked+1), so it was not read: it is removed.
	unscanned bool
	// short: the file is shorter than a header (and not empty).
	short bool
	// damage lists the ranges to move to quarantine: a bad header,
	// damaged bytes between valid frames, a damaged tail that does not
	// look like an interrupted write, a short file in the middle.
	damage []span
	// tornAt >= 0: the file ends in an interrupted write from this offset
	// on, to be truncated away.
	tornAt int64
	// keep lists the valid frames' bytes, merged into ranges: what a
	// rewrite copies after a fresh header.
	keep []span

	lastOrd uint64 // highest valid ordinal seen, 0 when none
	// tailDamage is the length of a quarantined range at the end of the
	// file: records may have been lost there whose ordinals nobody knows.
	tailDamage int64
	// Valid frames whose ordinal is above the acknowledged one:
	records, bytes int64
	firstOff       int64 // offset of the first of them, -1 when none
	firstAt        time.Time
}

// needsRepair reports whether the file has damage to quarantine.
func (p *logPlan) needsRepair() bool { return len(p.damage) > 0 }

// dirPlan is what a read-only scan of a spool directory found.
type dirPlan struct {
	head       headState
	headStatus headStatus
	segs       []*logPlan // by base, ascending
	dead       *logPlan   // nil: no dead-letter log
	garbage    []string   // names the spool does not know: left alone
	temps      []string   // leftovers of interrupted rewrites: removed on open
	quarantine []fs.FileInfo

	acked          uint64 // effective: head.acked when the head file is valid, else 0
	records, bytes int64
	oldestAt       time.Time
	headBase       uint64 // segment of the first unacknowledged record, 0 when none
	headOff        int64
	nextSeq        uint64
	deadRecords    int64
	nextDeadID     uint64
	deadFirst      uint64
	// gaps has seen every queued record's seq, in order, from the head on
	// (see missing).
	gaps gapFinder
}

// missing returns the gaps in the sequence of queued records between the
// head and the tail: seqs that were handed out (records around them, the
// head file or a segment's name prove it) and whose records are gone. The
// head is acked+1 when the head file is sound, else the oldest record
// found; the tail is nextSeq-1, so the records lost at the end of the
// log, from the last one found up to what the head file's last update or
// the newest segment's name says was stored, are a gap too.
func (p *dirPlan) missing() []Gap {
	g := p.gaps
	g.gaps = slices.Clip(g.gaps)
	g.end(p.nextSeq)
	return g.gaps
}

// planVisitors, when set, see every queued record's payload and every
// dead letter's payload during planDir (valid until they return).
type planVisitors struct {
	record, dead func(payload []byte) error
}

// planDir scans dir read-only. It fails only when files cannot be read or
// a visitor fails. A segment that vanishes while it is scanned (removed by
// the process holding the spool) is left out.
func planDir(fsys FS, dir string, visit planVisitors) (*dirPlan, error) {
	entries, err := fsys.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("spool: read %s: %w", dir, err)
	}
	p := &dirPlan{}
	p.head, p.headStatus, err = readHead(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("spool: read head of %s: %w", dir, err)
	}
	if p.headStatus == headOK {
		p.acked = p.head.acked
		p.deadFirst = p.head.deadFirst
		p.gaps.next = p.acked + 1 // else the head is the oldest record found
	}
	var segNames []string
	deadExists := false
	for _, e := range entries {
		name := e.Name()
		switch {
		case name == headFileName || name == lockFileName:
		case name == quarantineDir && e.IsDir():
			if p.quarantine, err = listQuarantine(fsys, dir); err != nil {
				return nil, err
			}
		case name == deadLetterName && e.Type().IsRegular():
			deadExists = true
		case strings.HasSuffix(name, tempExt) && e.Type().IsRegular():
			p.temps = append(p.temps, name)
		case e.Type().IsRegular() && isSegmentName(name):
			segNames = append(segNames, name)
		default:
			p.garbage = append(p.garbage, name)
		}
	}
	slices.Sort(segNames) // zero-padded names sort by base

	prevOrd := uint64(0)
	maxBase := uint64(0)
	for i, name := range segNames {
		base, _ := parseSegmentName(name)
		maxBase = base
		hi := uint64(math.MaxUint64)
		if i+1 < len(segNames) {
			hi, _ = parseSegmentName(segNames[i+1])
		}
		info, err := fsys.Stat(filepath.Join(dir, name))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("spool: stat segment: %w", err)
		}
		sp := &logPlan{name: name, base: base, size: info.Size(), tornAt: -1, firstOff: -1}
		last := i == len(segNames)-1
		if p.headStatus == headOK && hi <= p.acked+1 {
			sp.unscanned = true
		} else {
			hint := int64(-1)
			if p.headStatus == headOK && p.head.segBase == base {
				hint = p.head.off
			}
			err := sp.scan(fsys, dir, logScan{kind: segmentKind, lo: max(base, prevOrd+1), hi: hi, skip: p.acked,
				hint: hint, last: last, visit: visit.record, gaps: &p.gaps})
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if err != nil {
				return nil, err
			}
			prevOrd = max(prevOrd, sp.lastOrd)
			if last && sp.tailDamage > 0 {
				// Never hand out again a seq that a quarantined record may
				// have carried: skip as many as could have fit.
				prevOrd += uint64(sp.tailDamage/minFrameSize) + 1
			}
			p.records += sp.records
			p.bytes += sp.bytes
			if sp.firstOff >= 0 && p.headBase == 0 {
				p.headBase, p.headOff, p.oldestAt = base, sp.firstOff, sp.firstAt
			}
		}
		p.segs = append(p.segs, sp)
	}
	// Seq numbering continues after everything ever stored or named.
	p.nextSeq = max(p.acked, prevOrd, max(maxBase, 1)-1) + 1
	if p.headStatus == headOK {
		p.nextSeq = max(p.nextSeq, p.head.next)
	}

	p.nextDeadID = max(p.deadFirst, 1)
	if deadExists {
		name := deadLetterName
		info, err := fsys.Stat(filepath.Join(dir, name))
		if err != nil {
			return nil, fmt.Errorf("spool: stat dead-letter log: %w", err)
		}
		skip := max(p.deadFirst, 1) - 1
		p.dead = &logPlan{name: name, size: info.Size(), tornAt: -1, firstOff: -1}
		if err := p.dead.scan(fsys, dir, logScan{kind: deadLetterKind, lo: 1, hi: math.MaxUint64, skip: skip, hint: -1, last: true, visit: visit.dead}); err != nil {
			return nil, err
		}
		p.deadRecords = p.dead.records
		p.nextDeadID = max(p.nextDeadID, p.dead.lastOrd+1)
	}
	return p, nil
}

func isSegmentName(name string) bool {
	_, ok := parseSegmentName(name)
	return ok
}

func listQuarantine(fsys FS, dir string) ([]fs.FileInfo, error) {
	entries, err := fsys.ReadDir(filepath.Join(dir, quarantineDir))
	if err != nil {
		return nil, fmt.Errorf("spool: read quarantine of %s: %w", dir, err)
	}
	var out []fs.FileInfo
	for _, e := range entries {
		info, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("spool: read quarantine of %s: %w", dir, err)
		}
		out = append(out, info)
	}
	return out, nil
}

// logScan says how to scan one log file.
type logScan struct {
	kind   logKind
	lo, hi uint64 // the ordinals a valid frame may carry: [lo, hi)
	// skip: frames with an ordinal up to skip are consumed, neither
	// counted as queued nor visited.
	skip uint64
	// hint, when >= 0, is where the first frame above skip is believed to
	// start: it is used only if the frame there is valid and carries
	// exactly skip+1, which proves that everything before it is at or
	// below skip.
	hint int64
	// last: the file is the newest of its kind, the only one that may end
	// in an interrupted write.
	last bool
	// visit, if not nil, sees the payload of every frame above skip.
	visit func([]byte) error
	// gaps, if not nil, sees the ordinal of every frame above skip.
	gaps *gapFinder
}

// scan fills p from the log file p.name as s says.
func (p *logPlan) scan(fsys FS, dir string, s logScan) error {
	if p.size == 0 {
		return nil
	}
	if p.size < logHeaderSize {
		p.short = true
		if s.last {
			p.tornAt = 0
		} else {
			p.damage = append(p.damage, span{0, p.size})
		}
		return nil
	}
	f, err := fsys.OpenFile(filepath.Join(dir, p.name), os.O_RDONLY, 0)
	if err != nil {
		return fmt.Errorf("spool: open %s: %w", p.name, err)
	}
	defer f.Close()
	sc := newFrameScanner(f, p.size, s.kind, s.lo, s.hi)
	h, err := sc.bytes(0, logHeaderSize)
	if err != nil {
		return fmt.Errorf("spool: read %s: %w", p.name, err)
	}
	if !checkLogHeader(h, s.kind, p.base) {
		p.damage = append(p.damage, span{0, logHeaderSize})
	}
	start := int64(logHeaderSize)
	if s.hint > logHeaderSize && s.hint < p.size && s.skip < math.MaxUint64 {
		probe := newFrameScanner(f, p.size, s.kind, s.skip+1, s.skip+2)
		payload, _, _, err := probe.frameAt(s.hint)
		if err != nil {
			return fmt.Errorf("spool: read %s: %w", p.name, err)
		}
		if payload != nil {
			start = s.hint
			sc.lo = max(s.lo, s.skip+1)
		}
	}
	err = sc.scan(start, func(it scanItem) error {
		switch {
		case !it.damaged:
			p.lastOrd = it.ord
			if n := len(p.keep); n > 0 && p.keep[n-1].to == it.off {
				p.keep[n-1].to += it.n
			} else {
				p.keep = append(p.keep, span{it.off, it.off + it.n})
			}
			if it.ord > s.skip {
				if p.firstOff < 0 {
					p.firstOff, p.firstAt = it.off, payloadTime(it.payload)
				}
				p.records++
				p.bytes += it.n
				if s.gaps != nil {
					s.gaps.see(it.ord)
				}
				if s.visit != nil {
					if err := s.visit(it.payload); err != nil {
						return visitError{err}
					}
				}
			}
		case it.tail && it.torn && s.last:
			p.tornAt = it.off
		default:
			p.damage = append(p.damage, span{it.off, it.off + it.n})
			if it.tail {
				p.tailDamage = it.n
			}
		}
		return nil
	})
	if ve, ok := err.(visitError); ok {
		return ve.err
	}
	if err != nil {
		return fmt.Errorf("spool: read %s: %w", p.name, err)
	}
	return nil
}

// visitError carries a visitor's error through a scan unchanged.
type visitError struct{ err error }

func (e visitError) Error() string { return e.err.Error() }
