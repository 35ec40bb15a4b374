package cjassessment

import (
	"errors"
	"fmt"
	"math"
	"slices"
)

// ErrInvalidComparisons is wrapped by FitBradleyTerry errors for
// comparisons that name unknown essays or an essay against itself.
var ErrInvalidComparisons = errors.New("cjassessment: invalid comparisons")

// Defaults of BTOptions' zero fields.
const (
	DefaultPrior         = 1.0
	DefaultTolerance     = 1e-9
	DefaultMaxIterations = 10_000
)

// Comparison is one judgement: A against B, won by Winner (A, B, or "" for
// a tie).
type Comparison struct {
	A      string `json:"a"`
	B      string `json:"b"`
	Winner string `json:"winner"`
}

// BTOptions tune FitBradleyTerry. Zero fields take the defaults.
type BTOptions struct {
	// Prior is the weight of the regularising prior: every essay is
	// treated as if it had also won Prior and lost Prior games against a
	// reference essay of strength 1. It keeps the scores of essays that
	// won (or lost) every comparison finite, and pulls scores resting on
	// few comparisons toward the middle. Default 1.
	Prior float64
	// Tolerance ends the iteration when no log-strength moves by more than
	// it. Default 1e-9.
	Tolerance float64
	// MaxIterations bounds the iteration. Default 10000.
	MaxIterations int
}

// BTFit is the result of FitBradleyTerry.
type BTFit struct {
	// Scores are the log-strengths by essay id, centred on 0: the
	// difference of two scores is the log-odds that the first essay beats
	// the second.
	Scores map[string]float64
	// Iterations is the number of MM iterations run.
	Iterations int
	// Converged is false when MaxIterations ran out before Tolerance was
	// met; Scores are then the last estimate.
	Converged bool
}

// FitBradleyTerry fits the Bradley–Terry model P(i beats j) = p_i / (p_i +
// p_j) to the comparisons, with Hunter's (2004) minorisation–maximisation
// iteration
//
//	p_i <- (W_i + prior) / (sum_j n_ij / (p_i + p_j) + 2*prior / (p_i + 1))
//
// where W_i counts i's wins (a tie is half a win for each side) and n_ij
// the comparisons of i and j. The prior terms are the virtual games of
// BTOptions.Prior against a reference of strength 1; they also fix the
// scale, so no renormalisation is needed, and make the iteration converge
// for any comparison graph, even a disconnected one or one where an essay
// never lost. Essays without comparisons get score 0 before centring.
func FitBradleyTerry(essayIDs []string, comps []Comparison, opts BTOptions) (BTFit, error) {
	if opts.Prior <= 0 {
		opts.Prior = DefaultPrior
	}
	if opts.Tolerance <= 0 {
		opts.Tolerance = DefaultTolerance
	}
	if opts.MaxIterations <= 0 {
		opts.MaxIterations = DefaultMaxIterations
	}
	n := len(essayIDs)
	index := make(map[string]int, n)
	for i, id := range essayIDs {
		if _, dup := index[id]; dup {
			return BTFit{}, fmt.Errorf("%w: essay %q listed twice", ErrInvalidComparisons, id)
		}
		index[id] = i
	}
	wins := make([]float64, n)
	games := make([]map[int]float64, n)
	for i := range games {
		games[i] = map[int]float64{}
	}
	for k, c := range comps {
		a, okA := index[c.A]
		b, okB := index[c.B]
		switch {
		case !okA || !okB:
			return BTFit{}, fmt.Errorf("%w: comparison %d (%q vs %q) names an unknown essay", ErrInvalidComparisons, k, c.A, c.B)
		case a == b:
			return BTFit{}, fmt.Errorf("%w: comparison %d compares %q with itself", ErrInvalidComparisons, k, c.A)
		}
		switch c.Winner {
		case c.A:
			wins[a]++
		case c.B:
			wins[b]++
		case "":
			wins[a] += 0.5
			wins[b] += 0.5
		default:
			return BTFit{}, fmt.Errorf("%w: comparison %d (%q vs %q) won by %q", ErrInvalidComparisons, k, c.A, c.B, c.Winner)
		}
		games[a][b]++
		games[b][a]++
	}

	// Adjacency in a fixed order: summing in map order would make the
	// last bits of the scores, and so the order of near-ties, vary between
	// runs.
	type opponent struct {
		j     int
		games float64
	}
	adj := make([][]opponent, n)
	for i, m := range games {
		for j, g := range m {
			adj[i] = append(adj[i], opponent{j, g})
		}
		slices.SortFunc(adj[i], func(x, y opponent) int { return x.j - y.j })
	}

	p := make([]float64, n)
	next := make([]float64, n)
	for i := range p {
		p[i] = 1
	}
	fit := BTFit{Scores: make(map[string]float64, n)}
	for fit.Iterations < opts.MaxIterations {
		fit.Iterations++
		delta := 0.0
		for i := range p {
			denom := 2 * opts.Prior / (p[i] + 1)
			for _, o := range adj[i] {
				denom += o.games / (p[i] + p[o.j])
			}
			next[i] = (wins[i] + opts.Prior) / denom
			delta = math.Max(delta, math.Abs(math.Log(next[i])-math.Log(p[i])))
		}
		p, next = next, p
		if delta < opts.Tolerance {
			fit.Converged = true
			break
		}
	}
	mean := 0.0
	for _, v := range p {
		mean += math.Log(v)
	}
	if n > 0 {
		mean /= float64(n)
	}
	for i, id := range essayIDs {
		fit.Scores[id] = math.Log(p[i]) - mean
	}
	return fit, nil
}

// rank orders essay ids by score, best first; equal scores go by essay id
// so ranks are deterministic.
func rank(scores map[string]float64) []string {
	ids := make([]string, 0, len(scores))
	for id := range scores {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b string) int {
		if sa, sb := scores[a], scores[b]; sa != sb {
			if sa > sb {
				return -1
			}
			return 1
		}
		if a < b {
			return -1
		}
		if a > b {
			return 1
		}
		return 0
	})
	return ids
}
