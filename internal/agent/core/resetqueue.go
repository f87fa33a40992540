package core

import (
	"cmp"
	"slices"
	"time"

	"github.com/humstack/humstack/internal/controller"
)

// DefaultResetsPerNode is how many resets may run at once on one node
// (the Core agent's config key resets.perNode).
const DefaultResetsPerNode = 2

// resetJob is a queued reset as the queue sees it.
type resetJob struct {
	key      controller.Key
	priority int
	created  time.Time
	// nodes are the nodes its copy's VMs are on: it takes a slot on each.
	nodes []string
}

// resetPlan is the queue's decision: the jobs that start now, and the
// place of every other due job (1: next).
type resetPlan struct {
	start    map[controller.Key]bool
	position map[controller.Key]int
	// waitsFor names, for a job that cannot start, a node whose slots are
	// taken (or held for a job before it).
	waitsFor map[controller.Key]string
}

// planResets orders the due jobs (priority, highest first; then the
// oldest; then by key) and starts each one whose nodes all have a free
// slot (busy counts the slots taken on each node, perNode is the limit).
// A job that cannot start reserves a slot on each of its nodes: a later
// job needing the last slot of one of them waits behind it, so a job
// spanning many nodes is not overtaken forever by small ones, while a
// later job on other nodes (or on nodes with room for both) starts.
func planResets(jobs []resetJob, busy map[string]int, perNode int) resetPlan {
	jobs = slices.Clone(jobs)
	slices.SortFunc(jobs, func(a, b resetJob) int {
		if c := cmp.Compare(b.priority, a.priority); c != 0 {
			return c
		}
		if c := a.created.Compare(b.created); c != 0 {
			return c
		}
		return cmp.Compare(a.key.String(), b.key.String())
	})
	used := make(map[string]int, len(busy))
	for n, c := range busy {
		used[n] = c
	}
	p := resetPlan{start: map[controller.Key]bool{}, position: map[controller.Key]int{}, waitsFor: map[controller.Key]string{}}
	pos := 0
	for _, j := range jobs {
		blocker := ""
		for _, n := range j.nodes {
			if used[n] >= perNode {
				blocker = n
				break
			}
		}
		if blocker == "" {
			p.start[j.key] = true
			for _, n := range j.nodes {
				used[n]++
			}
			continue
		}
		pos++
		p.position[j.key], p.waitsFor[j.key] = pos, blocker
		for _, n := range j.nodes {
			used[n]++
		}
	}
	return p
}
