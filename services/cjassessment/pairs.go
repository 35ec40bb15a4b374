package cjassessment

import (
	"crypto/sha256"
	"slices"
	"strings"
)

// Pair is one comparison to make: essays A and B, A shown first.
type Pair struct {
	A, B string
}

// Pairs returns the comparisons for a batch's essays: each essay is
// compared with about perEssay others (all others when there are fewer),
// every pair at most once, and the comparison graph is connected, so
// every essay's score is tied to every other's.
//
// The essays are put in a pseudo-random but deterministic order (by the
// SHA-256 of batch id and essay id, so upload order does not decide who
// meets whom), then essay i meets essays i+1, i+2, ... i+ceil(perEssay/2)
// around the circle. Which essay is shown first alternates, so no essay is
// always first (judges, LLMs included, have a position bias). The same
// batch and essays always give the same pairs.
func Pairs(batchID string, essayIDs []string, perEssay int) []Pair {
	n := len(essayIDs)
	if n < 2 || perEssay < 1 {
		return nil
	}
	ids := slices.Clone(essayIDs)
	key := func(id string) string {
		h := sha256.Sum256([]byte(batchID + "\x00" + id))
		return string(h[:])
	}
	slices.SortFunc(ids, func(a, b string) int {
		if c := strings.Compare(key(a), key(b)); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	steps := min((perEssay+1)/2, n/2)
	seen := map[[2]int]bool{}
	var pairs []Pair
	for d := 1; d <= steps; d++ {
		for i := range n {
			j := (i + d) % n
			k := [2]int{min(i, j), max(i, j)}
			if seen[k] {
				continue
			}
			seen[k] = true
			if (i+d)%2 == 0 {
				pairs = append(pairs, Pair{A: ids[i], B: ids[j]})
			} else {
				pairs = append(pairs, Pair{A: ids[j], B: ids[i]})
			}
		}
	}
	return pairs
}
