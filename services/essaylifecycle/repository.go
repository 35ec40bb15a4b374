package essaylifecycle

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// ErrBatchNotFound is wrapped by repository errors for an unknown batch.
var ErrBatchNotFound = errors.New("essaylifecycle: batch not found")

// BatchRepository stores batch states.
//
// Upsert and Update are the only way handlers change a batch: fn runs on a
// copy while no other change of the same batch runs, and the copy is
// stored only if fn reports a change and no error. fn may publish, with
// the ctx it is given: when a publish fails, fn returns the error,
// nothing is stored, and the retried handler starts from the same state
// and publishes the same event ids. SQLBatchRepository runs fn in a
// transaction holding the batch's row lock, which fn's ctx carries, so
// its publishes go into the outbox in the same commit (and the
// consumer's processed-events mark too, when the handler runs in the
// consumer's transaction, which the change joins).
type BatchRepository interface {
	// Get returns a copy of the batch, or ErrBatchNotFound.
	Get(ctx context.Context, id string) (BatchState, error)
	// Upsert runs fn on the batch, creating an empty unregistered one
	// (BatchID set, nothing else) if there is none; the new batch is
	// stored only if fn changes it.
	Upsert(ctx context.Context, id string, fn func(ctx context.Context, st *BatchState) (changed bool, err error)) error
	// Update runs fn on an existing batch; an unknown id is
	// ErrBatchNotFound.
	Update(ctx context.Context, id string, fn func(ctx context.Context, st *BatchState) (changed bool, err error)) error
}

// newBatchState is the state of a batch nothing is known of yet.
func newBatchState(id string) BatchState {
	return BatchState{BatchID: id, Essays: []Essay{}, PendingUploads: []Upload{}, ExcessUploads: []Upload{}, Phases: []PhaseTracking{}}
}

// MemoryBatchRepository is the in-memory BatchRepository, for tests:
// state lives as long as the process. Changes to one batch are serialised
// by that batch's lock, so batches progress in parallel. It is safe for
// concurrent use.
type MemoryBatchRepository struct {
	mu      sync.Mutex // guards batches
	batches map[string]*batchEntry
}

// batchEntry holds one batch; mu serialises its changes and guards st and
// exists.
type batchEntry struct {
	mu     sync.Mutex
	st     BatchState
	exists bool // false until an Upsert stored the first state
}

// NewMemoryBatchRepository returns an empty repository.
func NewMemoryBatchRepository() *MemoryBatchRepository {
	return &MemoryBatchRepository{batches: map[string]*batchEntry{}}
}

func (m *MemoryBatchRepository) entry(id string, create bool) *batchEntry {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.batches[id]
	if !ok && create {
		e = &batchEntry{}
		m.batches[id] = e
	}
	return e
}

// Get implements BatchRepository.
func (m *MemoryBatchRepository) Get(_ context.Context, id string) (BatchState, error) {
	e := m.entry(id, false)
	if e == nil {
		return BatchState{}, fmt.Errorf("%w: %s", ErrBatchNotFound, id)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.exists {
		return BatchState{}, fmt.Errorf("%w: %s", ErrBatchNotFound, id)
	}
	return e.st.Clone(), nil
}

// Upsert implements BatchRepository.
func (m *MemoryBatchRepository) Upsert(ctx context.Context, id string, fn func(context.Context, *BatchState) (bool, error)) error {
	return m.change(ctx, m.entry(id, true), id, true, fn)
}

// Update implements BatchRepository.
func (m *MemoryBatchRepository) Update(ctx context.Context, id string, fn func(context.Context, *BatchState) (bool, error)) error {
	e := m.entry(id, false)
	if e == nil {
		return fmt.Errorf("%w: %s", ErrBatchNotFound, id)
	}
	return m.change(ctx, e, id, false, fn)
}

func (m *MemoryBatchRepository) change(ctx context.Context, e *batchEntry, id string, create bool, fn func(context.Context, *BatchState) (bool, error)) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	var st BatchState
	switch {
	case e.exists:
		st = e.st.Clone()
	case create:
		st = newBatchState(id)
	default:
		return fmt.Errorf("%w: %s", ErrBatchNotFound, id)
	}
	changed, err := fn(ctx, &st)
	if err != nil {
		return err
	}
	if changed {
		e.st, e.exists = st, true
	}
	return nil
}
