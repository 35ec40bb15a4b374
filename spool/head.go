package spool

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sync"
)

// headFile is the head file of an open spool and the state last written
// to it. mu guards both, and is held by whatever moves the head (Ack,
// DeadLetter, the removal of dead letters, Purge; Close waits for it)
// from planning the move to applying it in memory, so that the head on
// disk, the head in memory and the reader's position change together,
// one move at a time, while Peek goes on.
type headFile struct {
	mu    sync.Mutex
	state headState   // as last written to the file
	w     *headWriter // updates the file in place; nil once closed
}

// create replaces dir's head file atomically with one holding h (see
// writeHead) and opens it for updates in place.
func (f *headFile) create(fsys FS, dir string, h headState) error {
	if err := writeHead(fsys, dir, h); err != nil {
		return err
	}
	hw, err := openHeadWriter(fsys, dir)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.state, f.w = h, hw
	return nil
}

// writeLocked applies change to the head state and writes it to the
// file, in place. The state in memory changes only if the write
// succeeded. mu is held.
func (f *headFile) writeLocked(change func(*headState)) error {
	if f.w == nil {
		return ErrClosed
	}
	h := f.state
	change(&h)
	h.gen = f.state.gen + 1
	if err := f.w.write(h); err != nil {
		return err
	}
	f.state = h
	return nil
}

// closeLocked closes the file. mu is held.
func (f *headFile) closeLocked() error {
	if f.w == nil {
		return nil
	}
	err := f.w.close()
	f.w = nil
	return err
}

// headState is what the head file records: how far the queue and the
// dead-letter log have been consumed.
type headState struct {
	// acked: every record with seq <= acked is acknowledged.
	acked uint64
	// segBase and off locate the first unacknowledged record (a hint that
	// recovery verifies before trusting: the frame there must carry seq
	// acked+1). segBase 0: no hint.
	segBase uint64
	off     int64
	// deadFirst: dead letters with id < deadFirst were removed.
	deadFirst uint64
	// next is a floor for the next seq. It keeps seqs from being handed
	// out twice when the records that carried them are gone from the
	// segments (quarantined).
	next uint64
	// gen counts the head file's writes: the newer of its two slots is the
	// one with the higher gen, and a write goes to slot gen%2.
	gen uint64
}

// Head file layout: two slots of headSlotSize bytes, slot i holding a
// state whose generation is i modulo 2 (or all zeros: never written). An
// update overwrites the older slot in place and fsyncs the file, so a
// crash in the middle leaves the newer one intact; the valid slot with
// the higher generation is the head. A slot (64 of its 4096 bytes used,
// the rest zero):
//
//	0   4  magic "HHED"
//	4   1  format version (2)
//	5   3  zero
//	8   8  generation (>= 1)
//	16  8  acked seq
//	24  8  head segment base (0: none)
//	32  8  head offset in that segment
//	40  8  first dead-letter id not yet removed
//	48  8  floor of the next seq
//	56  4  CRC32C of bytes 0..55
//	60  4  zero
//
// A slot is a page and a file-system block of its own, so writing one
// never rewrites the other's block: a torn or failed write of one leaves
// the other as it was. Version 1 head files (a single 52-byte record, replaced
// atomically) are still read; the first open rewrites them as version 2.
const (
	headSlotSize  = 4096
	headSlotUsed  = 64
	headFileSize  = 2 * headSlotSize
	headFormatV2  = 2
	headV1Size    = 52
	headV1CRCFrom = 48
)

var headMagic = [4]byte{'H', 'H', 'E', 'D'}

// encodeSlot returns the slot h is written as (headSlotUsed bytes).
func (h headState) encodeSlot() []byte {
	b := make([]byte, headSlotUsed)
	copy(b, headMagic[:])
	b[4] = headFormatV2
	binary.LittleEndian.PutUint64(b[8:], h.gen)
	binary.LittleEndian.PutUint64(b[16:], h.acked)
	binary.LittleEndian.PutUint64(b[24:], h.segBase)
	binary.LittleEndian.PutUint64(b[32:], uint64(h.off))
	binary.LittleEndian.PutUint64(b[40:], h.deadFirst)
	binary.LittleEndian.PutUint64(b[48:], h.next)
	binary.LittleEndian.PutUint32(b[56:], crc32.Checksum(b[:56], castagnoli))
	return b
}

// encode returns a whole head file holding h, in slot h.gen%2, the other
// slot empty.
func (h headState) encode() []byte {
	b := make([]byte, headFileSize)
	copy(b[h.slot():], h.encodeSlot())
	return b
}

// slot is the offset of the slot h is written to.
func (h headState) slot() int64 { return int64(h.gen%2) * headSlotSize }

// errHeadSlotEmpty marks a slot that was never written.
var errHeadSlotEmpty = errors.New("head slot is empty")

// decodeSlot decodes the slot at index i (0 or 1) of a head file.
func decodeSlot(b []byte, i int) (headState, error) {
	if len(b) != headSlotSize {
		return headState{}, fmt.Errorf("head slot is %d bytes, want %d", len(b), headSlotSize)
	}
	if allZero(b) {
		return headState{}, errHeadSlotEmpty
	}
	if [4]byte(b[:4]) != headMagic || b[4] != headFormatV2 || b[5]|b[6]|b[7] != 0 || !allZero(b[56+4:]) {
		return headState{}, errors.New("head slot has a bad magic, version or padding")
	}
	if crc32.Checksum(b[:56], castagnoli) != binary.LittleEndian.Uint32(b[56:]) {
		return headState{}, errors.New("head slot checksum mismatch")
	}
	h := headState{
		gen:       binary.LittleEndian.Uint64(b[8:]),
		acked:     binary.LittleEndian.Uint64(b[16:]),
		segBase:   binary.LittleEndian.Uint64(b[24:]),
		off:       int64(binary.LittleEndian.Uint64(b[32:])),
		deadFirst: binary.LittleEndian.Uint64(b[40:]),
		next:      binary.LittleEndian.Uint64(b[48:]),
	}
	switch {
	case h.gen == 0 || h.gen%2 != uint64(i):
		return headState{}, fmt.Errorf("head slot %d holds generation %d", i, h.gen)
	case h.off < 0:
		return headState{}, errors.New("head slot offset out of range")
	}
	return h, nil
}

// decodeHead decodes a head file: the newer valid slot of a version 2
// file, or a version 1 file. One damaged slot beside a valid one is what
// a crash during an update leaves: the valid one is the head.
func decodeHead(b []byte) (headState, error) {
	if len(b) == headV1Size {
		return decodeHeadV1(b)
	}
	if len(b) != headFileSize {
		return headState{}, fmt.Errorf("head file is %d bytes, want %d", len(b), headFileSize)
	}
	h0, err0 := decodeSlot(b[:headSlotSize], 0)
	h1, err1 := decodeSlot(b[headSlotSize:], 1)
	switch {
	case err0 == nil && (err1 != nil || h0.gen > h1.gen):
		return h0, nil
	case err1 == nil:
		return h1, nil
	}
	return headState{}, fmt.Errorf("no valid slot: %w; %w", err0, err1)
}

// decodeHeadV1 decodes a version 1 head file: magic, version 1, three
// zero bytes, then acked, segment base, offset, first dead-letter id and
// next-seq floor (8 bytes each), then the CRC32C of bytes 0..47.
func decodeHeadV1(b []byte) (headState, error) {
	if [4]byte(b[:4]) != headMagic || b[4] != logFormatV1 || b[5]|b[6]|b[7] != 0 {
		return headState{}, errors.New("head file has a bad magic or version")
	}
	if crc32.Checksum(b[:headV1CRCFrom], castagnoli) != binary.LittleEndian.Uint32(b[headV1CRCFrom:]) {
		return headState{}, errors.New("head file checksum mismatch")
	}
	h := headState{
		acked:     binary.LittleEndian.Uint64(b[8:]),
		segBase:   binary.LittleEndian.Uint64(b[16:]),
		off:       int64(binary.LittleEndian.Uint64(b[24:])),
		deadFirst: binary.LittleEndian.Uint64(b[32:]),
		next:      binary.LittleEndian.Uint64(b[40:]),
	}
	if h.off < 0 {
		return headState{}, errors.New("head file offset out of range")
	}
	return h, nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// headStatus says what recovery found in the head file.
type headStatus int

const (
	headOK headStatus = iota
	headMissing
	headCorrupt
)

func (s headStatus) String() string {
	switch s {
	case headOK:
		return "ok"
	case headMissing:
		return "missing"
	}
	return "corrupt"
}

// readHead reads the head file of dir. A missing or damaged file is not an
// error: it is reported as a status, with a zero state, and recovery
// replays from the oldest segment (duplicates, never loss). err is only
// for failures to read an existing file.
func readHead(fsys FS, dir string) (headState, headStatus, error) {
	f, err := fsys.OpenFile(filepath.Join(dir, headFileName), os.O_RDONLY, 0)
	if errors.Is(err, os.ErrNotExist) {
		return headState{}, headMissing, nil
	}
	if err != nil {
		return headState{}, 0, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, headFileSize+1))
	if err != nil {
		return headState{}, 0, err
	}
	h, err := decodeHead(b)
	if err != nil {
		return headState{}, headCorrupt, nil
	}
	return h, headOK, nil
}

// writeHead replaces the head file atomically with one holding h: write
// a temporary file, fsync it, rename it over the old one, fsync the
// directory. A crash leaves either the old or the new file, never a mix.
// Open does this once; updates go through headWriter.
func writeHead(fsys FS, dir string, h headState) error {
	tmp := filepath.Join(dir, headFileName+tempExt)
	f, err := fsys.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("spool: write head: %w", err)
	}
	_, err = writeFull(f, h.encode())
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = fsys.Rename(tmp, filepath.Join(dir, headFileName))
	}
	if err == nil {
		err = fsys.SyncDir(dir)
	}
	if err != nil {
		return fmt.Errorf("spool: write head: %w", err)
	}
	return nil
}

// headWriter updates a head file in place: each write overwrites the
// slot of its generation, the older one, and fsyncs. One write and one
// fsync of a file whose size never changes, where replacing the file
// takes a create, a rename and two fsyncs: several times less time and
// CPU per Ack.
type headWriter struct {
	f File
}

// openHeadWriter opens dir's head file, which writeHead has just written,
// for updates.
func openHeadWriter(fsys FS, dir string) (*headWriter, error) {
	f, err := fsys.OpenFile(filepath.Join(dir, headFileName), os.O_WRONLY, 0)
	if err != nil {
		return nil, fmt.Errorf("spool: open head: %w", err)
	}
	return &headWriter{f: f}, nil
}

// write stores h, whose gen is one more than the state in the file's
// newer slot, in the other slot. After a failure the newer slot still
// holds the state before h; the slot written holds h, part of it or what
// it held before, so the next write, to the same slot, must be given the
// same gen.
func (w *headWriter) write(h headState) error {
	_, err := w.f.Seek(h.slot(), io.SeekStart)
	if err == nil {
		_, err = writeFull(w.f, h.encodeSlot())
	}
	if err == nil {
		err = w.f.Sync()
	}
	if err != nil {
		return fmt.Errorf("spool: write head: %w", err)
	}
	return nil
}

func (w *headWriter) close() error { return w.f.Close() }

// writeFull writes b, turning a short write without an error into
// io.ErrShortWrite (the FS seam may return one).
func writeFull(w io.Writer, b []byte) (int, error) {
	n, err := w.Write(b)
	if err == nil && n != len(b) {
		err = io.ErrShortWrite
	}
	return n, err
}
