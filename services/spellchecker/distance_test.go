package spellchecker

import (
	"math/rand/v2"
	"testing"
)

// referenceOSA is the textbook full-matrix OSA distance.
func referenceOSA(a, b []rune) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}

func TestOSADistanceKnownPairs(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"teh", "the", 1},         // transposition
		{"recieve", "receive", 1}, // transposition
		{"speling", "spelling", 1},
		{"kitten", "sitting", 3},
		{"ca", "abc", 3}, // OSA, not full Damerau–Levenshtein (which gives 2)
		{"", "abc", 3},
		{"same", "same", 0},
		{"naïve", "naive", 1},
	}
	rows := make([]int, 64)
	for _, tt := range tests {
		d, ok := osaDistance([]rune(tt.a), []rune(tt.b), 3, rows)
		if !ok || d != tt.want {
			t.Errorf("osaDistance(%q, %q) = %d, %v; want %d", tt.a, tt.b, d, ok, tt.want)
		}
	}
}

func TestOSADistanceMatchesReferenceWithinBound(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	letters := []rune("abcde")
	word := func() []rune {
		w := make([]rune, r.IntN(8))
		for i := range w {
			w[i] = letters[r.IntN(len(letters))]
		}
		return w
	}
	rows := make([]int, 64)
	for range 20000 {
		a, b := word(), word()
		want := referenceOSA(a, b)
		for k := 0; k <= 3; k++ {
			d, ok := osaDistance(a, b, k, rows)
			if ok != (want <= k) || (ok && d != want) {
				t.Fatalf("osaDistance(%q, %q, k=%d) = %d, %v; reference %d", string(a), string(b), k, d, ok, want)
			}
		}
	}
}
