package batchorchestrator

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// ErrBatchNotFound is wrapped by repository errors for an unknown batch id.
var ErrBatchNotFound = errors.New("batchorchestrator: batch not found")

// ErrBatchExists is wrapped by BatchRepository.Create errors for a batch id
// that is taken.
var ErrBatchExists = errors.New("batchorchestrator: batch already exists")

// BatchRepository stores batches.
//
// Update is the only way event handlers change a batch: it runs fn on a
// copy of the batch while no other Update of the same batch runs, and
// stores the copy only if fn reports a change and no error. fn may publish
// events: if a publish fails, fn returns the error, nothing is stored, and
// the retried handler finds the batch as it was (a database-backed
// implementation runs fn in a transaction holding the row lock, and would
// publish through an outbox table).
type BatchRepository interface {
	// Create stores a new batch; an id that is taken is ErrBatchExists.
	Create(ctx context.Context, b Batch) error
	// Get returns a copy of the batch, or ErrBatchNotFound.
	Get(ctx context.Context, id string) (Batch, error)
	// Update runs fn as described above; an unknown id is
	// ErrBatchNotFound.
	Update(ctx context.Context, id string, fn func(b *Batch) (changed bool, err error)) error
	// Delete removes a batch (a registration whose event was not
	// accepted); an unknown id is ErrBatchNotFound.
	Delete(ctx context.Context, id string) error
}

// MemoryBatchRepository is the in-memory BatchRepository: batches live as
// long as the process. Updates of one batch are serialised by a lock of
// that batch, so different batches progress in parallel. It is safe for
// concurrent use.
type MemoryBatchRepository struct {
	mu      sync.Mutex // guards batches
	batches map[string]*batchEntry
}

// batchEntry holds one batch; mu serialises its updates and guards b and
// deleted.
type batchEntry struct {
	mu      sync.Mutex
	b       Batch
	deleted bool
}

// NewMemoryBatchRepository returns an empty repository.
func NewMemoryBatchRepository() *MemoryBatchRepository {
	return &MemoryBatchRepository{batches: map[string]*batchEntry{}}
}

func (m *MemoryBatchRepository) entry(id string) (*batchEntry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.batches[id]
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrBatchNotFound, id)
	}
	return e, nil
}

// Create implements BatchRepository.
func (m *MemoryBatchRepository) Create(_ context.Context, b Batch) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.batches[b.BatchID]; ok {
		return fmt.Errorf("%w: %s", ErrBatchExists, b.BatchID)
	}
	m.batches[b.BatchID] = &batchEntry{b: b.Clone()}
	return nil
}

// Get implements BatchRepository.
func (m *MemoryBatchRepository) Get(_ context.Context, id string) (Batch, error) {
	e, err := m.entry(id)
	if err != nil {
		return Batch{}, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.deleted {
		return Batch{}, fmt.Errorf("%w: %s", ErrBatchNotFound, id)
	}
	return e.b.Clone(), nil
}

// Update implements BatchRepository.
func (m *MemoryBatchRepository) Update(_ context.Context, id string, fn func(*Batch) (bool, error)) error {
	e, err := m.entry(id)
	if err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.deleted {
		return fmt.Errorf("%w: %s", ErrBatchNotFound, id)
	}
	b := e.b.Clone()
	changed, err := fn(&b)
	if err != nil {
		return err
	}
	if changed {
		e.b = b
	}
	return nil
}

// Delete implements BatchRepository.
func (m *MemoryBatchRepository) Delete(_ context.Context, id string) error {
	m.mu.Lock()
	e, ok := m.batches[id]
	delete(m.batches, id)
	m.mu.Unlock()
	if !ok {
		return fmt.Errorf("%w: %s", ErrBatchNotFound, id)
	}
	e.mu.Lock()
	e.deleted = true
	e.mu.Unlock()
	return nil
}
