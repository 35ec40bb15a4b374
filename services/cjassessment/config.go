package cjassessment

import "fmt"

// DefaultComparisonsPerEssay is Config.ComparisonsPerEssay's default.
const DefaultComparisonsPerEssay = 6

// Config are CJ Assessment's own settings. The env tags are the names
// servicekit reads them from (prefixed with CJ_ASSESSMENT_SERVICE_).
type Config struct {
	// ComparisonsPerEssay is how many other essays each essay is compared
	// with (all others in smaller batches). More comparisons give a more
	// reliable ranking and cost more judge calls: a batch of n essays needs
	// about n*ComparisonsPerEssay/2. Default 6.
	ComparisonsPerEssay int `env:"COMPARISONS_PER_ESSAY"`
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
	return c
}

// Validate reports a field out of range, naming it and the accepted range.
func (c Config) Validate() error {
	switch {
	case c.ComparisonsPerEssay < 0 || c.ComparisonsPerEssay > 1000:
		return fmt.Errorf("cjassessment: ComparisonsPerEssay = %d: must be in [1, 1000] (0 means default %d)", c.ComparisonsPerEssay, DefaultComparisonsPerEssay)
	case c.BTPrior < 0:
		return fmt.Errorf("cjassessment: BTPrior = %g: must be > 0 (0 means default %g)", c.BTPrior, DefaultPrior)
	case c.BTTolerance < 0 || c.BTTolerance >= 1:
		return fmt.Errorf("cjassessment: BTTolerance = %g: must be in (0, 1) (0 means default %g)", c.BTTolerance, DefaultTolerance)
	case c.BTMaxIterations < 0:
		return fmt.Errorf("cjassessment: BTMaxIterations = %d: must be > 0 (0 means default %d)", c.BTMaxIterations, DefaultMaxIterations)
	}
	return nil
}
