package cjassessment_test

import (
	"context"
	"strings"
	"testing"

	"github.com/huleedu/huleedu/services/cjassessment"
)

func TestLocalJudgeVerdicts(t *testing.T) {
	rich := cjassessment.Essay{ID: "rich", Text: "Forests regulate climate, shelter wildlife and inspire poets across generations."}
	tests := []struct {
		name string
		a, b cjassessment.Essay
		want string
	}{
		{"longer essay wins", rich, cjassessment.Essay{ID: "short", Text: "Forests are good."}, "rich"},
		{"richer vocabulary wins at equal length",
			cjassessment.Essay{ID: "varied", Text: "trees grow tall while rivers run deep and birds sing"},
			cjassessment.Essay{ID: "repetitive", Text: "trees trees trees grow grow grow tall tall tall tall"}, "varied"},
		{"spelling errors cost", rich, cjassessment.Essay{ID: "sloppy", Text: rich.Text, SpellingErrors: 3}, "rich"},
		{"identical essays tie", rich, cjassessment.Essay{ID: "copy", Text: rich.Text}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := cjassessment.LocalJudge{}.Compare(context.Background(), tt.a, tt.b)
			if err != nil || got != tt.want {
				t.Errorf("Compare = %q, %v; want %q", got, err, tt.want)
			}
			// The verdict does not depend on which essay is shown first.
			rev, _ := cjassessment.LocalJudge{}.Compare(context.Background(), tt.b, tt.a)
			if rev != tt.want {
				t.Errorf("reversed Compare = %q, want %q", rev, tt.want)
			}
		})
	}
}

func TestLocalScoreOfEmptyTextIsZero(t *testing.T) {
	if s := cjassessment.LocalScore(cjassessment.Essay{Text: strings.Repeat(" ", 10)}); s != 0 {
		t.Errorf("score = %v", s)
	}
}

func TestLocalJudgeHonoursCancelledContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := (cjassessment.LocalJudge{}).Compare(ctx, cjassessment.Essay{}, cjassessment.Essay{}); err == nil {
		t.Error("Compare ignored a cancelled context")
	}
}
