package llmprovider

import (
	"encoding/json"
	"fmt"
	"strings"
)

// DefaultRubric is the rubric of a comparison that names none.
const DefaultRubric = "Judge which essay answers the assignment better: the quality of its argument and " +
	"its structure, the clarity and accuracy of its language, and how well it addresses the prompt."

// systemPrompt tells the model its role and the one answer format
// parseVerdict accepts.
const systemPrompt = `You are an experienced teacher doing comparative judgement of student essays.
You are shown an assignment, a rubric and two essays, A and B. Decide which essay is better by the rubric.
Answer with one JSON object and nothing else:
{"winner": "A" or "B", "confidence": a number from 0 to 1, "justification": "one or two sentences"}`

// userPrompt is the comparison as the model sees it.
func userPrompt(c Comparison) string {
	rubric := c.Rubric
	if rubric == "" {
		rubric = DefaultRubric
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Assignment:\n%s\n\nRubric:\n%s\n\n", orNone(c.Prompt), rubric)
	fmt.Fprintf(&b, "Essay A:\n<<<\n%s\n>>>\n\nEssay B:\n<<<\n%s\n>>>\n", c.EssayA.Text, c.EssayB.Text)
	return b.String()
}

func orNone(s string) string {
	if strings.TrimSpace(s) == "" {
		return "(none given)"
	}
	return s
}

// verdict is the JSON answer systemPrompt asks for.
type verdict struct {
	Winner        string   `json:"winner"`
	Confidence    *float64 `json:"confidence"`
	Justification string   `json:"justification"`
}

// parseVerdict reads a model's answer: the first JSON object in text
// (models sometimes wrap it in prose or a code fence) whose winner is "A"
// or "B" (any case, "Essay A" too). It returns the winner's essay id.
// Anything else wraps ErrInvalidVerdict.
func parseVerdict(text string, c Comparison) (winner string, confidence float64, justification string, err error) {
	start, end := strings.Index(text, "{"), strings.LastIndex(text, "}")
	if start < 0 || end < start {
		return "", 0, "", fmt.Errorf("%w: no JSON object in the answer %q", ErrInvalidVerdict, clip(text))
	}
	var v verdict
	if err := json.Unmarshal([]byte(text[start:end+1]), &v); err != nil {
		return "", 0, "", fmt.Errorf("%w: %v in the answer %q", ErrInvalidVerdict, err, clip(text))
	}
	switch strings.ToUpper(strings.TrimSpace(strings.TrimPrefix(strings.ToLower(strings.TrimSpace(v.Winner)), "essay"))) {
	case "A":
		winner = c.EssayA.ID
	case "B":
		winner = c.EssayB.ID
	default:
		return "", 0, "", fmt.Errorf("%w: winner %q, want \"A\" or \"B\"", ErrInvalidVerdict, v.Winner)
	}
	confidence = 0.5
	if v.Confidence != nil {
		confidence = min(max(*v.Confidence, 0), 1)
	}
	return winner, confidence, strings.TrimSpace(v.Justification), nil
}

// clip shortens a model's answer for an error message.
func clip(s string) string {
	const limit = 200
	if len(s) <= limit {
		return s
	}
	return s[:limit] + "..."
}
