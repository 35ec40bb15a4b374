package kafkaconsumer

import (
	"container/list"
	"context"
	"fmt"
	"sync"
	"time"
)

// MemoryIdempotencyStore is an IdempotencyStore in process memory, bounded
// in size and age: a processed id is remembered for TTL, and when more than
// MaxEntries are remembered the oldest are forgotten. It does not survive
// a restart; redeliveries after a restart are processed again, so handlers
// should still publish with deterministic event ids (event.DeterministicID).
// It is safe for concurrent use.
type MemoryIdempotencyStore struct {
	ttl time.Duration
	max int
	now func() time.Time

	mu   sync.Mutex // guards the fields below
	done map[string]*list.Element
	// order holds processed ids oldest first (by completion); TTL is the
	// same for all, so expiry always starts at the front.
	order   *list.List
	holding map[string]chan struct{} // held ids; closed on Complete/Release
}

// doneEntry is an element of order.
type doneEntry struct {
	id string
	at time.Time
}

// MemoryIdempotencyOptions configure NewMemoryIdempotencyStore.
type MemoryIdempotencyOptions struct {
	// TTL is how long a processed id is remembered. Default 24h.
	TTL time.Duration
	// MaxEntries bounds the processed ids remembered. Default 100,000.
	MaxEntries int
	// Now is the clock (default time.Now); tests inject one.
	Now func() time.Time
}

// NewMemoryIdempotencyStore returns an empty store. Negative options are
// an error naming the option.
func NewMemoryIdempotencyStore(opts MemoryIdempotencyOptions) (*MemoryIdempotencyStore, error) {
	if opts.TTL < 0 {
		return nil, fmt.Errorf("kafkaconsumer: MemoryIdempotencyOptions.TTL = %v: must be >= 0 (0 means 24h)", opts.TTL)
	}
	if opts.MaxEntries < 0 {
		return nil, fmt.Errorf("kafkaconsumer: MemoryIdempotencyOptions.MaxEntries = %d: must be >= 0 (0 means 100000)", opts.MaxEntries)
	}
	if opts.TTL == 0 {
		opts.TTL = 24 * time.Hour
	}
	if opts.MaxEntries == 0 {
		opts.MaxEntries = 100_000
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &MemoryIdempotencyStore{
		ttl:     opts.TTL,
		max:     opts.MaxEntries,
		now:     opts.Now,
		done:    make(map[string]*list.Element),
		order:   list.New(),
		holding: make(map[string]chan struct{}),
	}, nil
}

// Acquire implements IdempotencyStore.
func (s *MemoryIdempotencyStore) Acquire(ctx context.Context, id string) (bool, error) {
	if id == "" {
		return false, ErrEmptyEventID
	}
	for {
		s.mu.Lock()
		s.expireLocked()
		if _, ok := s.done[id]; ok {
			s.mu.Unlock()
			return true, nil
		}
		wait, held := s.holding[id]
		if !held {
			s.holding[id] = make(chan struct{})
			s.mu.Unlock()
			return false, nil
		}
		s.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
			return false, fmt.Errorf("kafkaconsumer: waiting for a concurrent handler of event %s: %w", id, ctx.Err())
		}
	}
}

// Complete implements IdempotencyStore.
func (s *MemoryIdempotencyStore) Complete(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.releaseLocked(id)
	if _, ok := s.done[id]; ok {
		return
	}
	s.done[id] = s.order.PushBack(doneEntry{id: id, at: s.now()})
	for s.order.Len() > s.max {
		s.removeLocked(s.order.Front())
	}
}

// Release implements IdempotencyStore.
func (s *MemoryIdempotencyStore) Release(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.releaseLocked(id)
}

// Len returns the number of processed ids remembered now.
func (s *MemoryIdempotencyStore) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expireLocked()
	return s.order.Len()
}

func (s *MemoryIdempotencyStore) releaseLocked(id string) {
	if ch, ok := s.holding[id]; ok {
		close(ch)
		delete(s.holding, id)
	}
}

func (s *MemoryIdempotencyStore) expireLocked() {
	cutoff := s.now().Add(-s.ttl)
	for e := s.order.Front(); e != nil && !e.Value.(doneEntry).at.After(cutoff); e = s.order.Front() {
		s.removeLocked(e)
	}
}

func (s *MemoryIdempotencyStore) removeLocked(e *list.Element) {
	delete(s.done, e.Value.(doneEntry).id)
	s.order.Remove(e)
}

var _ IdempotencyStore = (*MemoryIdempotencyStore)(nil)
