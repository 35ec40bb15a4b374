package contracts

// Pipeline phases. A pipeline is an ordered list of them, resolved by the
// Batch Conductor.
const (
	// PhaseSpellcheck checks every essay's spelling.
	PhaseSpellcheck = "spellcheck"
	// PhaseCJAssessment ranks a batch's essays by comparative judgement.
	PhaseCJAssessment = "cj_assessment"
)

// Outcome statuses of a phase or a pipeline (the original's
// BatchStatus/PhaseStatus values).
const (
	// StatusCompletedSuccessfully: every essay came through.
	StatusCompletedSuccessfully = "COMPLETED_SUCCESSFULLY"
	// StatusCompletedWithFailures: some essays failed, the others came
	// through.
	StatusCompletedWithFailures = "COMPLETED_WITH_FAILURES"
	// StatusFailedCritically: no essay came through.
	StatusFailedCritically = "FAILED_CRITICALLY"
)

// Per-essay result statuses of SpellcheckCompletedV1 and
// CJAssessmentCompletedV1.
const (
	// ResultSuccess: the essay was processed.
	ResultSuccess = "SUCCESS"
	// ResultFailed: the essay could not be processed and will not be (its
	// content is gone, for example); Reason says why.
	ResultFailed = "FAILED"
)

// Validation error codes of EssayValidationFailedV1 (the original's
// FileValidationErrorCode values).
const (
	// ValidationEmptyContent: the file is empty or only whitespace.
	ValidationEmptyContent = "EMPTY_CONTENT"
	// ValidationContentTooLong: the file is larger than the File Service
	// accepts.
	ValidationContentTooLong = "CONTENT_TOO_LONG"
	// ValidationTextExtractionFailed: the file is not text (not valid
	// UTF-8, or binary).
	ValidationTextExtractionFailed = "TEXT_EXTRACTION_FAILED"
)

// OutcomeStatus returns the status of a phase or pipeline in which
// succeeded items came through and failed did not: COMPLETED_SUCCESSFULLY
// when nothing failed, FAILED_CRITICALLY when nothing succeeded (including
// when there was nothing at all), COMPLETED_WITH_FAILURES otherwise.
func OutcomeStatus(succeeded, failed int) string {
	switch {
	case succeeded == 0:
		return StatusFailedCritically
	case failed == 0:
		return StatusCompletedSuccessfully
	default:
		return StatusCompletedWithFailures
	}
}
