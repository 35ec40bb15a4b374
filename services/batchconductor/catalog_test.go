package batchconductor_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/huleedu/huleedu/services/batchconductor"
)

func TestDefaultCatalogResolvesPipelinesInDependencyOrder(t *testing.T) {
	c := batchconductor.DefaultCatalog()
	tests := map[string][]string{
		"full":          {"spellcheck", "cj_assessment"},
		"spellcheck":    {"spellcheck"},
		"cj_assessment": {"spellcheck", "cj_assessment"},
	}
	for name, want := range tests {
		got, err := c.Resolve(name)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("Resolve(%q) = %v, %v; want %v", name, got, err, want)
		}
	}
}

func TestResolveUnknownPipelineListsKnownOnes(t *testing.T) {
	_, err := batchconductor.DefaultCatalog().Resolve("everything")
	if !errors.Is(err, batchconductor.ErrUnknownPipeline) || !strings.Contains(err.Error(), "cj_assessment, full, spellcheck") {
		t.Fatalf("err = %v", err)
	}
}

func TestNewCatalogRejectsInvalidDefinitions(t *testing.T) {
	tests := []struct {
		name      string
		phases    []batchconductor.Phase
		pipelines []batchconductor.Pipeline
		want      string
	}{
		{"unnamed phase", []batchconductor.Phase{{}}, nil, "a phase has no name"},
		{"duplicate phase", []batchconductor.Phase{{Name: "a"}, {Name: "a"}}, nil, `phase "a" is defined twice`},
		{"unknown dependency", []batchconductor.Phase{{Name: "a", DependsOn: []string{"b"}}}, nil, `depends on unknown phase "b"`},
		{"cycle", []batchconductor.Phase{{Name: "a", DependsOn: []string{"b"}}, {Name: "b", DependsOn: []string{"a"}}},
			[]batchconductor.Pipeline{{Name: "p", Targets: []string{"a"}}}, "dependency cycle a -> b -> a"},
		{"no targets", []batchconductor.Phase{{Name: "a"}}, []batchconductor.Pipeline{{Name: "p"}}, `pipeline "p" has no target phases`},
		{"unknown target", []batchconductor.Phase{{Name: "a"}}, []batchconductor.Pipeline{{Name: "p", Targets: []string{"z"}}}, `unknown phase "z"`},
		{"duplicate pipeline", []batchconductor.Phase{{Name: "a"}},
			[]batchconductor.Pipeline{{Name: "p", Targets: []string{"a"}}, {Name: "p", Targets: []string{"a"}}}, `pipeline "p" is defined twice`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := batchconductor.NewCatalog(tt.phases, tt.pipelines)
			if !errors.Is(err, batchconductor.ErrInvalidCatalog) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want ErrInvalidCatalog mentioning %q", err, tt.want)
			}
		})
	}
}

func TestSharedDependencyAppearsOnce(t *testing.T) {
	c, err := batchconductor.NewCatalog(
		[]batchconductor.Phase{{Name: "base"}, {Name: "x", DependsOn: []string{"base"}}, {Name: "y", DependsOn: []string{"base"}}},
		[]batchconductor.Pipeline{{Name: "both", Targets: []string{"y", "x"}}})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := c.Resolve("both")
	if want := []string{"base", "y", "x"}; !slices.Equal(got, want) {
		t.Errorf("Resolve = %v, want %v", got, want)
	}
}
