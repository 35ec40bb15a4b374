package localjudge_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/huleedu/huleedu/services/contracts"
	"github.com/huleedu/huleedu/services/llmprovider/localjudge"
)

func TestCompareVerdicts(t *testing.T) {
	rich := contracts.LLMEssay{ID: "rich", Text: "Forests regulate climate, shelter wildlife and inspire poets across generations."}
	tests := []struct {
		name string
		a, b contracts.LLMEssay
		want string
	}{
		{"longer essay wins", rich, contracts.LLMEssay{ID: "short", Text: "Forests are good."}, "rich"},
		{"richer vocabulary wins at equal length",
			contracts.LLMEssay{ID: "varied", Text: "trees grow tall while rivers run deep and birds sing"},
			contracts.LLMEssay{ID: "repetitive", Text: "trees trees trees grow grow grow tall tall tall tall"}, "varied"},
		{"spelling errors cost", rich, contracts.LLMEssay{ID: "sloppy", Text: rich.Text, SpellingErrors: 3}, "rich"},
		{"identical essays tie", rich, contracts.LLMEssay{ID: "copy", Text: rich.Text}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := localjudge.Compare(tt.a, tt.b); got != tt.want {
				t.Errorf("Compare = %q, want %q", got, tt.want)
			}
			if rev := localjudge.Compare(tt.b, tt.a); rev != tt.want {
				t.Errorf("reversed Compare = %q, want %q: the order must not matter", rev, tt.want)
			}
		})
	}
}

func TestScoreOfTextWithoutWordsIsZero(t *testing.T) {
	if s := localjudge.Score(contracts.LLMEssay{Text: strings.Repeat(" ", 10) + "42 !"}); s != 0 {
		t.Errorf("score = %v", s)
	}
}

func ExampleCompare() {
	a := contracts.LLMEssay{ID: "a", Text: "Forests regulate climate and shelter wildlife."}
	b := contracts.LLMEssay{ID: "b", Text: "Forests are nice."}
	fmt.Println(localjudge.Compare(a, b))
	// Output: a
}
