package cjassessment

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/huleedu/huleedu/services/contracts"
)

// ErrAssessmentNotFound is wrapped by Repository errors for a batch that
// has no assessment.
var ErrAssessmentNotFound = errors.New("cjassessment: assessment not found")

// Assessment is the stored result of ranking a batch.
type Assessment struct {
	BatchID        string                `json:"batch_id"`
	Status         string                `json:"status"`
	Rankings       []contracts.CJRanking `json:"rankings"`
	FailedEssayIDs []string              `json:"failed_essay_ids"`
	Comparisons    []Comparison          `json:"comparisons"`
	Judge          string                `json:"judge"`
	Iterations     int                   `json:"bt_iterations"`
	Converged      bool                  `json:"bt_converged"`
	CompletedAt    time.Time             `json:"completed_at"`
}

// Repository stores judgements and assessments. Judgements are kept per
// batch and pair so that a retried assessment (after the judge failed
// half-way) does not ask the judge again for the pairs it already judged:
// with an LLM judge every call costs money and time.
type Repository interface {
	// Judgement returns the stored verdict of pair in batch, if any.
	Judgement(ctx context.Context, batchID string, pair Pair) (winner string, ok bool, err error)
	// SaveJudgement stores a verdict.
	SaveJudgement(ctx context.Context, batchID string, pair Pair, winner string) error
	// SaveAssessment stores a batch's result, replacing an earlier one.
	SaveAssessment(ctx context.Context, a Assessment) error
	// Assessment returns a batch's result, or ErrAssessmentNotFound.
	Assessment(ctx context.Context, batchID string) (Assessment, error)
}

// MemoryRepository is the in-memory Repository, for tests: everything
// lives as long as the process. It is safe for concurrent use.
type MemoryRepository struct {
	mu          sync.Mutex
	judgements  map[judgementKey]string
	assessments map[string]Assessment
}

type judgementKey struct {
	batchID string
	pair    Pair
}

// NewMemoryRepository returns an empty repository.
func NewMemoryRepository() *MemoryRepository {
	return &MemoryRepository{judgements: map[judgementKey]string{}, assessments: map[string]Assessment{}}
}

// Judgement implements Repository.
func (m *MemoryRepository) Judgement(_ context.Context, batchID string, pair Pair) (string, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	w, ok := m.judgements[judgementKey{batchID, pair}]
	return w, ok, nil
}

// SaveJudgement implements Repository.
func (m *MemoryRepository) SaveJudgement(_ context.Context, batchID string, pair Pair, winner string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.judgements[judgementKey{batchID, pair}] = winner
	return nil
}

// SaveAssessment implements Repository.
func (m *MemoryRepository) SaveAssessment(_ context.Context, a Assessment) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.assessments[a.BatchID] = cloneAssessment(a)
	return nil
}

// Assessment implements Repository.
func (m *MemoryRepository) Assessment(_ context.Context, batchID string) (Assessment, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	a, ok := m.assessments[batchID]
	if !ok {
		return Assessment{}, fmt.Errorf("%w: %s", ErrAssessmentNotFound, batchID)
	}
	return cloneAssessment(a), nil
}

func cloneAssessment(a Assessment) Assessment {
	a.Rankings = slices.Clone(a.Rankings)
	a.FailedEssayIDs = slices.Clone(a.FailedEssayIDs)
	a.Comparisons = slices.Clone(a.Comparisons)
	return a
}
