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
