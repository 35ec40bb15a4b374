// Package localjudge is HuleEdu's deterministic essay judge: no model, no
// network, the same verdict for the same essays every time. The LLM
// Provider Service runs it as its "local" provider, the embedded default
// that needs no API key, and CJ Assessment's LocalJudge is it. It stands
// in for the original platform's LLM judges so the pipeline runs anywhere
// and its rankings are reproducible; it is not a model of essay quality.
//
// It scores each essay and prefers the higher score:
//
//	score = ln(1 + words) + 0.5 * unique/sqrt(words) - 10 * spellingErrors/words
//
// Length counts with diminishing returns (ln); vocabulary richness is
// Guiraud's index (distinct words over the square root of the word
// count), which unlike the plain type/token ratio does not punish longer
// essays; the spelling error rate costs 0.1 per percent of misspelt words.
// Scores closer than 1e-9 are a tie.
//
// Usage:
//
//	winner := localjudge.Compare(a, b) // a.ID, b.ID, or "" for a tie
package localjudge
