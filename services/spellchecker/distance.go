package spellchecker

// osaDistance returns the optimal string alignment distance between a and
// b (the restricted Damerau–Levenshtein distance: insertions, deletions,
// substitutions and transpositions of adjacent characters each cost 1, and
// no substring is edited twice) if it is at most k, and ok false
// otherwise.
//
// It stops as soon as the distance is known to exceed k: with rows of the
// dynamic programme indexed by i, min(row i+1) >= min(min(row i),
// min(row i-1)+1), so once min(row i) > k and min(row i-1) >= k no later
// cell can come back to k. Most dictionary words are rejected after two or
// three rows.
//
// rows is scratch space of at least 3*(len(b)+1) ints, so a caller that
// compares one word against many allocates once.
func osaDistance(a, b []rune, k int, rows []int) (d int, ok bool) {
	la, lb := len(a), len(b)
	if la-lb > k || lb-la > k {
		return 0, false
	}
	if la == 0 || lb == 0 {
		return max(la, lb), true
	}
	n := lb + 1
	prev2, prev, cur := rows[:n], rows[n:2*n], rows[2*n:3*n]
	for j := range prev {
		prev[j] = j
	}
	prevMin := 0
	for i := 1; i <= la; i++ {
		cur[0] = i
		rowMin := i
		ai := a[i-1]
		for j := 1; j <= lb; j++ {
			cost := 1
			if ai == b[j-1] {
				cost = 0
			}
			v := min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ai == b[j-2] && a[i-2] == b[j-1] && prev2[j-2]+1 < v {
				v = prev2[j-2] + 1
			}
			cur[j] = v
			rowMin = min(rowMin, v)
		}
		if rowMin > k && prevMin >= k {
			return 0, false
		}
		prevMin = rowMin
		prev2, prev, cur = prev, cur, prev2
	}
	if d := prev[lb]; d <= k {
		return d, true
	}
	return 0, false
}
