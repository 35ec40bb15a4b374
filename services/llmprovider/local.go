package llmprovider

import (
	"context"
	"fmt"

	"github.com/huleedu/huleedu/services/llmprovider/localjudge"
)

// LocalModel is the model name the local provider reports.
const LocalModel = "localjudge"

// LocalProvider is the deterministic judge of package localjudge as a
// provider: in process, no key, no cost, the same verdict every time. It
// is the embedded default, so the service (and CJ Assessment behind it)
// works with nothing configured.
type LocalProvider struct{}

// Name returns "local".
func (LocalProvider) Name() string { return ProviderLocal }

// Model returns "localjudge".
func (LocalProvider) Model() string { return LocalModel }

// Compare implements Provider.
func (LocalProvider) Compare(ctx context.Context, c Comparison) (Judgement, error) {
	if err := ctx.Err(); err != nil {
		return Judgement{}, err
	}
	sa, sb := localjudge.Score(c.EssayA), localjudge.Score(c.EssayB)
	return Judgement{Winner: localjudge.Compare(c.EssayA, c.EssayB), Confidence: 1, Model: LocalModel,
		Justification: fmt.Sprintf("local judge: score %.3f against %.3f", sa, sb)}, nil
}
