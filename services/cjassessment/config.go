package cjassessment

import (
	"fmt"
	"slices"
	"time"
)

// DefaultComparisonsPerEssay is Config.ComparisonsPerEssay's default.
const DefaultComparisonsPerEssay = 6

// DefaultComparisonMaxAttempts is Config.ComparisonMaxAttempts's default.
const DefaultComparisonMaxAttempts = 3

// DefaultComparisonResendAfter is Config.ComparisonResendAfter's default.
const DefaultComparisonResendAfter = 10 * time.Minute

// comparisonProviders are the providers a comparison may prefer (the LLM
// Provider Service's names).
var comparisonProviders = []string{"anthropic", "openai", "openrouter", "local"}

// Config are CJ Assessment's own settings. The env tags are the names
// servicekit reads them from (prefixed with CJ_ASSESSMENT_SERVICE_).
type Config struct {
	// ComparisonsPerEssay is how many other essays each essay is compared
	// with (all others in smaller batches). More comparisons give a more
	// reliable ranking and cost more judge calls: a batch of n essays needs
	// about n*ComparisonsPerEssay/2. Default 6.
	ComparisonsPerEssay int `env:"COMPARISONS_PER_ESSAY"`
	// ComparisonProvider is the LLM provider the comparisons prefer;
	// empty leaves the choice to the LLM Provider Service's order.
	ComparisonProvider string `env:"COMPARISON_PROVIDER"`
	// ComparisonMaxAttempts is how often a comparison that expired in the
	// LLM Provider's queue (no provider could judge it in its TTL), or got
	// an unusable verdict, is sent again before the pair is given up and
	// the batch ranked without it. Default 3.
	ComparisonMaxAttempts int `env:"COMPARISON_MAX_ATTEMPTS"`
	// ComparisonResendAfter is how long a batch may go without a
	// comparison sent or decided before its undecided pairs are sent again
	// (with the same request ids: the LLM Provider queues a request it
	// still holds once, and queues again one it lost in a restart).
	// Default 10m.
	ComparisonResendAfter time.Duration `env:"COMPARISON_RESEND_AFTER"`
	// BTPrior, BTTolerance and BTMaxIterations tune the Bradley–Terry fit
	// (see BTOptions). Zero takes the defaults.
	BTPrior         float64 `env:"BT_PRIOR"`
	BTTolerance     float64 `env:"BT_TOLERANCE"`
	BTMaxIterations int     `env:"BT_MAX_ITERATIONS"`
}

func (c Config) withDefaults() Config {
	if c.ComparisonsPerEssay == 0 {
		c.ComparisonsPerEssay = DefaultComparisonsPerEssay
	}
	if c.ComparisonMaxAttempts == 0 {
		c.ComparisonMaxAttempts = DefaultComparisonMaxAttempts
	}
	if c.ComparisonResendAfter == 0 {
		c.ComparisonResendAfter = DefaultComparisonResendAfter
	}
	return c
}

// Validate reports a field out of range, naming it and the accepted range.
func (c Config) Validate() error {
	switch {
	case c.ComparisonsPerEssay < 0 || c.ComparisonsPerEssay > 1000:
		return fmt.Errorf("cjassessment: ComparisonsPerEssay = %d: must be in [1, 1000] (0 means default %d)", c.ComparisonsPerEssay, DefaultComparisonsPerEssay)
	case c.ComparisonProvider != "" && !slices.Contains(comparisonProviders, c.ComparisonProvider):
		return fmt.Errorf("cjassessment: ComparisonProvider = %q: must be empty or one of %v", c.ComparisonProvider, comparisonProviders)
	case c.ComparisonMaxAttempts < 0 || c.ComparisonMaxAttempts > 100:
		return fmt.Errorf("cjassessment: ComparisonMaxAttempts = %d: must be in [1, 100] (0 means default %d)", c.ComparisonMaxAttempts, DefaultComparisonMaxAttempts)
	case c.ComparisonResendAfter < 0 || (c.ComparisonResendAfter > 0 && c.ComparisonResendAfter < 10*time.Millisecond) || c.ComparisonResendAfter > 24*time.Hour:
		return fmt.Errorf("cjassessment: ComparisonResendAfter = %v: must be between 10ms and 24h (0 means default %v)", c.ComparisonResendAfter, DefaultComparisonResendAfter)
	case c.BTPrior < 0:
		return fmt.Errorf("cjassessment: BTPrior = %g: must be > 0 (0 means default %g)", c.BTPrior, DefaultPrior)
	case c.BTTolerance < 0 || c.BTTolerance >= 1:
		return fmt.Errorf("cjassessment: BTTolerance = %g: must be in (0, 1) (0 means default %g)", c.BTTolerance, DefaultTolerance)
	case c.BTMaxIterations < 0:
		return fmt.Errorf("cjassessment: BTMaxIterations = %d: must be > 0 (0 means default %d)", c.BTMaxIterations, DefaultMaxIterations)
	}
	return nil
}
