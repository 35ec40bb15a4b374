package llmprovider

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Price is what a model costs, in US dollars per million tokens.
type Price struct {
	Input, Output float64
}

// Prices is a price table by model name. A model that is not in it costs
// 0: its tokens are still counted (llm_tokens_total), its cost is not.
type Prices map[string]Price

// DefaultPrices are the list prices of the default models (USD per
// million input and output tokens). LLM_PRICES adds to and overrides them.
func DefaultPrices() Prices {
	return Prices{
		DefaultAnthropicModel:  {Input: 1, Output: 5},
		DefaultOpenRouterModel: {Input: 1, Output: 5},
		LocalModel:             {},
	}
}

// Cost returns the estimated cost of a call in US dollars.
func (p Prices) Cost(model string, inputTokens, outputTokens int64) float64 {
	pr, ok := p[model]
	if !ok {
		return 0
	}
	return (float64(inputTokens)*pr.Input + float64(outputTokens)*pr.Output) / 1e6
}

// ParsePrices reads LLM_PRICES: comma-separated model=input:output
// entries, in USD per million tokens ("claude-haiku-4-5=1:5,gpt-5.4-mini=0.25:2").
// Errors name the entry and the accepted form.
func ParsePrices(s string) (Prices, error) {
	p := Prices{}
	for _, entry := range strings.Split(s, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		model, rest, ok := strings.Cut(entry, "=")
		in, out, ok2 := strings.Cut(rest, ":")
		model = strings.TrimSpace(model)
		if !ok || !ok2 || model == "" {
			return nil, fmt.Errorf("entry %q: want model=input:output (USD per million tokens)", entry)
		}
		var pr Price
		for _, f := range []struct {
			s string
			v *float64
		}{{in, &pr.Input}, {out, &pr.Output}} {
			v, err := strconv.ParseFloat(strings.TrimSpace(f.s), 64)
			if err != nil || v < 0 || math.IsInf(v, 0) || math.IsNaN(v) {
				return nil, fmt.Errorf("entry %q: prices must be non-negative numbers (USD per million tokens)", entry)
			}
			*f.v = v
		}
		p[model] = pr
	}
	return p, nil
}

// with returns p with over's entries added or replaced.
func (p Prices) with(over Prices) Prices {
	out := maps.Clone(p)
	maps.Copy(out, over)
	return out
}

// String formats p as ParsePrices reads it, sorted by model.
func (p Prices) String() string {
	parts := make([]string, 0, len(p))
	for _, m := range slices.Sorted(maps.Keys(p)) {
		parts = append(parts, fmt.Sprintf("%s=%g:%g", m, p[m].Input, p[m].Output))
	}
	return strings.Join(parts, ",")
}
