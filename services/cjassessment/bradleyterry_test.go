package cjassessment_test

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/huleedu/huleedu/services/cjassessment"
)

// simulate plays every pair of essays games times under the Bradley–Terry
// model with the given log-strengths, with a seeded generator.
func simulate(strengths map[string]float64, ids []string, games int, seed uint64) []cjassessment.Comparison {
	r := rand.New(rand.NewPCG(seed, seed+1))
	var comps []cjassessment.Comparison
	for i, a := range ids {
		for _, b := range ids[i+1:] {
			pa := 1 / (1 + math.Exp(strengths[b]-strengths[a]))
			for range games {
				w := b
				if r.Float64() < pa {
					w = a
				}
				comps = append(comps, cjassessment.Comparison{A: a, B: b, Winner: w})
			}
		}
	}
	return comps
}

func TestFitRecoversKnownOrderingFromSyntheticComparisons(t *testing.T) {
	ids := []string{"e1", "e2", "e3", "e4", "e5", "e6", "e7", "e8"}
	truth := map[string]float64{}
	for i, id := range ids {
		truth[id] = float64(len(ids)-i) * 0.8 // e1 strongest
	}
	for seed := uint64(1); seed <= 5; seed++ {
		fit, err := cjassessment.FitBradleyTerry(ids, simulate(truth, ids, 40, seed), cjassessment.BTOptions{})
		if err != nil || !fit.Converged {
			t.Fatalf("seed %d: err %v, converged %v", seed, err, fit.Converged)
		}
		got := slices.Clone(ids)
		slices.SortFunc(got, func(a, b string) int {
			if fit.Scores[a] > fit.Scores[b] {
				return -1
			}
			return 1
		})
		if !slices.Equal(got, ids) {
			t.Errorf("seed %d: fitted order %v, want %v", seed, got, ids)
		}
		// The fitted gap between neighbours estimates the true 0.8.
		gap := (fit.Scores["e1"] - fit.Scores["e8"]) / 7
		if gap < 0.6 || gap > 1.0 {
			t.Errorf("seed %d: mean neighbour gap %.3f, want about 0.8", seed, gap)
		}
	}
}

func TestFitKeepsUnbeatenEssayFinite(t *testing.T) {
	comps := []cjassessment.Comparison{
		{A: "champ", B: "b", Winner: "champ"}, {A: "champ", B: "c", Winner: "champ"},
		{A: "b", B: "c", Winner: "b"}, {A: "c", B: "loser", Winner: "c"}, {A: "b", B: "loser", Winner: "b"},
	}
	fit, err := cjassessment.FitBradleyTerry([]string{"champ", "b", "c", "loser"}, comps, cjassessment.BTOptions{})
	if err != nil || !fit.Converged {
		t.Fatalf("err %v converged %v", err, fit.Converged)
	}
	for id, s := range fit.Scores {
		if math.IsInf(s, 0) || math.IsNaN(s) {
			t.Errorf("score of %s = %v", id, s)
		}
	}
	if !(fit.Scores["champ"] > fit.Scores["b"] && fit.Scores["b"] > fit.Scores["c"] && fit.Scores["c"] > fit.Scores["loser"]) {
		t.Errorf("scores %v not in the order champ > b > c > loser", fit.Scores)
	}
}

func TestFitScoresTiedEssaysEqually(t *testing.T) {
	comps := []cjassessment.Comparison{{A: "a", B: "b"}, {A: "b", B: "a"}, {A: "a", B: "b"}}
	fit, err := cjassessment.FitBradleyTerry([]string{"a", "b"}, comps, cjassessment.BTOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if d := math.Abs(fit.Scores["a"] - fit.Scores["b"]); d > 1e-9 {
		t.Errorf("tied essays differ by %g", d)
	}
}

func TestFitGivesUncomparedEssayTheMiddleScore(t *testing.T) {
	comps := []cjassessment.Comparison{{A: "a", B: "b", Winner: "a"}}
	fit, err := cjassessment.FitBradleyTerry([]string{"a", "b", "alone"}, comps, cjassessment.BTOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !(fit.Scores["a"] > fit.Scores["alone"] && fit.Scores["alone"] > fit.Scores["b"]) {
		t.Errorf("scores %v: an essay without comparisons should sit between winner and loser", fit.Scores)
	}
}

func TestFitIsDeterministic(t *testing.T) {
	ids := []string{"a", "b", "c", "d", "e", "f"}
	truth := map[string]float64{"a": 1, "b": 0.2, "c": 0.5, "d": -1, "e": 0, "f": 0.3}
	comps := simulate(truth, ids, 3, 7)
	first, _ := cjassessment.FitBradleyTerry(ids, comps, cjassessment.BTOptions{})
	for range 20 {
		again, _ := cjassessment.FitBradleyTerry(ids, comps, cjassessment.BTOptions{})
		for _, id := range ids {
			if math.Float64bits(first.Scores[id]) != math.Float64bits(again.Scores[id]) {
				t.Fatalf("score of %s: %v then %v", id, first.Scores[id], again.Scores[id])
			}
		}
	}
}

func TestFitReportsWhenIterationsRunOut(t *testing.T) {
	comps := simulate(map[string]float64{"a": 2, "b": 0, "c": -2}, []string{"a", "b", "c"}, 5, 3)
	fit, err := cjassessment.FitBradleyTerry([]string{"a", "b", "c"}, comps, cjassessment.BTOptions{MaxIterations: 2})
	if err != nil || fit.Converged || fit.Iterations != 2 {
		t.Errorf("err %v converged %v iterations %d; want not converged after 2", err, fit.Converged, fit.Iterations)
	}
}

func TestFitRejectsInvalidComparisons(t *testing.T) {
	tests := []struct {
		name  string
		ids   []string
		comps []cjassessment.Comparison
	}{
		{"unknown essay", []string{"a", "b"}, []cjassessment.Comparison{{A: "a", B: "z", Winner: "a"}}},
		{"self comparison", []string{"a", "b"}, []cjassessment.Comparison{{A: "a", B: "a", Winner: "a"}}},
		{"foreign winner", []string{"a", "b"}, []cjassessment.Comparison{{A: "a", B: "b", Winner: "c"}}},
		{"duplicate id", []string{"a", "a"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := cjassessment.FitBradleyTerry(tt.ids, tt.comps, cjassessment.BTOptions{}); !errors.Is(err, cjassessment.ErrInvalidComparisons) {
				t.Errorf("err = %v, want ErrInvalidComparisons", err)
			}
		})
	}
}

func ExampleFitBradleyTerry() {
	comps := []cjassessment.Comparison{
		{A: "alice", B: "bob", Winner: "alice"},
		{A: "bob", B: "carol", Winner: "bob"},
		{A: "carol", B: "alice", Winner: "alice"},
		{A: "bob", B: "alice", Winner: "alice"},
	}
	fit, err := cjassessment.FitBradleyTerry([]string{"alice", "bob", "carol"}, comps, cjassessment.BTOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("alice %.2f, bob %.2f, carol %.2f, converged %v\n",
		fit.Scores["alice"], fit.Scores["bob"], fit.Scores["carol"], fit.Converged)
	// Output: alice 1.14, bob -0.20, carol -0.94, converged true
}
