package batchconductor

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/huleedu/huleedu/services/contracts"
)

// ErrUnknownPipeline is wrapped by Resolve errors for a pipeline name the
// catalog does not define.
var ErrUnknownPipeline = errors.New("batchconductor: unknown pipeline")

// ErrInvalidCatalog is wrapped by NewCatalog errors.
var ErrInvalidCatalog = errors.New("batchconductor: invalid catalog")

// Phase is a processing step and the phases whose results it needs.
type Phase struct {
	Name      string
	DependsOn []string
}

// Pipeline is a named request for some target phases. Resolving it adds
// the phases they depend on, in dependency order.
type Pipeline struct {
	Name        string
	Description string
	Targets     []string
}

// Catalog is a validated set of phases and pipelines. It is immutable and
// safe for concurrent use.
type Catalog struct {
	phases    map[string]Phase
	pipelines map[string]Pipeline
	resolved  map[string][]string
}

// DefaultCatalog is the platform's catalog: CJ assessment depends on
// spellchecking (the judge weighs spelling errors), and three pipelines:
//
//	full           spellcheck, cj_assessment
//	spellcheck     spellcheck
//	cj_assessment  spellcheck, cj_assessment
func DefaultCatalog() *Catalog {
	c, err := NewCatalog(
		[]Phase{
			{Name: contracts.PhaseSpellcheck},
			{Name: contracts.PhaseCJAssessment, DependsOn: []string{contracts.PhaseSpellcheck}},
		},
		[]Pipeline{
			{Name: "full", Description: "every phase: spellcheck, then comparative judgement", Targets: []string{contracts.PhaseCJAssessment}},
			{Name: "spellcheck", Description: "spellchecking only", Targets: []string{contracts.PhaseSpellcheck}},
			{Name: "cj_assessment", Description: "comparative judgement and the phases it needs", Targets: []string{contracts.PhaseCJAssessment}},
		})
	if err != nil {
		panic(err) // the literal above is valid; TestDefaultCatalogResolves proves it
	}
	return c
}

// NewCatalog validates phases and pipelines and resolves every pipeline
// once. It rejects duplicate or empty names, dependencies on unknown
// phases, dependency cycles and pipelines without targets or with unknown
// ones; every error wraps ErrInvalidCatalog and names the culprit.
func NewCatalog(phases []Phase, pipelines []Pipeline) (*Catalog, error) {
	c := &Catalog{phases: map[string]Phase{}, pipelines: map[string]Pipeline{}, resolved: map[string][]string{}}
	for _, p := range phases {
		if p.Name == "" {
			return nil, fmt.Errorf("%w: a phase has no name", ErrInvalidCatalog)
		}
		if _, dup := c.phases[p.Name]; dup {
			return nil, fmt.Errorf("%w: phase %q is defined twice", ErrInvalidCatalog, p.Name)
		}
		c.phases[p.Name] = Phase{Name: p.Name, DependsOn: slices.Clone(p.DependsOn)}
	}
	for _, p := range phases {
		for _, d := range p.DependsOn {
			if _, ok := c.phases[d]; !ok {
				return nil, fmt.Errorf("%w: phase %q depends on unknown phase %q", ErrInvalidCatalog, p.Name, d)
			}
		}
	}
	for _, pl := range pipelines {
		if pl.Name == "" {
			return nil, fmt.Errorf("%w: a pipeline has no name", ErrInvalidCatalog)
		}
		if _, dup := c.pipelines[pl.Name]; dup {
			return nil, fmt.Errorf("%w: pipeline %q is defined twice", ErrInvalidCatalog, pl.Name)
		}
		if len(pl.Targets) == 0 {
			return nil, fmt.Errorf("%w: pipeline %q has no target phases", ErrInvalidCatalog, pl.Name)
		}
		order, err := c.order(pl.Targets)
		if err != nil {
			return nil, fmt.Errorf("%w: pipeline %q: %w", ErrInvalidCatalog, pl.Name, err)
		}
		c.pipelines[pl.Name] = Pipeline{Name: pl.Name, Description: pl.Description, Targets: slices.Clone(pl.Targets)}
		c.resolved[pl.Name] = order
	}
	return c, nil
}

// order returns targets and their dependencies, every phase after the ones
// it depends on, in a deterministic order: depth first, dependencies in
// the order they are declared, targets in the order given.
func (c *Catalog) order(targets []string) ([]string, error) {
	const (
		visiting = 1
		done     = 2
	)
	mark := map[string]int{}
	var out []string
	var visit func(name string, path []string) error
	visit = func(name string, path []string) error {
		switch mark[name] {
		case done:
			return nil
		case visiting:
			return fmt.Errorf("dependency cycle %s", strings.Join(append(path, name), " -> "))
		}
		p, ok := c.phases[name]
		if !ok {
			return fmt.Errorf("unknown phase %q", name)
		}
		mark[name] = visiting
		for _, d := range p.DependsOn {
			if err := visit(d, append(path, name)); err != nil {
				return err
			}
		}
		mark[name] = done
		out = append(out, name)
		return nil
	}
	for _, t := range targets {
		if err := visit(t, nil); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Resolve returns the ordered phases of the named pipeline. An unknown
// name is an error wrapping ErrUnknownPipeline that lists the known ones.
func (c *Catalog) Resolve(name string) ([]string, error) {
	order, ok := c.resolved[name]
	if !ok {
		return nil, fmt.Errorf("%w: %q; known pipelines: %s", ErrUnknownPipeline, name, strings.Join(c.Names(), ", "))
	}
	return slices.Clone(order), nil
}

// Names returns the pipeline names, sorted.
func (c *Catalog) Names() []string {
	names := make([]string, 0, len(c.pipelines))
	for n := range c.pipelines {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Pipeline returns the definition of the named pipeline.
func (c *Catalog) Pipeline(name string) (Pipeline, bool) {
	p, ok := c.pipelines[name]
	return p, ok
}
