package llmprovider

import (
	"context"

	"github.com/huleedu/huleedu/services/contracts"
)

// Provider names, which are also the suffixes of their breakers
// ("llm_anthropic", ...).
const (
	ProviderAnthropic  = "anthropic"
	ProviderOpenAI     = "openai"
	ProviderOpenRouter = "openrouter"
	ProviderLocal      = "local"
)

// KnownProviders are the providers the service can run, in the default
// fallback order.
var KnownProviders = []string{ProviderAnthropic, ProviderOpenAI, ProviderOpenRouter, ProviderLocal}

// BreakerName returns the name of provider's circuit breaker:
// "llm_anthropic", "llm_openai", "llm_openrouter", "llm_local".
func BreakerName(provider string) string { return "llm_" + provider }

// Comparison is one question for a judge: which essay is better?
type Comparison struct {
	EssayA, EssayB contracts.LLMEssay
	// Prompt is the assignment; Rubric what makes an essay better (empty:
	// DefaultRubric).
	Prompt, Rubric string
	// Model overrides the provider's configured model when not empty.
	Model string
}

// Judgement is a provider's answer.
type Judgement struct {
	// Winner is EssayA.ID or EssayB.ID, or "" for a tie.
	Winner        string
	Confidence    float64
	Justification string
	// Model is the model that answered, as the provider reports it.
	Model        string
	InputTokens  int64
	OutputTokens int64
}

// Provider asks one LLM API (or the local judge) for a judgement. Compare
// makes exactly one attempt: no retries of its own (the SDKs' retries are
// off), bounded by ctx. Its errors are *ProviderError values, or wrap
// ErrInvalidVerdict, ErrMalformedResponse or ctx's error; Classify says
// what they mean.
type Provider interface {
	// Name is one of the Provider* names.
	Name() string
	// Model is the model asked when the comparison names none.
	Model() string
	Compare(ctx context.Context, c Comparison) (Judgement, error)
}
