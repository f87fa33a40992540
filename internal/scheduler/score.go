package scheduler

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/placement"
)

// score rates a node that fits: balance (0..100) plus image cache hits.
func score(n *Node, r *Request, p Policy) float64 {
	after := placement.Add(n.Used, r.Amounts)
	var sum float64
	var count int
	share := func(alloc, used int64) {
		if alloc > 0 {
			sum += float64(used) / float64(alloc)
			count++
		}
	}
	share(n.Allocatable.MilliCPU, after.MilliCPU)
	share(n.Allocatable.Memory, after.Memory)
	share(n.Allocatable.Storage, after.Storage)
	var s float64
	if count > 0 {
		used := sum / float64(count) * 100
		s = 100 - used // spread: the emptier the better
		if p == Pack {
			s = used
		}
	}
	if len(r.Images) > 0 {
		hits := 0
		for _, img := range r.Images {
			if n.Images[img] {
				hits++
			}
		}
		s += ImageBonus * float64(hits) / float64(len(r.Images))
	}
	return s
}

// NoNodes is the message when there is no node at all.
const NoNodes = "no nodes are registered"

// summarize writes "0/5 nodes fit: 3 insufficient memory (needs 4G, free
// 1.5G), 1 cordoned, 1 NotReady": categories by count (then name); for
// capacity the request and the most any node of the group has free.
func summarize(total int, misses []miss, r *Request) string {
	if total == 0 {
		return NoNodes
	}
	type group struct {
		cat  string
		n    int
		text string
		free api.Amounts
	}
	groups := map[string]*group{}
	for _, m := range misses {
		g := groups[m.cat]
		if g == nil {
			g = &group{cat: m.cat, text: m.text, free: m.free}
			groups[m.cat] = g
		}
		g.n++
		g.free = maxAmounts(g.free, m.free)
		if m.text != g.text && !isCapacity(m.cat) {
			g.text = m.cat // differing details: the category alone
		}
	}
	list := make([]*group, 0, len(groups))
	for _, g := range groups {
		list = append(list, g)
	}
	sort.Slice(list, func(i, j int) bool {
		if list[i].n != list[j].n {
			return list[i].n > list[j].n
		}
		return list[i].cat < list[j].cat
	})
	parts := make([]string, len(list))
	for i, g := range list {
		text := g.text
		if isCapacity(g.cat) {
			text = placement.Shortfall(enforced(g.cat), g.free, r.Amounts)
		}
		parts[i] = fmt.Sprintf("%d %s", g.n, text)
	}
	msg := fmt.Sprintf("0/%d nodes fit", total)
	if len(parts) > 0 {
		msg += ": " + strings.Join(parts, ", ")
	}
	return msg
}

// enforced is an allocatable that enforces (0) only the resources a
// capacity category names and leaves the others unlimited (-1), so a
// group's summary names what its nodes are short of and nothing else.
func enforced(cat string) api.Amounts {
	res := strings.Split(strings.TrimPrefix(cat, "insufficient "), ", ")
	pick := func(name string) int64 {
		if slices.Contains(res, name) {
			return 0
		}
		return -1
	}
	return api.Amounts{MilliCPU: pick("cpu"), Memory: pick("memory"), Storage: pick("storage")}
}

func isCapacity(cat string) bool { return strings.HasPrefix(cat, "insufficient ") }

func maxAmounts(a, b api.Amounts) api.Amounts {
	return api.Amounts{MilliCPU: max(a.MilliCPU, b.MilliCPU), Memory: max(a.Memory, b.Memory), Storage: max(a.Storage, b.Storage)}
}
