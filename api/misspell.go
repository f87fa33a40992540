package api

import (
	"reflect"
	"sort"
	"strings"
)

// closest returns the name among known that name is most likely a
// misspelling of: the only one at the smallest edit distance (a letter
// left out, added, changed or two swapped, case ignored), if that distance
// is small for the name's length. Ties and far names give "": a wrong
// guess misleads more than none.
func closest(name string, known map[string]reflect.Type) string {
	limit := 1
	if len(name) >= 6 {
		limit = 2
	}
	best, bestD, tie := "", limit+1, false
	names := make([]string, 0, len(known))
	for k := range known {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		d := editDistance(strings.ToLower(name), strings.ToLower(k))
		switch {
		case d < bestD:
			best, bestD, tie = k, d, false
		case d == bestD:
			tie = true
		}
	}
	if tie {
		return ""
	}
	return best
}

// editDistance is the optimal string alignment distance of a and b
// (Levenshtein plus the swap of two adjacent letters), over bytes: field
// names are ASCII.
func editDistance(a, b string) int {
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}
