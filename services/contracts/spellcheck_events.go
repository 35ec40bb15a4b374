package contracts

// SpellcheckCorrection is one misspelt word and the word suggested for it.
type SpellcheckCorrection struct {
	// Word is the word as written.
	Word string `json:"word"`
	// Suggestion is the most likely intended word, with Word's
	// capitalisation; empty when the dictionary has nothing close enough.
	Suggestion string `json:"suggestion"`
	// Offset is the word's position in the text, in Unicode code points
	// from the start (not bytes), so clients in any language can use it.
	Offset int `json:"offset"`
}

// SpellcheckCompletedV1 is the Spellchecker's result for one essay.
// Consumed by Essay Lifecycle.
type SpellcheckCompletedV1 struct {
	// BatchID and EssayID identify the essay.
	BatchID string `json:"batch_id"`
	EssayID string `json:"essay_id"`
	// ContentID is the text that was checked.
	ContentID string `json:"content_id"`
	// Status is ResultSuccess or ResultFailed.
	Status string `json:"status"`
	// Corrections are the misspellings found, in text order.
	Corrections []SpellcheckCorrection `json:"corrections"`
	// ErrorCount is len(Corrections) (the original's
	// correction_count).
	ErrorCount int `json:"error_count"`
	// WordCount is the number of words checked.
	WordCount int `json:"word_count"`
	// Reason explains a ResultFailed status.
	Reason string `json:"reason,omitempty"`
}
