package cjassessment

import (
	"context"
	"errors"
	"math"
	"strings"
	"unicode"
)

// ErrInvalidVerdict is wrapped by errors for a judge answer that names
// neither essay.
var ErrInvalidVerdict = errors.New("cjassessment: invalid verdict")

// Essay is one essay as a judge sees it.
type Essay struct {
	// ID identifies the essay.
	ID string
	// Text is the essay's text.
	Text string
	// SpellingErrors is the number of misspellings the spellcheck phase
	// found (0 when it did not run).
	SpellingErrors int
}

// Judge compares two essays, as a teacher (or, in the original platform,
// an LLM) would: which is the better essay?
//
// Compare returns a.ID or b.ID for the better essay, or "" when it cannot
// tell them apart (a tie). Errors mean the judge is unavailable; the
// service calls it through a circuit breaker, so a judge that keeps
// failing is left alone until it recovers.
type Judge interface {
	Compare(ctx context.Context, a, b Essay) (winner string, err error)
}

// LocalJudge is a deterministic judge that runs in process: no model, no
// network, the same verdict for the same essays every time. It stands in
// for the original platform's LLM judges so the pipeline runs anywhere.
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
type LocalJudge struct{}

// Name returns "local": the judge named in CJAssessmentCompletedV1.
func (LocalJudge) Name() string { return "local" }

// Compare implements Judge.
func (LocalJudge) Compare(ctx context.Context, a, b Essay) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	sa, sb := LocalScore(a), LocalScore(b)
	switch {
	case math.Abs(sa-sb) < 1e-9:
		return "", nil
	case sa > sb:
		return a.ID, nil
	default:
		return b.ID, nil
	}
}

// LocalScore is LocalJudge's score of an essay (see LocalJudge).
func LocalScore(e Essay) float64 {
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

// judgeName returns the name a judge gives itself (a Name() string
// method), or "custom".
func judgeName(j Judge) string {
	if n, ok := j.(interface{ Name() string }); ok {
		return n.Name()
	}
	return "custom"
}
