package spool

import (
	"encoding/binary"
	"errors"
	"io"
)

// scanWindow is how much of a file a frameScanner reads at once.
const scanWindow = 256 << 10

// frameScanner walks the frames of one log file, telling valid frames from
// damaged ranges. A frame is valid when its length is in range, its CRC
// matches, its payload is well formed, has the log's payload kind and an
// ordinal in [lo, hi) greater than the previous valid frame's. After
// damage the scanner resynchronises on the next offset where a valid frame
// starts. It reads through a fixed window, so memory stays bounded
// whatever the file size.
type frameScanner struct {
	r      io.ReaderAt
	size   int64
	kind   logKind
	lo, hi uint64 // acceptable ordinals of the next frame: [lo, hi)

	win    []byte // file bytes [winOff, winOff+len(win))
	winOff int64
	big    []byte // frames longer than the window are read here
}

// scanItem is one step of a scan: a valid frame or a damaged range.
type scanItem struct {
	off     int64
	n       int64  // frame length, or damaged range length
	ord     uint64 // valid frames: the payload's ordinal
	payload []byte // valid frames: valid until the next step
	damaged bool
	tail    bool // damaged range that runs to the end of the file
	torn    bool // damaged tail that looks like an interrupted write
}

func newFrameScanner(r io.ReaderAt, size int64, kind logKind, lo, hi uint64) *frameScanner {
	return &frameScanner{r: r, size: size, kind: kind, lo: lo, hi: hi}
}

// scan walks the file from off to its end, calling fn for every step.
func (s *frameScanner) scan(off int64, fn func(scanItem) error) error {
	for off < s.size {
		payload, n, ord, err := s.frameAt(off)
		if err != nil {
			return err
		}
		if payload != nil {
			s.lo = ord + 1
			if err := fn(scanItem{off: off, n: n, ord: ord, payload: payload}); err != nil {
				return err
			}
			off += n
			continue
		}
		next, err := s.resync(off + 1)
		if err != nil {
			return err
		}
		if next < 0 {
			torn, err := s.looksTorn(off)
			if err != nil {
				return err
			}
			return fn(scanItem{off: off, n: s.size - off, damaged: true, tail: true, torn: torn})
		}
		if err := fn(scanItem{off: off, n: next - off, damaged: true}); err != nil {
			return err
		}
		off = next
	}
	return nil
}

// frameAt returns the valid frame at off, or a nil payload when there is
// none. err is only for read failures.
func (s *frameScanner) frameAt(off int64) (payload []byte, n int64, ord uint64, err error) {
	if s.size-off < frameHeaderSize+payloadPrefixSize {
		return nil, 0, 0, nil
	}
	head, err := s.bytes(off, frameHeaderSize+payloadPrefixSize)
	if err != nil {
		return nil, 0, 0, err
	}
	size := int64(binary.LittleEndian.Uint32(head))
	n = frameHeaderSize + size
	if size < payloadPrefixSize || size > maxPayloadSize || n > s.size-off {
		return nil, 0, 0, nil
	}
	kind, ord, _ := payloadOrdinal(head[frameHeaderSize:])
	if kind != s.kind.payload || ord < s.lo || ord >= s.hi {
		return nil, 0, 0, nil
	}
	frame, err := s.bytes(off, n)
	if err != nil {
		return nil, 0, 0, err
	}
	payload, _, perr := parseFrame(frame)
	if perr != nil || s.kind.check(payload) != nil {
		return nil, 0, 0, nil
	}
	return payload, n, ord, nil
}

// resync returns the first offset at or after from where a valid frame
// starts, or -1.
func (s *frameScanner) resync(from int64) (int64, error) {
	for off := from; s.size-off >= frameHeaderSize+payloadPrefixSize; off++ {
		payload, _, _, err := s.frameAt(off)
		if err != nil {
			return 0, err
		}
		if payload != nil {
			return off, nil
		}
	}
	return -1, nil
}

// looksTorn reports whether the damaged tail at off looks like a write the
// process did not finish (a crash while appending), as opposed to bytes
// that were damaged after they were written: a frame header cut short, a
// frame whose declared length runs past the end of the file, or zeros.
func (s *frameScanner) looksTorn(off int64) (bool, error) {
	if s.size-off < frameHeaderSize {
		return true, nil
	}
	head, err := s.bytes(off, frameHeaderSize)
	if err != nil {
		return false, err
	}
	size := int64(binary.LittleEndian.Uint32(head))
	if size >= payloadPrefixSize && size <= maxPayloadSize && frameHeaderSize+size > s.size-off {
		return true, nil
	}
	for pos := off; pos < s.size; {
		n := min(s.size-pos, scanWindow)
		b, err := s.bytes(pos, n)
		if err != nil {
			return false, err
		}
		for _, c := range b {
			if c != 0 {
				return false, nil
			}
		}
		pos += n
	}
	return true, nil
}

// bytes returns the file's bytes [off, off+n), which must lie inside the
// file. The slice is valid until the next call.
func (s *frameScanner) bytes(off int64, n int64) ([]byte, error) {
	if off >= s.winOff && off+n <= s.winOff+int64(len(s.win)) {
		return s.win[off-s.winOff : off-s.winOff+n], nil
	}
	if n > scanWindow {
		if int64(cap(s.big)) < n {
			s.big = make([]byte, n)
		}
		b := s.big[:n]
		if err := readFullAt(s.r, b, off); err != nil {
			return nil, err
		}
		return b, nil
	}
	if s.win == nil {
		s.win = make([]byte, scanWindow)
	}
	s.win = s.win[:min(int64(scanWindow), s.size-off)]
	s.winOff = off
	if err := readFullAt(s.r, s.win, off); err != nil {
		s.win = s.win[:0]
		return nil, err
	}
	return s.win[:n], nil
}

// readFullAt fills b from r at off; a file shorter than expected (changed
// underneath) is an io.ErrUnexpectedEOF.
func readFullAt(r io.ReaderAt, b []byte, off int64) error {
	n, err := r.ReadAt(b, off)
	if n == len(b) {
		return nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return err
}
