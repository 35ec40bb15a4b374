package spool

import (
	"context"
	"fmt"
	"os"
	"sync"
	"time"
	"unsafe"

	"github.com/huleedu/huleedu/event"
)

// DefaultMemoryMaxRecords is the memory queue's limit when none is given:
// the original platform's KAFKA_FALLBACK_QUEUE_SIZE default.
const DefaultMemoryMaxRecords = 1000

// MemoryOptions configure NewMemory.
type MemoryOptions struct {
	// MaxRecords bounds the queue (records, not bytes). 0 means
	// DefaultMemoryMaxRecords; negative is an error.
	MaxRecords int
	// Overflow says what Append does when the queue is full (default block).
	Overflow Overflow
	// Now stamps AppendedAt; nil means time.Now.
	Now func() time.Time
}

// Memory is a bounded in-process Queue. It keeps the Queue contract except
// durability: what it holds is lost with the process, which is why
// ResilientBus.Close reports exactly how many records it still held.
//
// One mutex guards every field below it.
type Memory struct {
	maxRecords int
	overflow   Overflow
	now        func() time.Time
	notify     chan struct{}

	// spares counts the goroutines preparing a spare block (at most one);
	// Close waits for them.
	spares sync.WaitGroup

	mu        sync.Mutex
	entries   deque // queued entries, oldest first
	bytes     int64
	nextSeq   uint64
	space     chan struct{} // closed and replaced whenever room is freed
	closed    bool
	preparing bool // a goroutine is preparing a spare block
	dead      []DeadLetter
	deadID    uint64
}

// NewMemory returns an empty memory queue.
func NewMemory(opts MemoryOptions) (*Memory, error) {
	if opts.MaxRecords < 0 {
		return nil, fmt.Errorf("spool: MemoryOptions.MaxRecords = %d: must be >= 0 (0 means %d)", opts.MaxRecords, DefaultMemoryMaxRecords)
	}
	if opts.Overflow != OverflowBlock && opts.Overflow != OverflowReject {
		return nil, fmt.Errorf("spool: MemoryOptions.Overflow = %d: must be OverflowBlock or OverflowReject", int(opts.Overflow))
	}
	if opts.MaxRecords == 0 {
		opts.MaxRecords = DefaultMemoryMaxRecords
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	m := &Memory{
		maxRecords: opts.MaxRecords,
		overflow:   opts.Overflow,
		now:        opts.Now,
		notify:     make(chan struct{}, 1),
		nextSeq:    1,
		space:      make(chan struct{}),
	}
	m.entries.blockLen = min(opts.MaxRecords, maxBlockLen)
	m.entries.spares = append(m.entries.spares, touchedBlock(m.entries.blockLen))
	return m, nil
}

// Append implements Queue. All of recs are stored, or none.
func (m *Memory) Append(ctx context.Context, recs ...event.Record) error {
	if len(recs) == 0 {
		return nil
	}
	if len(recs) > m.maxRecords {
		return m.errTooLarge(len(recs))
	}
	m.mu.Lock()
	if m.closed || m.lenLocked()+len(recs) > m.maxRecords {
		if err := m.waitForRoomLocked(ctx, len(recs)); err != nil {
			return err
		}
	}
	now := m.now()
	for i := range recs {
		e := m.entries.pushSlot() // filled field by field: no Entry-sized temporary
		e.Seq, e.AppendedAt, e.Record = m.nextSeq, now, recs[i]
		m.nextSeq++
		m.bytes += int64(recs[i].Size())
	}
	prepare := len(m.entries.spares) == 0 && !m.preparing
	if prepare {
		m.preparing = true
		m.spares.Add(1) // under the lock: before a Close can Wait
	}
	m.mu.Unlock()
	if prepare {
		go m.prepareSpare()
	}
	select {
	case m.notify <- struct{}{}:
	default:
	}
	return nil
}

// The slow paths of Append live in functions of their own, so that
// Append's frame stays small (a publisher's stack may be a fresh
// goroutine's few kilobytes).

func (m *Memory) errTooLarge(n int) error {
	return fmt.Errorf("%w: %d records in one append, limit is %d", ErrTooLarge, n, m.maxRecords)
}

// waitForRoomLocked returns with m.mu held once n more records fit, or
// with it released and the reason they will not: the queue closed, it is
// full under OverflowReject, or ctx ended while waiting under
// OverflowBlock.
func (m *Memory) waitForRoomLocked(ctx context.Context, n int) error {
	for {
		if m.closed {
			m.mu.Unlock()
			return ErrClosed
		}
		if m.lenLocked()+n <= m.maxRecords {
			return nil
		}
		if m.overflow == OverflowReject {
			queued := m.lenLocked()
			m.mu.Unlock()
			return fmt.Errorf("%w: %d of %d records queued", ErrFull, queued, m.maxRecords)
		}
		space := m.space
		m.mu.Unlock()
		select {
		case <-space:
		case <-ctx.Done():
			return fmt.Errorf("%w while waiting for room: %w", ErrFull, ctx.Err())
		}
		m.mu.Lock()
	}
}

// prepareSpare gives the queue a spare block, touched outside the lock,
// so that the appender that fills the current block finds the next one
// ready, instead of faulting its pages in one by one while every other
// publisher waits for the lock.
func (m *Memory) prepareSpare() {
	defer m.spares.Done()
	b := touchedBlock(m.entries.blockLen)
	m.mu.Lock()
	m.preparing = false
	if !m.closed && len(m.entries.spares) < maxSpares {
		m.entries.spares = append(m.entries.spares, b)
	}
	m.mu.Unlock()
}

// Peek implements Queue.
func (m *Memory) Peek(ctx context.Context, max int) ([]Entry, error) {
	return m.PeekAfter(ctx, 0, max) // seqs start at 1
}

// PeekAfter implements ReadAhead.
func (m *Memory) PeekAfter(ctx context.Context, after uint64, max int) ([]Entry, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if max <= 0 {
		return nil, fmt.Errorf("spool: Peek max = %d: must be > 0", max)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, ErrClosed
	}
	// Seqs are consecutive from the head: entry i has Seq head+i.
	skip := 0
	if n := m.entries.len(); n > 0 {
		if head := m.entries.at(0).Seq; after >= head {
			skip = int(min(after-head+1, uint64(n)))
		}
	}
	return m.entries.copyRange(skip, max), nil
}

// Ack implements Queue.
func (m *Memory) Ack(seq uint64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	if seq >= m.nextSeq {
		return fmt.Errorf("spool: ack %d past the tail (last seq %d)", seq, m.nextSeq-1)
	}
	n := 0
	for n < m.entries.len() {
		e := m.entries.at(n)
		if e.Seq > seq {
			break
		}
		m.bytes -= int64(e.Size())
		n++
	}
	m.removeHeadLocked(n)
	return nil
}

// DeadLetter implements Queue.
func (m *Memory) DeadLetter(e Entry, reason string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	if m.lenLocked() == 0 || m.entries.at(0).Seq != e.Seq {
		return fmt.Errorf("spool: dead-letter seq %d: not the head of the queue", e.Seq)
	}
	head := *m.entries.at(0) // not e: the caller may have changed its copy
	m.deadID++
	m.dead = append(m.dead, DeadLetter{ID: m.deadID, Entry: head, Reason: reason, At: m.now()})
	m.bytes -= int64(head.Size())
	m.removeHeadLocked(1)
	return nil
}

// DeadLetters returns a copy of the dead-letter store, oldest first.
func (m *Memory) DeadLetters() []DeadLetter {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]DeadLetter(nil), m.dead...)
}

// Remaining returns a copy of the entries still queued, oldest first. Unlike
// Peek it also works after Close, so the owner of a closed memory queue can
// report exactly what was never delivered.
func (m *Memory) Remaining() []Entry {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.entries.copyRange(0, m.entries.len())
}

// Stats implements Queue.
func (m *Memory) Stats() Stats {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := Stats{
		Records:     int64(m.lenLocked()),
		Bytes:       m.bytes,
		MaxRecords:  int64(m.maxRecords),
		DeadLetters: int64(len(m.dead)),
	}
	if s.Records > 0 {
		s.OldestAt = m.entries.at(0).AppendedAt
	}
	return s
}

// Notify implements Queue.
func (m *Memory) Notify() <-chan struct{} { return m.notify }

// Close implements Queue. The queued records are discarded with the queue:
// read Stats first to know how many.
func (m *Memory) Close() error {
	m.mu.Lock()
	if !m.closed {
		m.closed = true
		close(m.space) // wake blocked appenders so they see closed
	}
	m.mu.Unlock()
	m.spares.Wait()
	return nil
}

func (m *Memory) lenLocked() int { return m.entries.len() }

// removeHeadLocked drops n entries from the head and wakes appenders
// waiting for room.
func (m *Memory) removeHeadLocked(n int) {
	if n == 0 {
		return
	}
	m.entries.popFront(n)
	close(m.space)
	m.space = make(chan struct{})
}

// maxBlockLen is the number of entries in one block of a deque (fewer
// when the queue holds fewer), and maxSpares how many empty blocks it
// keeps for reuse.
const (
	maxBlockLen = 512
	maxSpares   = 4
)

// deque is a FIFO of entries stored in fixed-size blocks. Appending never
// copies the entries already queued (a growing slice would, under the
// queue's lock, stalling every publisher behind it). Blocks emptied at the
// head are kept as spares, up to maxSpares, and reused at the tail, so a
// queue that fills and drains allocates nothing once warm; the rest go to
// the garbage collector.
type deque struct {
	blocks   [][]Entry // blocks[first:] hold the entries; each of capacity blockLen
	first    int       // index in blocks of the front block
	head     int       // index of the front entry in blocks[first]
	n        int       // entries queued
	blockLen int
	spares   [][]Entry // empty blocks of capacity blockLen, ready for push
}

func (d *deque) len() int { return d.n }

// pushSlot adds an entry at the tail and returns it for the caller to
// fill in.
func (d *deque) pushSlot() *Entry {
	last := len(d.blocks) - 1
	if last < d.first || len(d.blocks[last]) == d.blockLen {
		d.blocks = append(d.blocks, d.newBlock())
		last++
	}
	b := d.blocks[last]
	d.blocks[last] = b[:len(b)+1]
	d.n++
	return &d.blocks[last][len(b)]
}

// newBlock returns a spare if there is one, else a fresh block.
func (d *deque) newBlock() []Entry {
	if k := len(d.spares); k > 0 {
		b := d.spares[k-1]
		d.spares[k-1] = nil
		d.spares = d.spares[:k-1]
		return b
	}
	return make([]Entry, 0, d.blockLen)
}

// at returns the i-th entry from the front.
func (d *deque) at(i int) *Entry {
	i += d.head
	return &d.blocks[d.first+i/d.blockLen][i%d.blockLen]
}

// copyRange returns a copy of up to max entries from the from-th on.
func (d *deque) copyRange(from, max int) []Entry {
	out := make([]Entry, 0, min(max, d.n-from))
	for i := from; i < d.n && len(out) < max; i++ {
		out = append(out, *d.at(i))
	}
	return out
}

func (d *deque) popFront(n int) {
	for n > 0 {
		b := d.blocks[d.first]
		k := min(n, len(b)-d.head)
		clear(b[d.head : d.head+k]) // release the records' bytes
		d.head += k
		d.n -= k
		n -= k
		if d.head == d.blockLen || d.n == 0 {
			d.recycle(b)
			d.blocks[d.first] = nil
			d.first++
			d.head = 0
		}
	}
	switch {
	case d.n == 0:
		d.blocks, d.first = d.blocks[:0], 0
	case d.first > len(d.blocks)/2:
		// Move the live blocks to the front, so the array of blocks is
		// reused rather than regrown: amortized O(1) per block.
		k := copy(d.blocks, d.blocks[d.first:])
		clear(d.blocks[k:])
		d.blocks, d.first = d.blocks[:k], 0
	}
}

// recycle keeps the emptied block b (every entry in it cleared) as a spare
// if there is room for one.
func (d *deque) recycle(b []Entry) {
	if len(d.spares) < maxSpares {
		d.spares = append(d.spares, b[:0])
	}
}

// touchedBlock returns an empty block of capacity n whose memory has been
// written. Fresh memory from the operating system is mapped on first write,
// a page fault per page (tens of microseconds on a virtual machine); a
// block filled by publishers would take those faults inside Append, with
// the queue's lock held.
func touchedBlock(n int) []Entry {
	b := make([]Entry, n)
	step := max(1, os.Getpagesize()/int(unsafe.Sizeof(Entry{})))
	for i := 0; i < n; i += step {
		b[i].Seq = 1 // a write the compiler cannot drop
	}
	clear(b)
	return b[:0]
}

var (
	_ Queue     = (*Memory)(nil)
	_ ReadAhead = (*Memory)(nil)
)
