package batchorchestrator

import (
	"slices"
	"time"

	"github.com/huleedu/huleedu/services/contracts"
)

// Batch statuses (the original's BatchStatus values).
const (
	// StatusAwaitingContent: registered, waiting for Essay Lifecycle to
	// report every essay's content (BatchEssaysReady).
	StatusAwaitingContent = "awaiting_content"
	// StatusProcessingPipelines: a phase is in progress (CurrentPhase).
	StatusProcessingPipelines = "processing_pipelines"
	// StatusCompletedSuccessfully: every phase ran and every essay came
	// through.
	StatusCompletedSuccessfully = "completed_successfully"
	// StatusCompletedWithFailures: the pipeline ended and some essays
	// failed on the way.
	StatusCompletedWithFailures = "completed_with_failures"
	// StatusFailedCritically: the pipeline ended with no essay left.
	StatusFailedCritically = "failed_critically"
)

// Batch is the orchestrator's record of one batch and its pipeline.
type Batch struct {
	BatchID            string   `json:"batch_id"`
	Status             string   `json:"status"`
	CourseCode         string   `json:"course_code"`
	EssayInstructions  string   `json:"essay_instructions,omitempty"`
	UserID             string   `json:"user_id,omitempty"`
	ClassID            string   `json:"class_id,omitempty"`
	RequestedPipeline  string   `json:"requested_pipeline"`
	Phases             []string `json:"phases"`
	ExpectedEssayCount int      `json:"expected_essay_count"`
	EssayIDs           []string `json:"essay_ids"`
	CorrelationID      string   `json:"correlation_id"`

	// CurrentPhase is the phase in progress, or empty.
	CurrentPhase string `json:"current_phase,omitempty"`
	// PhaseResults has one entry per phase requested so far, in order.
	PhaseResults []PhaseResult `json:"phase_results"`
	// Essays are the essays still in the pipeline: the input of the
	// current (or next) phase.
	Essays []contracts.EssayProcessingInputRefV1 `json:"essays"`
	// FailedEssayIDs are the essays that dropped out, at upload or in a
	// phase.
	FailedEssayIDs []string `json:"failed_essay_ids"`

	CreatedAt   time.Time `json:"created_at"`
	ReadyAt     time.Time `json:"ready_at,omitzero"`
	CompletedAt time.Time `json:"completed_at,omitzero"`
}

// PhaseResult is what the orchestrator knows about one phase of a batch.
type PhaseResult struct {
	Phase          string    `json:"phase"`
	Status         string    `json:"status"` // "requested", then a contracts.Status* value
	EssayCount     int       `json:"essay_count"`
	ProcessedCount int       `json:"processed_count"`
	FailedCount    int       `json:"failed_count"`
	RequestedAt    time.Time `json:"requested_at"`
	CompletedAt    time.Time `json:"completed_at,omitzero"`
}

// phaseRequested is PhaseResult.Status while the phase runs.
const phaseRequested = "requested"

// Clone returns a deep copy of b.
func (b Batch) Clone() Batch {
	b.Phases = slices.Clone(b.Phases)
	b.EssayIDs = slices.Clone(b.EssayIDs)
	b.PhaseResults = slices.Clone(b.PhaseResults)
	b.Essays = slices.Clone(b.Essays)
	b.FailedEssayIDs = slices.Clone(b.FailedEssayIDs)
	return b
}

// Done reports whether the pipeline of b has ended.
func (b *Batch) Done() bool {
	switch b.Status {
	case StatusCompletedSuccessfully, StatusCompletedWithFailures, StatusFailedCritically:
		return true
	}
	return false
}

// completedPhases returns the phases that reported an outcome, in order.
func (b *Batch) completedPhases() []string {
	out := []string{}
	for _, r := range b.PhaseResults {
		if r.Status != phaseRequested {
			out = append(out, r.Phase)
		}
	}
	return out
}

// addFailed adds ids to FailedEssayIDs, keeping it free of duplicates.
func (b *Batch) addFailed(ids []string) {
	for _, id := range ids {
		if !slices.Contains(b.FailedEssayIDs, id) {
			b.FailedEssayIDs = append(b.FailedEssayIDs, id)
		}
	}
}
