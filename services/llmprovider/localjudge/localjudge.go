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

import (
	"math"
	"strings"
	"unicode"

	"github.com/huleedu/huleedu/services/contracts"
)

// Name is the judge's name: the provider name in the LLM Provider
// Service, and the judge named in CJAssessmentCompletedV1.
const Name = "local"

// Compare returns the ID of the better essay, or "" when their scores are
// within 1e-9 of each other. The verdict does not depend on which essay is
// given first.
func Compare(a, b contracts.LLMEssay) string {
	sa, sb := Score(a), Score(b)
	switch {
	case math.Abs(sa-sb) < 1e-9:
		return ""
	case sa > sb:
		return a.ID
	default:
		return b.ID
	}
}

// Score is the judge's score of an essay (see the package documentation);
// 0 for a text without words.
func Score(e contracts.LLMEssay) float64 {
	words := strings.FieldsFunc(strings.ToLower(e.Text), func(r rune) bool {
		return !unicode.IsLetter(r) && r != '\''
	})
	n := float64(len(words))
	if n == 0 {
		return 0
	}
	unique := map[string]struct{}{}
	for _, w := range words {
		unique[w] = struct{}{}
	}
	return math.Log1p(n) + 0.5*float64(len(unique))/math.Sqrt(n) - 10*float64(e.SpellingErrors)/n
}
