package batchconductor_test

import (
	"fmt"

	"github.com/huleedu/huleedu/services/batchconductor"
)

func ExampleCatalog_Resolve() {
	phases, err := batchconductor.DefaultCatalog().Resolve("full")
	fmt.Println(phases, err)
	// Output: [spellcheck cj_assessment] <nil>
}

func ExampleNewCatalog() {
	c, err := batchconductor.NewCatalog(
		[]batchconductor.Phase{
			{Name: "spellcheck"},
			{Name: "nlp", DependsOn: []string{"spellcheck"}},
			{Name: "ai_feedback", DependsOn: []string{"nlp", "spellcheck"}},
		},
		[]batchconductor.Pipeline{{Name: "feedback", Targets: []string{"ai_feedback"}}})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(c.Resolve("feedback"))
	// Output: [spellcheck nlp ai_feedback] <nil>
}
