package spool

import (
	"context"
	"fmt"
	"sync"
	"time"

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

	mu      sync.Mutex
	entries deque // queued entries, oldest first
	bytes   int64
	nextSeq uint64
	space   chan struct{} // closed and replaced whenever room is freed
	closed  bool
	dead    []DeadLetter
	deadID  uint64
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
	return &Memory{
		maxRecords: opts.MaxRecords,
		overflow:   opts.Overflow,
		now:        opts.Now,
		notify:     make(chan struct{}, 1),
		nextSeq:    1,
		space:      make(chan struct{}),
	}, nil
}

// Append implements Queue. All of recs are stored, or none.
func (m *Memory) Append(ctx context.Context, recs ...event.Record) error {
	if len(recs) == 0 {
		return nil
	}
	if len(recs) > m.maxRecords {
		return fmt.Errorf("%w: %d records in one append, limit is %d", ErrTooLarge, len(recs), m.maxRecords)
	}
	m.mu.Lock()
	for {
		if m.closed {
			m.mu.Unlock()
			return ErrClosed
		}
		if m.lenLocked()+len(recs) <= m.maxRecords {
			break
		}
		if m.overflow == OverflowReject {
			n := m.lenLocked()
			m.mu.Unlock()
			return fmt.Errorf("%w: %d of %d records queued", ErrFull, n, m.maxRecords)
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
	now := m.now()
	for _, r := range recs {
		m.entries.push(Entry{Seq: m.nextSeq, AppendedAt: now, Record: r})
		m.nextSeq++
		m.bytes += int64(r.Size())
	}
	m.mu.Unlock()
	select {
	case m.notify <- struct{}{}:
	default:
	}
	return nil
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
	defer m.mu.Unlock()
	if m.closed {
		return nil
	}
	m.closed = true
	close(m.space) // wake blocked appenders so they see closed
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

// blockLen is the number of entries in one block of a deque.
const blockLen = 512

// deque is a FIFO of entries stored in fixed-size blocks. Appending never
// copies the entries already queued (a growing slice would, under the
// queue's lock, stalling every publisher behind it), and removing from the
// head releases whole blocks to the garbage collector.
type deque struct {
	blocks [][]Entry // each of capacity blockLen; blocks[0][head:] is the front
	head   int       // index of the front entry in blocks[0]
	n      int       // entries queued
}

func (d *deque) len() int { return d.n }

func (d *deque) push(e Entry) {
	last := len(d.blocks) - 1
	if last < 0 || len(d.blocks[last]) == blockLen {
		d.blocks = append(d.blocks, make([]Entry, 0, blockLen))
		last++
	}
	d.blocks[last] = append(d.blocks[last], e)
	d.n++
}

// at returns the i-th entry from the front.
func (d *deque) at(i int) *Entry {
	i += d.head
	return &d.blocks[i/blockLen][i%blockLen]
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
		b := d.blocks[0]
		k := min(n, len(b)-d.head)
		clear(b[d.head : d.head+k]) // release the records' bytes
		d.head += k
		d.n -= k
		n -= k
		if d.head == blockLen || d.n == 0 {
			d.blocks[0] = nil
			d.blocks = d.blocks[1:]
			d.head = 0
		}
	}
	if d.n == 0 {
		d.blocks = nil
	}
}

var (
	_ Queue     = (*Memory)(nil)
	_ ReadAhead = (*Memory)(nil)
)
