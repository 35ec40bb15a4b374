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
	entries []Entry // entries[head:] are queued, oldest first
	head    int
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
		m.entries = append(m.entries, Entry{Seq: m.nextSeq, AppendedAt: now, Record: r})
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
	queued := m.entries[m.head:]
	if len(queued) > max {
		queued = queued[:max]
	}
	return append([]Entry(nil), queued...), nil
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
	for _, e := range m.entries[m.head:] {
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
	if m.lenLocked() == 0 || m.entries[m.head].Seq != e.Seq {
		return fmt.Errorf("spool: dead-letter seq %d: not the head of the queue", e.Seq)
	}
	m.deadID++
	m.dead = append(m.dead, DeadLetter{ID: m.deadID, Entry: m.entries[m.head], Reason: reason, At: m.now()})
	m.bytes -= int64(e.Size())
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
	return append([]Entry(nil), m.entries[m.head:]...)
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
		s.OldestAt = m.entries[m.head].AppendedAt
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

func (m *Memory) lenLocked() int { return len(m.entries) - m.head }

// removeHeadLocked drops n entries from the head, compacting the backing
// array once the dead prefix outgrows the live part so memory stays bounded.
func (m *Memory) removeHeadLocked(n int) {
	if n == 0 {
		return
	}
	clear(m.entries[m.head : m.head+n]) // release record bytes to the GC
	m.head += n
	if m.head == len(m.entries) {
		m.entries, m.head = m.entries[:0], 0
	} else if m.head > len(m.entries)/2 {
		old := len(m.entries)
		m.entries = append(m.entries[:0], m.entries[m.head:]...)
		clear(m.entries[len(m.entries):old]) // the moved entries' old slots
		m.head = 0
	}
	close(m.space)
	m.space = make(chan struct{})
}

var _ Queue = (*Memory)(nil)
