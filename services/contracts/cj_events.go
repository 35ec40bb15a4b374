package contracts

// CJRanking is one essay's place in a comparative judgement ranking.
type CJRanking struct {
	// EssayID identifies the essay.
	EssayID string `json:"essay_id"`
	// Rank is 1 for the best essay.
	Rank int `json:"rank"`
	// Score is the essay's Bradley–Terry ability on the log scale: the
	// difference of two scores is the log-odds that the first essay beats
	// the second.
	Score float64 `json:"score"`
}

// CJAssessmentCompletedV1 is CJ Assessment's result for a batch. Consumed
// by Essay Lifecycle.
type CJAssessmentCompletedV1 struct {
	// BatchID identifies the batch.
	BatchID string `json:"batch_id"`
	// Status is one of the Status* constants (see OutcomeStatus).
	Status string `json:"status"`
	// Rankings are the ranked essays, best first.
	Rankings []CJRanking `json:"rankings"`
	// FailedEssayIDs are the essays that could not be ranked (their content
	// is gone).
	FailedEssayIDs []string `json:"failed_essay_ids"`
	// ComparisonCount is the number of pairwise judgements made.
	ComparisonCount int `json:"comparison_count"`
	// Judge names the judge that compared the essays ("local").
	Judge string `json:"judge"`
}
