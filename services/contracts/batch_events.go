package contracts

import (
	"strconv"
	"time"

	"github.com/huleedu/huleedu/event"
)

// EssayProcessingInputRefV1 points at one essay and its text: what a phase
// needs to process it.
type EssayProcessingInputRefV1 struct {
	// EssayID identifies the essay within its batch.
	EssayID string `json:"essay_id"`
	// ContentID is where the text is stored on the File Service (the
	// original's text_storage_id).
	ContentID string `json:"content_id"`
	// SpellcheckErrorCount is the number of misspellings the spellcheck
	// phase found, when it ran; 0 otherwise. The local judge uses it.
	SpellcheckErrorCount int `json:"spellcheck_error_count,omitempty"`
}

// BatchEssaysRegistered registers a batch and its expected essays.
// Published by the Batch Orchestrator, consumed by Essay Lifecycle, which
// creates one essay slot per id and fills them as content arrives.
type BatchEssaysRegistered struct {
	// BatchID identifies the batch (the original's entity_id).
	BatchID string `json:"batch_id"`
	// ExpectedEssayCount is the number of files the batch waits for.
	ExpectedEssayCount int `json:"expected_essay_count"`
	// EssayIDs are the ids of the essay slots, len ExpectedEssayCount. The
	// Batch Orchestrator generates them when the client gives none.
	EssayIDs []string `json:"essay_ids"`
	// CourseCode is the course the essays were written for ("ENG5").
	CourseCode string `json:"course_code"`
	// EssayInstructions is the assignment text, or empty.
	EssayInstructions string `json:"essay_instructions,omitempty"`
	// UserID is the teacher who owns the batch, or empty.
	UserID string `json:"user_id,omitempty"`
	// ClassID is the class the batch belongs to, or empty (a guest batch).
	ClassID string `json:"class_id,omitempty"`
	// RequestedPipeline is the pipeline the client asked for ("full").
	RequestedPipeline string `json:"requested_pipeline"`
}

// BatchEssaysReady says that every essay slot of a batch is settled: it has
// content, or its upload failed validation. Published once per batch by
// Essay Lifecycle, consumed by the Batch Orchestrator, which then starts
// the first phase.
type BatchEssaysReady struct {
	// BatchID identifies the batch.
	BatchID string `json:"batch_id"`
	// Essays are the essays that have content, in the batch's essay order
	// (the original's ready_essays).
	Essays []EssayProcessingInputRefV1 `json:"essays"`
	// FailedEssayIDs are the slots whose upload failed validation.
	FailedEssayIDs []string `json:"failed_essay_ids"`
	// CourseCode is the course from the registration.
	CourseCode string `json:"course_code"`
}

// BatchSpellcheckRequested starts the spellcheck phase of a batch.
// Published by the Batch Orchestrator, consumed by Essay Lifecycle, which
// sends one EssaySpellcheckRequestedV1 per essay.
type BatchSpellcheckRequested struct {
	// BatchID identifies the batch.
	BatchID string `json:"batch_id"`
	// Essays are the essays to check.
	Essays []EssayProcessingInputRefV1 `json:"essays"`
	// Language is the essays' language ("en").
	Language string `json:"language"`
}

// EssaySpellcheckRequestedV1 asks the Spellchecker to check one essay.
// Published by Essay Lifecycle.
type EssaySpellcheckRequestedV1 struct {
	// BatchID and EssayID identify the essay.
	BatchID string `json:"batch_id"`
	EssayID string `json:"essay_id"`
	// ContentID is where the text is stored on the File Service.
	ContentID string `json:"content_id"`
	// Language is the essay's language ("en").
	Language string `json:"language"`
}

// BatchCJAssessmentRequested starts the comparative judgement phase of a
// batch. Published by the Batch Orchestrator, consumed by CJ Assessment
// (which ranks the essays) and by Essay Lifecycle (which marks them as
// being assessed).
type BatchCJAssessmentRequested struct {
	// BatchID identifies the batch.
	BatchID string `json:"batch_id"`
	// Essays are the essays to rank; SpellcheckErrorCount carries the
	// spellcheck phase's findings.
	Essays []EssayProcessingInputRefV1 `json:"essays"`
	// CourseCode and Language describe the essays.
	CourseCode string `json:"course_code"`
	Language   string `json:"language"`
}

// ELSBatchPhaseOutcomeV1 says that every essay of a batch has a result for
// one phase. Published once per batch and phase by Essay Lifecycle,
// consumed by the Batch Orchestrator, which starts the next phase with the
// processed essays or completes the pipeline.
type ELSBatchPhaseOutcomeV1 struct {
	// BatchID identifies the batch.
	BatchID string `json:"batch_id"`
	// PhaseName is PhaseSpellcheck or PhaseCJAssessment.
	PhaseName string `json:"phase_name"`
	// PhaseStatus is one of the Status* constants (see OutcomeStatus).
	PhaseStatus string `json:"phase_status"`
	// ProcessedEssays are the essays the phase processed, in the batch's
	// essay order, ready to be the input of the next phase.
	ProcessedEssays []EssayProcessingInputRefV1 `json:"processed_essays"`
	// FailedEssayIDs are the essays the phase could not process.
	FailedEssayIDs []string `json:"failed_essay_ids"`
}

// BatchPipelineCompletedV1 says that a batch went through every phase of
// its pipeline. Published once per batch by the Batch Orchestrator.
type BatchPipelineCompletedV1 struct {
	// BatchID identifies the batch.
	BatchID string `json:"batch_id"`
	// CompletedPhases are the phases that ran, in order.
	CompletedPhases []string `json:"completed_phases"`
	// FinalStatus is one of the Status* constants.
	FinalStatus string `json:"final_status"`
	// CompletedAt is when the Batch Orchestrator saw the last phase end.
	CompletedAt time.Time `json:"completed_at"`
	// ProcessingDurationSeconds is the time from registration to
	// completion.
	ProcessingDurationSeconds float64 `json:"processing_duration_seconds"`
	// SuccessfulEssayCount is the number of essays that came through every
	// phase; FailedEssayCount the number that failed in any.
	SuccessfulEssayCount int `json:"successful_essay_count"`
	FailedEssayCount     int `json:"failed_essay_count"`
}

// EssaySlotID returns the id of essay slot i (0-based) of a batch
// registered without essay ids. The Batch Orchestrator generates the ids
// with it; it is deterministic, so the same batch always gets the same
// ids.
func EssaySlotID(batchID string, i int) string {
	return event.DeterministicID(event.Namespace, "essay", batchID, strconv.Itoa(i)).String()
}
