package kafkaconsumer

import (
	"container/list"
	"context"
	"fmt"
	"sync"
	"time"
)

// MemoryIdempotencyStore is an IdempotencyStore in process memory, bounded
// in size and age: a processed event is remembered for TTL, and when more
// than MaxEntries are remembered the oldest are forgotten. It does not
// survive a restart: redeliveries after a restart are processed again, so
// handlers should still publish with deterministic event ids
// (event.DeterministicID). It is safe for concurrent use.
type MemoryIdempotencyStore struct {
	ttl time.Duration
	max int
	now func() time.Time

	mu   sync.Mutex // guards the fields below
	done map[EventKey]*list.Element
	// order holds processed keys oldest first (by completion); TTL is the
	// same for all, so expiry always starts at the front.
	order   *list.List
	holding map[EventKey]chan struct{} // keys whose handle runs; closed when it ends
}

// doneEntry is an element of order.
type doneEntry struct {
	key EventKey
	at  time.Time
}

// MemoryIdempotencyOptions configure NewMemoryIdempotencyStore.
type MemoryIdempotencyOptions struct {
	// TTL is how long a processed event is remembered. Default 24h.
	TTL time.Duration
	// MaxEntries bounds the processed events remembered. Default 100,000.
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
		done:    make(map[EventKey]*list.Element),
		order:   list.New(),
		holding: make(map[EventKey]chan struct{}),
	}, nil
}

// Process implements IdempotencyStore: it runs handle unless key was
// processed within TTL, and remembers key when handle succeeds. A
// concurrent Process of the same key waits for this one to end. An empty
// EventID is ErrEmptyEventID.
func (s *MemoryIdempotencyStore) Process(ctx context.Context, key EventKey, handle func(context.Context) error) (bool, error) {
	if key.EventID == "" {
		return false, ErrEmptyEventID
	}
	seen, err := s.acquire(ctx, key)
	if err != nil || seen {
		return seen, err
	}
	succeeded := false
	// A handle that panics must not leave its key held: every later
	// delivery of the event would wait for it forever.
	defer func() { s.finish(key, succeeded) }()
	if err := handle(ctx); err != nil {
		return false, err
	}
	succeeded = true
	return false, nil
}

// Len returns the number of processed events remembered now.
func (s *MemoryIdempotencyStore) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expireLocked()
	return s.order.Len()
}

// acquire reserves key for a handle, or reports it processed; it waits
// while another Process holds key.
func (s *MemoryIdempotencyStore) acquire(ctx context.Context, key EventKey) (seen bool, err error) {
	for {
		s.mu.Lock()
		s.expireLocked()
		if _, ok := s.done[key]; ok {
			s.mu.Unlock()
			return true, nil
		}
		wait, held := s.holding[key]
		if !held {
			s.holding[key] = make(chan struct{})
			s.mu.Unlock()
			return false, nil
		}
		s.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
			return false, fmt.Errorf("kafkaconsumer: waiting for a concurrent handler of event %s: %w", key.EventID, ctx.Err())
		}
	}
}

// finish gives up the held key, remembering it as processed when its
// handle succeeded, and wakes those waiting for it.
func (s *MemoryIdempotencyStore) finish(key EventKey, processed bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ch, ok := s.holding[key]; ok {
		close(ch)
		delete(s.holding, key)
	}
	if !processed {
		return
	}
	if _, ok := s.done[key]; ok {
		return
	}
	s.done[key] = s.order.PushBack(doneEntry{key: key, at: s.now()})
	for s.order.Len() > s.max {
		s.removeLocked(s.order.Front())
	}
}

func (s *MemoryIdempotencyStore) expireLocked() {
	cutoff := s.now().Add(-s.ttl)
	for e := s.order.Front(); e != nil && !e.Value.(doneEntry).at.After(cutoff); e = s.order.Front() {
		s.removeLocked(e)
	}
}

func (s *MemoryIdempotencyStore) removeLocked(e *list.Element) {
	delete(s.done, e.Value.(doneEntry).key)
	s.order.Remove(e)
}
