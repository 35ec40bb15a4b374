package spool

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
)

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
}

// Head file layout (52 bytes):
//
//	0   4  magic "HHED"
//	4   1  format version (1)
//	5   3  zero
//	8   8  acked seq
//	16  8  head segment base (0: none)
//	24  8  head offset in that segment
//	32  8  first dead-letter id not yet removed
//	40  8  floor of the next seq
//	48  4  CRC32C of bytes 0..47
const headFileSize = 52

var headMagic = [4]byte{'H', 'H', 'E', 'D'}

func (h headState) encode() []byte {
	b := make([]byte, headFileSize)
	copy(b, headMagic[:])
	b[4] = logFormatV1
	binary.LittleEndian.PutUint64(b[8:], h.acked)
	binary.LittleEndian.PutUint64(b[16:], h.segBase)
	binary.LittleEndian.PutUint64(b[24:], uint64(h.off))
	binary.LittleEndian.PutUint64(b[32:], h.deadFirst)
	binary.LittleEndian.PutUint64(b[40:], h.next)
	binary.LittleEndian.PutUint32(b[48:], crc32.Checksum(b[:48], castagnoli))
	return b
}

func decodeHead(b []byte) (headState, error) {
	if len(b) != headFileSize {
		return headState{}, fmt.Errorf("head file is %d bytes, want %d", len(b), headFileSize)
	}
	if [4]byte(b[:4]) != headMagic || b[4] != logFormatV1 || b[5]|b[6]|b[7] != 0 {
		return headState{}, errors.New("head file has a bad magic or version")
	}
	if crc32.Checksum(b[:48], castagnoli) != binary.LittleEndian.Uint32(b[48:]) {
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

// writeHead replaces the head file atomically: write a temporary file,
// fsync it, rename it over the old one, fsync the directory. A crash
// leaves either the old or the new file, never a mix.
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

// writeFull writes b, turning a short write without an error into
// io.ErrShortWrite (the FS seam may return one).
func writeFull(w io.Writer, b []byte) (int, error) {
	n, err := w.Write(b)
	if err == nil && n != len(b) {
		err = io.ErrShortWrite
	}
	return n, err
}
