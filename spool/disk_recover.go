package spool

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
)

// recoverDir brings the spool directory to a consistent state, in an order
// that is safe to interrupt and repeat (a crash during recovery is
// recovered from on the next open):
//
//  1. copy every damaged range to the quarantine directory and fsync it;
//  2. rewrite segments that had damage in the middle (temp file, fsync,
//     rename, fsync the directory);
//  3. truncate interrupted writes at the end of the newest segment and of
//     the dead-letter log;
//  4. remove segments that hold no unacknowledged record (zero-length,
//     cut-off headers, fully acknowledged);
//  5. remove leftover temporary files.
//
// The head file is written by the caller once the state is known. Each
// event is logged once. It returns the plan of the recovered directory and
// how many ranges it quarantined.
func recoverDir(fsys FS, dir string, log *slog.Logger) (*dirPlan, int, error) {
	p, err := planDir(fsys, dir, planVisitors{})
	if err != nil {
		return nil, 0, err
	}
	switch {
	case p.headStatus == headCorrupt:
		log.Warn("spool: head file is damaged; replaying from the oldest segment (records may be delivered twice)", "dir", dir)
	case p.headStatus == headMissing && (len(p.segs) > 0 || p.dead != nil):
		log.Warn("spool: head file is missing; replaying from the oldest segment (records may be delivered twice)", "dir", dir)
	}
	for _, name := range p.garbage {
		log.Warn("spool: ignoring a file the spool does not know", "dir", dir, "name", name)
	}
	r := recoverer{fsys: fsys, dir: dir, log: log}
	rewrote := false
	dirty := false
	logs := p.segs
	if p.dead != nil {
		logs = append(logs[:len(logs):len(logs)], p.dead)
	}
	for _, lp := range logs {
		kind := segmentKind
		if lp == p.dead {
			kind = deadLetterKind
		}
		// The copies are durable before the originals go.
		for _, d := range lp.damage {
			if err := r.quarantine(lp, d); err != nil {
				return nil, 0, err
			}
		}
		switch {
		case lp.unscanned:
			dirty = true
			if err := r.remove(lp.name); err != nil {
				return nil, 0, err
			}
		case lp.size == 0:
			log.Warn("spool: removing zero-length file", "dir", dir, "name", lp.name)
			dirty = true
			if err := r.remove(lp.name); err != nil {
				return nil, 0, err
			}
		case lp.short:
			log.Warn("spool: removing file cut off inside its header", "dir", dir, "name", lp.name, "bytes", lp.size)
			dirty = true
			if err := r.remove(lp.name); err != nil {
				return nil, 0, err
			}
		case lp.needsRepair():
			rewrote = true
			if err := r.rewrite(lp, kind); err != nil {
				return nil, 0, err
			}
		case lp.tornAt >= 0:
			log.Warn("spool: truncating an interrupted write at the end of a file",
				"dir", dir, "name", lp.name, "offset", lp.tornAt, "bytes", lp.size-lp.tornAt)
			if err := r.truncate(lp.name, lp.tornAt); err != nil {
				return nil, 0, err
			}
			lp.size = lp.tornAt
		}
	}
	for _, name := range p.temps {
		log.Info("spool: removing leftover temporary file", "dir", dir, "name", name)
		dirty = true
		if err := r.remove(name); err != nil {
			return nil, 0, err
		}
	}
	if rewrote {
		// Offsets moved: scan again. The second scan finds no damage, or
		// the storage is changing under us. The seqs the damage may have
		// held are still not to be reused.
		next := p.nextSeq
		if p, err = planDir(fsys, dir, planVisitors{}); err != nil {
			return nil, 0, err
		}
		p.nextSeq = max(p.nextSeq, next)
		if hasDamage(p) {
			return nil, 0, fmt.Errorf("%w: %s: damage remains after recovery", ErrFailed, dir)
		}
	}
	// Segments without an unacknowledged record are not needed: remove
	// them, so that every segment left holds queued records.
	kept := p.segs[:0]
	for _, sp := range p.segs {
		switch {
		case sp.unscanned || sp.size == 0 || sp.short:
			// removed above
		case sp.records == 0:
			dirty = true
			if err := r.remove(sp.name); err != nil {
				return nil, 0, err
			}
		default:
			kept = append(kept, sp)
		}
	}
	p.segs = kept
	if p.dead != nil && (p.dead.size == 0 || p.dead.short) {
		p.dead = nil
	}
	if dirty {
		if err := fsys.SyncDir(dir); err != nil {
			return nil, 0, fmt.Errorf("spool: sync %s: %w", dir, err)
		}
	}
	return p, r.quarantined, nil
}

func hasDamage(p *dirPlan) bool {
	for _, sp := range p.segs {
		if sp.needsRepair() {
			return true
		}
	}
	return p.dead != nil && p.dead.needsRepair()
}

// recoverer performs the repairs of recoverDir.
type recoverer struct {
	fsys        FS
	dir         string
	log         *slog.Logger
	quarantined int
}

// quarantine moves the damaged range d of lp aside (see
// quarantineRange), counts and logs it.
func (r *recoverer) quarantine(lp *logPlan, d span) error {
	path, err := quarantineRange(r.fsys, r.dir, lp.name, d)
	if err != nil {
		return err
	}
	r.quarantined++
	r.log.Warn("spool: moved a damaged range aside",
		"dir", r.dir, "name", lp.name, "offset", d.from, "bytes", d.to-d.from, "quarantine", path)
	return nil
}

// rewrite replaces lp's file with a fresh header followed by its valid
// frames: the damaged ranges, already quarantined, are cut out.
func (r *recoverer) rewrite(lp *logPlan, kind logKind) error {
	path := filepath.Join(r.dir, lp.name)
	tmp := path + tempExt
	src, err := r.fsys.OpenFile(path, os.O_RDONLY, 0)
	if err != nil {
		return fmt.Errorf("spool: rewrite %s: %w", lp.name, err)
	}
	defer src.Close()
	dst, err := r.fsys.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("spool: rewrite %s: %w", lp.name, err)
	}
	_, err = writeFull(dst, logHeader(kind, lp.base))
	for _, k := range lp.keep {
		if err != nil {
			break
		}
		_, err = io.Copy(dst, io.NewSectionReader(src, k.from, k.to-k.from))
	}
	if err == nil {
		err = dst.Sync()
	}
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = r.fsys.Rename(tmp, path)
	}
	if err == nil {
		err = r.fsys.SyncDir(r.dir)
	}
	if err != nil {
		return fmt.Errorf("spool: rewrite %s: %w", lp.name, err)
	}
	return nil
}

func (r *recoverer) truncate(name string, size int64) error {
	f, err := r.fsys.OpenFile(filepath.Join(r.dir, name), os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("spool: truncate %s: %w", name, err)
	}
	err = f.Truncate(size)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("spool: truncate %s: %w", name, err)
	}
	return nil
}

func (r *recoverer) remove(name string) error {
	err := r.fsys.Remove(filepath.Join(r.dir, name))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("spool: remove %s: %w", name, err)
	}
	return nil
}
