package cjassessment_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/huleedu/huleedu/services/cjassessment"
)

func essayIDs(n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("essay-%02d", i)
	}
	return ids
}

func TestPairsCompareEachEssayWithSeveralOthers(t *testing.T) {
	tests := []struct {
		n, perEssay, wantPairs, wantDegree int
	}{
		{2, 6, 1, 1},
		{4, 6, 6, 3},   // all pairs
		{5, 6, 10, 4},  // all pairs
		{10, 6, 30, 6}, // 10 essays x 6 / 2
		{10, 3, 20, 4}, // perEssay rounds up to an even degree
		{30, 6, 90, 6},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("n=%d,k=%d", tt.n, tt.perEssay), func(t *testing.T) {
			pairs := cjassessment.Pairs("batch-1", essayIDs(tt.n), tt.perEssay)
			if len(pairs) != tt.wantPairs {
				t.Fatalf("%d pairs, want %d", len(pairs), tt.wantPairs)
			}
			degree := map[string]int{}
			first := map[string]int{}
			seen := map[[2]string]bool{}
			for _, p := range pairs {
				if p.A == p.B {
					t.Fatalf("self pair %v", p)
				}
				k := [2]string{min(p.A, p.B), max(p.A, p.B)}
				if seen[k] {
					t.Fatalf("pair %v twice", k)
				}
				seen[k] = true
				degree[p.A]++
				degree[p.B]++
				first[p.A]++
			}
			for _, id := range essayIDs(tt.n) {
				if degree[id] != tt.wantDegree {
					t.Errorf("%s in %d comparisons, want %d", id, degree[id], tt.wantDegree)
				}
				if tt.n >= 5 && (first[id] == 0 || first[id] == degree[id]) {
					t.Errorf("%s shown first in %d of %d comparisons; want a mix", id, first[id], degree[id])
				}
			}
			if !connected(pairs, essayIDs(tt.n)) {
				t.Error("comparison graph is not connected")
			}
		})
	}
}

func connected(pairs []cjassessment.Pair, ids []string) bool {
	adj := map[string][]string{}
	for _, p := range pairs {
		adj[p.A] = append(adj[p.A], p.B)
		adj[p.B] = append(adj[p.B], p.A)
	}
	seen := map[string]bool{ids[0]: true}
	queue := []string{ids[0]}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		for _, n := range adj[cur] {
			if !seen[n] {
				seen[n] = true
				queue = append(queue, n)
			}
		}
	}
	return len(seen) == len(ids)
}

func TestPairsAreDeterministicAndIndependentOfInputOrder(t *testing.T) {
	ids := essayIDs(12)
	a := cjassessment.Pairs("batch-1", ids, 6)
	rev := slices.Clone(ids)
	slices.Reverse(rev)
	b := cjassessment.Pairs("batch-1", rev, 6)
	if !slices.Equal(a, b) {
		t.Error("pairs depend on the order of the essay ids")
	}
	if c := cjassessment.Pairs("batch-2", ids, 6); slices.Equal(a, c) {
		t.Error("two batches with the same essay ids got the same pairing; the order should depend on the batch")
	}
}

func TestPairsOfFewerThanTwoEssaysIsEmpty(t *testing.T) {
	if p := cjassessment.Pairs("b", []string{"only"}, 6); len(p) != 0 {
		t.Errorf("pairs = %v", p)
	}
}
