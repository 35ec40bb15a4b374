package cjassessment

import (
	"context"
	"errors"
	"fmt"
	"maps"
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
	// FailedComparisons are the pairs no judge could compare (the LLM
	// Provider refused them, or they expired COMPARISON_MAX_ATTEMPTS
	// times); the ranking is fitted without them.
	FailedComparisons []Pair    `json:"failed_comparisons"`
	Judge             string    `json:"judge"`
	Iterations        int       `json:"bt_iterations"`
	Converged         bool      `json:"bt_converged"`
	CompletedAt       time.Time `json:"completed_at"`
}

// Batch is a batch being assessed: what was asked and which pairs are
// compared. It is saved before the first comparison is sent, so the
// results that come back later can be matched to it.
type Batch struct {
	BatchID       string
	CorrelationID string
	CourseCode    string
	Language      string
	// Essays are the essays being ranked (their texts were available).
	Essays []contracts.EssayProcessingInputRefV1
	// FailedEssayIDs are the essays whose texts will never be available.
	FailedEssayIDs []string
	// Pairs are the comparisons to make (Pairs).
	Pairs []Pair
	// ProgressAt is when a comparison of the batch was last sent or
	// decided: a batch whose progress stalls has its undecided pairs sent
	// again (Service.ResendStalled).
	ProgressAt time.Time
}

// Outcome is how one pair of a batch ended.
type Outcome struct {
	// Winner is A, B or "" (a tie) when judged.
	Winner string
	// Failed is set when the pair could not be judged; Reason says why.
	Failed bool
	Reason string
	// Provider is the LLM provider that judged.
	Provider string
}

// Repository stores the batches in progress, the outcome of each pair and
// the assessments. Outcomes are kept per batch and pair so that a pair is
// judged once: with an LLM judge every call costs money and time.
type Repository interface {
	// SaveBatch stores b unless its batch is stored already, and returns
	// the stored one.
	SaveBatch(ctx context.Context, b Batch) (Batch, error)
	// Batch returns a stored batch; ok is false when there is none.
	Batch(ctx context.Context, batchID string) (b Batch, ok bool, err error)
	// Progress sets a batch's ProgressAt.
	Progress(ctx context.Context, batchID string, at time.Time) error
	// Stalled returns the batches without an assessment whose ProgressAt
	// is before t.
	Stalled(ctx context.Context, before time.Time) ([]Batch, error)
	// SaveOutcome stores the outcome of pair unless it has one, and
	// reports whether it stored it: a pair is decided once.
	SaveOutcome(ctx context.Context, batchID string, pair Pair, o Outcome) (saved bool, err error)
	// Outcomes returns the outcomes of a batch's pairs.
	Outcomes(ctx context.Context, batchID string) (map[Pair]Outcome, error)
	// Attempt returns the current attempt of a pair's comparison (1 until
	// AdvanceAttempt).
	Attempt(ctx context.Context, batchID string, pair Pair) (int, error)
	// AdvanceAttempt moves the pair from attempt from to from+1 and
	// reports whether it did (false when another handler did first).
	AdvanceAttempt(ctx context.Context, batchID string, pair Pair, from int) (bool, error)
	// SaveAssessment stores a batch's result, replacing an earlier one.
	SaveAssessment(ctx context.Context, a Assessment) error
	// Assessment returns a batch's result, or ErrAssessmentNotFound.
	Assessment(ctx context.Context, batchID string) (Assessment, error)
}

// MemoryRepository is the in-memory Repository: everything lives as long
// as the process. It is safe for concurrent use.
type MemoryRepository struct {
	mu          sync.Mutex // guards everything below
	batches     map[string]Batch
	outcomes    map[string]map[Pair]Outcome
	attempts    map[pairKey]int
	assessments map[string]Assessment
}

type pairKey struct {
	batchID string
	pair    Pair
}

// NewMemoryRepository returns an empty repository.
func NewMemoryRepository() *MemoryRepository {
	return &MemoryRepository{batches: map[string]Batch{}, outcomes: map[string]map[Pair]Outcome{},
		attempts: map[pairKey]int{}, assessments: map[string]Assessment{}}
}

// SaveBatch implements Repository.
func (m *MemoryRepository) SaveBatch(_ context.Context, b Batch) (Batch, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if old, ok := m.batches[b.BatchID]; ok {
		return cloneBatch(old), nil
	}
	m.batches[b.BatchID] = cloneBatch(b)
	return cloneBatch(b), nil
}

// Batch implements Repository.
func (m *MemoryRepository) Batch(_ context.Context, batchID string) (Batch, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.batches[batchID]
	return cloneBatch(b), ok, nil
}

// Progress implements Repository.
func (m *MemoryRepository) Progress(_ context.Context, batchID string, at time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if b, ok := m.batches[batchID]; ok {
		b.ProgressAt = at
		m.batches[batchID] = b
	}
	return nil
}

// Stalled implements Repository.
func (m *MemoryRepository) Stalled(_ context.Context, before time.Time) ([]Batch, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Batch
	for id, b := range m.batches {
		if _, done := m.assessments[id]; !done && b.ProgressAt.Before(before) {
			out = append(out, cloneBatch(b))
		}
	}
	slices.SortFunc(out, func(a, b Batch) int { return a.ProgressAt.Compare(b.ProgressAt) })
	return out, nil
}

// SaveOutcome implements Repository.
func (m *MemoryRepository) SaveOutcome(_ context.Context, batchID string, pair Pair, o Outcome) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.outcomes[batchID] == nil {
		m.outcomes[batchID] = map[Pair]Outcome{}
	}
	if _, ok := m.outcomes[batchID][pair]; ok {
		return false, nil
	}
	m.outcomes[batchID][pair] = o
	return true, nil
}

// Outcomes implements Repository.
func (m *MemoryRepository) Outcomes(_ context.Context, batchID string) (map[Pair]Outcome, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return maps.Clone(m.outcomes[batchID]), nil
}

// Attempt implements Repository.
func (m *MemoryRepository) Attempt(_ context.Context, batchID string, pair Pair) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return max(m.attempts[pairKey{batchID, pair}], 1), nil
}

// AdvanceAttempt implements Repository.
func (m *MemoryRepository) AdvanceAttempt(_ context.Context, batchID string, pair Pair, from int) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := pairKey{batchID, pair}
	if max(m.attempts[k], 1) != from {
		return false, nil
	}
	m.attempts[k] = from + 1
	return true, nil
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
	a.FailedComparisons = slices.Clone(a.FailedComparisons)
	return a
}

func cloneBatch(b Batch) Batch {
	b.Essays = slices.Clone(b.Essays)
	b.FailedEssayIDs = slices.Clone(b.FailedEssayIDs)
	b.Pairs = slices.Clone(b.Pairs)
	return b
}
