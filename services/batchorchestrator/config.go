package batchorchestrator

import "fmt"

// Defaults of Config's zero fields.
const (
	DefaultMaxEssaysPerBatch = 500
	DefaultLanguage          = "en"
	DefaultPipeline          = "full"
)

// Config are the Batch Orchestrator's own settings. The env tags are the
// names servicekit reads them from (prefixed with
// BATCH_ORCHESTRATOR_SERVICE_).
type Config struct {
	// MaxEssaysPerBatch bounds a registration's essay count. Default 500.
	MaxEssaysPerBatch int `env:"MAX_ESSAYS_PER_BATCH"`
	// Language is the essays' language passed to the phases. Default "en".
	Language string `env:"ESSAY_LANGUAGE"`
	// DefaultPipeline is the pipeline of a registration that names none.
	// Default "full".
	DefaultPipeline string `env:"DEFAULT_PIPELINE"`
}

func (c Config) withDefaults() Config {
	if c.MaxEssaysPerBatch == 0 {
		c.MaxEssaysPerBatch = DefaultMaxEssaysPerBatch
	}
	if c.Language == "" {
		c.Language = DefaultLanguage
	}
	if c.DefaultPipeline == "" {
		c.DefaultPipeline = DefaultPipeline
	}
	return c
}

// Validate reports a field out of range, naming it and the accepted range.
func (c Config) Validate() error {
	if c.MaxEssaysPerBatch < 0 || c.MaxEssaysPerBatch > 100_000 {
		return fmt.Errorf("batchorchestrator: MaxEssaysPerBatch = %d: must be in [1, 100000] (0 means default %d)",
			c.MaxEssaysPerBatch, DefaultMaxEssaysPerBatch)
	}
	return nil
}
