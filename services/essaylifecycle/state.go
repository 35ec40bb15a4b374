package essaylifecycle

import (
	"slices"
	"time"

	"github.com/huleedu/huleedu/services/contracts"
)

// Essay states. An essay moves forward only:
//
//	awaiting_content -> content_ready -> spellchecking -> spellchecked -> cj_assessing -> ranked
//
// and may end in failed from any state but ranked. A phase may be skipped
// (a pipeline without spellcheck goes from content_ready to cj_assessing).
const (
	StateAwaitingContent = "awaiting_content"
	StateContentReady    = "content_ready"
	StateSpellchecking   = "spellchecking"
	StateSpellchecked    = "spellchecked"
	StateCJAssessing     = "cj_assessing"
	StateRanked          = "ranked"
	StateFailed          = "failed"
)

// stateOrder ranks the states along the happy path; failed is terminal and
// handled apart.
var stateOrder = map[string]int{
	StateAwaitingContent: 0,
	StateContentReady:    1,
	StateSpellchecking:   2,
	StateSpellchecked:    3,
	StateCJAssessing:     4,
	StateRanked:          5,
}

// canMove reports whether an essay in state from may move to state to:
// forward along the happy path, or to failed from anything but ranked and
// failed.
func canMove(from, to string) bool {
	if from == StateFailed || from == StateRanked {
		return false
	}
	if to == StateFailed {
		return true
	}
	return stateOrder[to] > stateOrder[from]
}

// Where an essay failed (Essay.FailedPhase).
const (
	FailedAtUpload = "upload"
)

// Essay is one essay slot of a batch.
type Essay struct {
	EssayID      string `json:"essay_id"`
	State        string `json:"state"`
	FileUploadID string `json:"file_upload_id,omitempty"`
	FileName     string `json:"file_name,omitempty"`
	ContentID    string `json:"content_id,omitempty"`
	// FailedPhase is FailedAtUpload or the phase that failed the essay;
	// FailureReason says why.
	FailedPhase   string `json:"failed_phase,omitempty"`
	FailureReason string `json:"failure_reason,omitempty"`
	// Spellcheck is the spellcheck result, once there is one.
	Spellcheck *SpellcheckResult `json:"spellcheck,omitempty"`
	// Rank and Score are the CJ result (rank 1 is best), once there is one.
	Rank      int       `json:"rank,omitempty"`
	Score     float64   `json:"score,omitempty"`
	UpdatedAt time.Time `json:"updated_at"`
}

// SpellcheckResult is what the Spellchecker found in an essay.
type SpellcheckResult struct {
	ErrorCount  int                              `json:"error_count"`
	WordCount   int                              `json:"word_count"`
	Corrections []contracts.SpellcheckCorrection `json:"corrections"`
}

// Upload is a provisioned or failed file that is not (yet) in a slot: it
// arrived before the batch's registration, or after every slot was taken.
type Upload struct {
	FileUploadID        string    `json:"file_upload_id"`
	FileName            string    `json:"file_name"`
	ContentID           string    `json:"content_id,omitempty"`
	Failed              bool      `json:"failed"`
	ValidationErrorCode string    `json:"validation_error_code,omitempty"`
	Reason              string    `json:"reason,omitempty"`
	ReceivedAt          time.Time `json:"received_at"`
}

// PhaseTracking is ELS's view of one phase of a batch.
type PhaseTracking struct {
	Phase string `json:"phase"`
	// EssayIDs are the essays the phase was asked to process.
	EssayIDs []string `json:"essay_ids"`
	// OutcomePublished is true once ELSBatchPhaseOutcomeV1 went out.
	OutcomePublished bool   `json:"outcome_published"`
	OutcomeStatus    string `json:"outcome_status,omitempty"`
}

// BatchState is everything ELS knows about a batch. A batch exists before
// its registration when content arrives first (Registered false, the
// content waits in PendingUploads).
type BatchState struct {
	BatchID            string `json:"batch_id"`
	Registered         bool   `json:"registered"`
	ExpectedEssayCount int    `json:"expected_essay_count"`
	CourseCode         string `json:"course_code,omitempty"`
	RequestedPipeline  string `json:"requested_pipeline,omitempty"`
	CorrelationID      string `json:"correlation_id,omitempty"`
	// Essays are the slots, in registration order.
	Essays []Essay `json:"essays"`
	// PendingUploads arrived before the registration, in arrival order.
	PendingUploads []Upload `json:"pending_uploads"`
	// ExcessUploads arrived when every slot was taken; they are not
	// processed (the original's ExcessContentProvisionedV1 case).
	ExcessUploads []Upload `json:"excess_uploads"`
	// ReadyPublished is true once BatchEssaysReady went out.
	ReadyPublished bool            `json:"ready_published"`
	Phases         []PhaseTracking `json:"phases"`
	CreatedAt      time.Time       `json:"created_at"`
	ReadyAt        time.Time       `json:"ready_at,omitzero"`
}

// Clone returns a deep copy of st.
func (st BatchState) Clone() BatchState {
	st.Essays = slices.Clone(st.Essays)
	for i, e := range st.Essays {
		if e.Spellcheck != nil {
			sc := *e.Spellcheck
			sc.Corrections = slices.Clone(sc.Corrections)
			st.Essays[i].Spellcheck = &sc
		}
	}
	st.PendingUploads = slices.Clone(st.PendingUploads)
	st.ExcessUploads = slices.Clone(st.ExcessUploads)
	st.Phases = slices.Clone(st.Phases)
	for i := range st.Phases {
		st.Phases[i].EssayIDs = slices.Clone(st.Phases[i].EssayIDs)
	}
	return st
}

// essay returns the slot with id, or nil.
func (st *BatchState) essay(id string) *Essay {
	for i := range st.Essays {
		if st.Essays[i].EssayID == id {
			return &st.Essays[i]
		}
	}
	return nil
}

// inputRef is e as the input of the next phase, with the spelling errors
// the spellcheck phase found, if it ran.
func (e *Essay) inputRef() contracts.EssayProcessingInputRefV1 {
	ref := contracts.EssayProcessingInputRefV1{EssayID: e.EssayID, ContentID: e.ContentID}
	if e.Spellcheck != nil {
		ref.SpellcheckErrorCount = e.Spellcheck.ErrorCount
	}
	return ref
}

// phase returns the tracking of phase, or nil.
func (st *BatchState) phase(name string) *PhaseTracking {
	for i := range st.Phases {
		if st.Phases[i].Phase == name {
			return &st.Phases[i]
		}
	}
	return nil
}

// trackPhase returns the tracking of phase, creating it.
func (st *BatchState) trackPhase(name string) *PhaseTracking {
	if p := st.phase(name); p != nil {
		return p
	}
	st.Phases = append(st.Phases, PhaseTracking{Phase: name, EssayIDs: []string{}})
	return &st.Phases[len(st.Phases)-1]
}

// knowsUpload reports whether the upload is in a slot, pending or excess.
func (st *BatchState) knowsUpload(id string) bool {
	for _, e := range st.Essays {
		if e.FileUploadID == id {
			return true
		}
	}
	has := func(u Upload) bool { return u.FileUploadID == id }
	return slices.ContainsFunc(st.PendingUploads, has) || slices.ContainsFunc(st.ExcessUploads, has)
}

// settled reports whether every slot has content or has failed.
func (st *BatchState) settled() bool {
	return !slices.ContainsFunc(st.Essays, func(e Essay) bool { return e.State == StateAwaitingContent })
}
