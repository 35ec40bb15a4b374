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
// Create and Update are the only ways a batch comes to be and changes:
// fn runs while no other change of the same batch runs, with a ctx that
// carries the change's transaction, and may publish with that ctx. If fn
// (or a publish in it) fails, nothing is stored, and the retried request
// or event finds the batch as it was and publishes the same deterministic
// event ids. SQLBatchRepository runs fn in a transaction holding the
// batch's row lock, so the events fn publishes go into the outbox in the
// same commit as the change (and the consumer's processed-events mark
// too, when an event handler's transaction is in ctx: the change joins
// it).
type BatchRepository interface {
	// Create stores a new batch and runs fn in the same transaction:
	// the batch exists exactly when fn succeeded. An id that is taken is
	// ErrBatchExists, and fn does not run.
	Create(ctx context.Context, b Batch, fn func(ctx context.Context) error) error
	// Get returns a copy of the batch, or ErrBatchNotFound.
	Get(ctx context.Context, id string) (Batch, error)
	// Update runs fn on a copy of the batch and stores the copy only if
	// fn reports a change and no error; an unknown id is
	// ErrBatchNotFound.
	Update(ctx context.Context, id string, fn func(ctx context.Context, b *Batch) (changed bool, err error)) error
}

// MemoryBatchRepository is the in-memory BatchRepository, for tests:
// batches live as long as the process. Updates of one batch are serialised by a lock of
// that batch, so different batches progress in parallel. It is safe for
// concurrent use.
type MemoryBatchRepository struct {
	mu      sync.Mutex // guards batches
	batches map[string]*batchEntry
}

// batchEntry holds one batch; mu serialises its changes and guards b.
type batchEntry struct {
	mu sync.Mutex
	b  Batch
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
func (m *MemoryBatchRepository) Create(ctx context.Context, b Batch, fn func(context.Context) error) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.batches[b.BatchID]; ok {
		return fmt.Errorf("%w: %s", ErrBatchExists, b.BatchID)
	}
	// Under the repository's lock, as a transaction would hold the new
	// row: no other Create of the id, nor an Update, sees it before fn
	// succeeded.
	if err := fn(ctx); err != nil {
		return err
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
	return e.b.Clone(), nil
}

// Update implements BatchRepository.
func (m *MemoryBatchRepository) Update(ctx context.Context, id string, fn func(context.Context, *Batch) (bool, error)) error {
	e, err := m.entry(id)
	if err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	b := e.b.Clone()
	changed, err := fn(ctx, &b)
	if err != nil {
		return err
	}
	if changed {
		e.b = b
	}
	return nil
}
