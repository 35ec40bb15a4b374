package spool

import (
	"fmt"
	"os"
	"path/filepath"
)

// readBufferSize is the read cursor's buffer: Peek reads the log through
// it, so memory stays bounded whatever the backlog.
const readBufferSize = 256 << 10

// maxReadBuffers bounds the buffers the cursor keeps for reuse, in use and
// spare together (16 MiB). A drain at the default batch sizes has about 40
// in use: a few thousand records between Acks, and the batches in flight.
const maxReadBuffers = 64

// readBuffer is one of the cursor's buffers, holding bytes [off, end) of
// segment base (the off is the cursor's while it is current).
type readBuffer struct {
	b    []byte // len readBufferSize
	base uint64
	end  int64
}

// segReader is the cached read cursor of Peek and Ack: one open segment
// and a buffer of its bytes. It only ever reads below the committed end
// it is given, so it never caches bytes an in-flight group commit is
// still writing. A refill reads into another buffer, never over one whose
// bytes are not yet acknowledged: the records Peek decodes alias the bytes
// read, with no copy, and stay valid until acknowledged. Buffers whose
// every byte is acknowledged (release) are filled again, so a drain does
// not allocate, zero and fault in a fresh buffer every 256 KiB. Buffers it
// stops tracking (more than maxReadBuffers) are left to the garbage
// collector, never reused. The reader's is guarded by reader.mu; the
// read-ahead has one of its own, guarded by aheadCursor.mu.
type segReader struct {
	fsys FS
	dir  string
	f    File
	base uint64
	buf  []byte // the segment's bytes [off, off+len(buf))
	off  int64
	cur  *readBuffer // whose bytes buf is; nil when buf is not pooled

	inUse     []*readBuffer // filled, oldest first, maybe aliased by entries not yet acknowledged
	spare     []*readBuffer // every byte acknowledged: free to fill again
	allocated int           // buffers made, for tests
}

// read returns bytes [off, off+n) of segment base; off+n must not exceed
// limit, the segment's committed end. The bytes are not overwritten before
// release is given a head past them.
func (r *segReader) read(base uint64, off, n, limit int64) ([]byte, error) {
	if off+n > limit {
		return nil, fmt.Errorf("%w: %d bytes at offset %d past the committed end %d", errFrameShort, n, off, limit)
	}
	if r.f == nil || r.base != base {
		r.closeFile()
		f, err := r.fsys.OpenFile(filepath.Join(r.dir, segmentName(base)), os.O_RDONLY, 0)
		if err != nil {
			return nil, err
		}
		r.f, r.base = f, base
	}
	if off >= r.off && off+n <= r.off+int64(len(r.buf)) {
		return r.buf[off-r.off : off-r.off+n], nil
	}
	if n > readBufferSize {
		b := make([]byte, n)
		return b, readFullAt(r.f, b, off)
	}
	rb := r.take()
	rb.base, rb.end = base, off+min(readBufferSize, limit-off)
	r.buf, r.off, r.cur = rb.b[:rb.end-off], off, rb
	if err := readFullAt(r.f, r.buf, off); err != nil {
		r.buf = r.buf[:0]
		return nil, err
	}
	return r.buf[:n], nil
}

// take returns a buffer to fill, a spare one if there is one, and tracks
// it as in use.
func (r *segReader) take() *readBuffer {
	var rb *readBuffer
	if k := len(r.spare); k > 0 {
		rb = r.spare[k-1]
		r.spare[k-1] = nil
		r.spare = r.spare[:k-1]
	} else {
		rb = &readBuffer{b: make([]byte, readBufferSize)}
		r.allocated++
	}
	if len(r.inUse)+len(r.spare) >= maxReadBuffers {
		// Not acknowledged for a long while (a reader that never acks):
		// stop tracking the oldest, which the garbage collector frees once
		// nothing refers to it.
		r.inUse[0] = nil
		r.inUse = r.inUse[1:]
	}
	r.inUse = append(r.inUse, rb)
	return rb
}

// release makes spare every buffer whose bytes all precede head, the first
// unacknowledged record: no entry a caller may still use aliases them.
func (r *segReader) release(head position) {
	k := 0
	for _, rb := range r.inUse {
		if rb.base < head.base || (rb.base == head.base && rb.end <= head.off) {
			if rb == r.cur {
				r.buf, r.cur = nil, nil // never serve reads from a spare
			}
			r.spare = append(r.spare, rb)
			continue
		}
		r.inUse[k] = rb
		k++
	}
	clear(r.inUse[k:])
	r.inUse = r.inUse[:k]
}

// forget drops the open file if it is segment base (being removed).
func (r *segReader) forget(base uint64) {
	if r.base == base {
		r.closeFile()
	}
}

// closeFile closes the open segment. The buffers stay: entries not yet
// acknowledged may alias them.
func (r *segReader) closeFile() {
	if r.f != nil {
		r.f.Close()
	}
	r.f, r.base, r.buf, r.cur = nil, 0, nil, nil
}

// close closes the file and lets every buffer go to the garbage collector:
// entries still held keep theirs alive, and nothing is reused any more.
func (r *segReader) close() {
	r.closeFile()
	r.inUse, r.spare = nil, nil
}
