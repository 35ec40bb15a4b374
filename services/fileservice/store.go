package fileservice

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
)

// ErrContentNotFound is returned by ContentStore.Get for an unknown id.
var ErrContentNotFound = errors.New("fileservice: content not found")

// ErrContentConflict is returned by ContentStore.Put when the id already
// holds different bytes. Content ids are derived from the content hash, so
// this means a broken store or a hash collision.
var ErrContentConflict = errors.New("fileservice: content id already holds different content")

// ContentStore keeps essay texts by content id. Put is idempotent: putting
// the same bytes under the same id again is a no-op, so a repeated upload
// is harmless.
type ContentStore interface {
	// Put stores content under id, in the transaction ctx carries when
	// it carries one (see Transact).
	Put(ctx context.Context, id string, content []byte) error
	// Get returns the content stored under id, or an error wrapping
	// ErrContentNotFound.
	Get(ctx context.Context, id string) ([]byte, error)
	// Transact runs fn so that what fn stores and publishes with the ctx
	// it is given commits together, or not at all: SQLContentStore runs
	// it in a database transaction, whose events wait in the outbox until
	// it commits. MemoryContentStore runs fn as it is: its Puts stay even
	// when fn fails later, which is harmless, since contents are
	// addressed by their hash and referenced only by events.
	Transact(ctx context.Context, fn func(ctx context.Context) error) error
}

// MemoryContentStore is the in-memory ContentStore, for tests: it lives as
// long as the process. It is safe for concurrent use.
type MemoryContentStore struct {
	mu       sync.RWMutex
	contents map[string][]byte
}

// NewMemoryContentStore returns an empty store.
func NewMemoryContentStore() *MemoryContentStore {
	return &MemoryContentStore{contents: make(map[string][]byte)}
}

// Put stores a copy of content under id.
func (m *MemoryContentStore) Put(_ context.Context, id string, content []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if old, ok := m.contents[id]; ok {
		if !bytes.Equal(old, content) {
			return fmt.Errorf("%w: %s", ErrContentConflict, id)
		}
		return nil
	}
	m.contents[id] = bytes.Clone(content)
	return nil
}

// Transact runs fn; see ContentStore.
func (m *MemoryContentStore) Transact(ctx context.Context, fn func(context.Context) error) error {
	return fn(ctx)
}

// Get returns the content stored under id. The slice is shared: callers
// must not modify it.
func (m *MemoryContentStore) Get(_ context.Context, id string) ([]byte, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	c, ok := m.contents[id]
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrContentNotFound, id)
	}
	return c, nil
}

// Len returns the number of stored contents.
func (m *MemoryContentStore) Len() int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return len(m.contents)
}
