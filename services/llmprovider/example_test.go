package llmprovider_test

import (
	"context"
	"fmt"

	"github.com/huleedu/huleedu/resilience"
	"github.com/huleedu/huleedu/services/contracts"
	"github.com/huleedu/huleedu/services/llmprovider"
)

// A dispatcher over the local provider alone: the embedded default that
// needs no key.
func ExampleDispatcher_Judge() {
	d, err := llmprovider.NewDispatcher(llmprovider.DispatcherConfig{
		Providers: []llmprovider.Provider{llmprovider.LocalProvider{}},
		Breakers:  resilience.NewRegistry(resilience.Settings{}),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	v, err := d.Judge(context.Background(), llmprovider.Comparison{
		EssayA: contracts.LLMEssay{ID: "e-1", Text: "Forests regulate the climate and shelter wildlife."},
		EssayB: contracts.LLMEssay{ID: "e-2", Text: "Trees are nice."},
	}, "")
	fmt.Println(v.Winner, v.Provider, v.Attempts, err)
	// Output: e-1 local 1 <nil>
}

func ExampleClassify() {
	for _, status := range []int{429, 529, 500, 404} {
		fmt.Println(status, llmprovider.Classify(&llmprovider.ProviderError{Provider: "anthropic", StatusCode: status}))
	}
	// Output:
	// 429 rate_limited
	// 529 rate_limited
	// 500 retriable
	// 404 rejected
}
