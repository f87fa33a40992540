package core

import (
	"fmt"
	"testing"
	"time"

	"github.com/humstack/humstack/internal/controller"
)

func job(id string, prio int, ageSec int, nodes ...string) resetJob {
	return resetJob{key: controller.Key{Group: "g", Namespace: id, ID: "r"}, priority: prio,
		created: time.Unix(1000-int64(ageSec), 0), nodes: nodes}
}

func started(p resetPlan) string {
	var s []string
	for _, id := range []string{"a", "b", "c", "d", "e"} {
		if p.start[controller.Key{Group: "g", Namespace: id, ID: "r"}] {
			s = append(s, id)
		}
	}
	return fmt.Sprint(s)
}

func pos(p resetPlan, id string) int {
	return p.position[controller.Key{Group: "g", Namespace: id, ID: "r"}]
}

// TestPlanResets: priority then age orders the queue; a job starts when
// each of its nodes has a free slot; a job that waits reserves a slot on
// its nodes, so later jobs do not overtake it there, but do elsewhere.
func TestPlanResets(t *testing.T) {
	for _, c := range []struct {
		name    string
		jobs    []resetJob
		busy    map[string]int
		perNode int
		start   string
		pos     map[string]int
	}{
		{"oldest first", []resetJob{job("a", 0, 1, "n1"), job("b", 0, 5, "n1"), job("c", 0, 3, "n1")}, nil, 2,
			"[b c]", map[string]int{"a": 1}},
		{"priority first", []resetJob{job("a", 0, 9, "n1"), job("b", 3, 1, "n1"), job("c", 0, 3, "n1")}, nil, 1,
			"[b]", map[string]int{"a": 1, "c": 2}},
		{"running jobs take slots", []resetJob{job("a", 0, 1, "n1"), job("b", 0, 2, "n2")}, map[string]int{"n1": 2}, 2,
			"[b]", map[string]int{"a": 1}},
		// a waits for n1; b would take n2's last slot, which a reserves;
		// c is on n3 alone.
		{"reservation", []resetJob{job("a", 0, 9, "n1", "n2"), job("b", 0, 5, "n2"), job("c", 0, 1, "n3")},
			map[string]int{"n1": 1, "n2": 0}, 1, "[c]", map[string]int{"a": 1, "b": 2}},
		{"room for both", []resetJob{job("a", 0, 9, "n1", "n2"), job("b", 0, 5, "n2")},
			map[string]int{"n1": 2}, 2, "[b]", map[string]int{"a": 1}},
		{"no VMs placed: no slot", []resetJob{job("a", 0, 9)}, map[string]int{"n1": 9}, 1, "[a]", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := planResets(c.jobs, c.busy, nil, c.perNode)
			if got := started(p); got != c.start {
				t.Errorf("started %s, want %s", got, c.start)
			}
			for id, want := range c.pos {
				if got := pos(p, id); got != want {
					t.Errorf("position of %s %d, want %d", id, got, want)
				}
			}
			if len(p.position) != len(c.pos) {
				t.Errorf("positions %v, want %v", p.position, c.pos)
			}
		})
	}
}

// TestPlanResetsOneJobPerCopy: two jobs of one copy never start together,
// and none starts while a job of its copy runs; one waiting for its copy
// holds no slot.
func TestPlanResetsOneJobPerCopy(t *testing.T) {
	k := func(ns, id string) controller.Key { return controller.Key{Group: "g", Namespace: ns, ID: id} }
	jobs := []resetJob{
		{key: k("a", "r1"), created: time.Unix(1, 0), nodes: []string{"n1"}},
		{key: k("a", "r2"), created: time.Unix(2, 0), nodes: []string{"n1"}},
		{key: k("b", "r1"), created: time.Unix(3, 0), nodes: []string{"n1"}},
	}
	p := planResets(jobs, nil, nil, 2)
	if !p.start[k("a", "r1")] || p.start[k("a", "r2")] || !p.start[k("b", "r1")] {
		t.Errorf("started %v: want a/r1 and b/r1 (a/r2 waits for a/r1, holding no slot)", p.start)
	}
	if p.position[k("a", "r2")] != 1 || p.waitsFor[k("a", "r2")] != "" {
		t.Errorf("a/r2: position %d waits for %q, want 1 and its copy", p.position[k("a", "r2")], p.waitsFor[k("a", "r2")])
	}
	p = planResets(jobs[1:], nil, map[string]bool{"g/a": true}, 2)
	if p.start[k("a", "r2")] || !p.start[k("b", "r1")] {
		t.Errorf("started %v with a job of copy a running: want b/r1 alone", p.start)
	}
}
