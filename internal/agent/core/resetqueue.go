package core

import (
	"cmp"
	"maps"
	"slices"
	"time"

	"github.com/humstack/humstack/api"
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
	// taken (or held for a job before it); "" when it waits behind
	// another job of its copy.
	waitsFor map[controller.Key]string
}

// copyOfJob is the "group/namespace" of a job: its copy. At most one job
// of a copy runs at once: two would each write their token into the
// same VMs' restore annotation and a node would restore them over and
// over.
func copyOfJob(k controller.Key) string { return k.Group + "/" + k.Namespace }

// planResets orders the due jobs (priority, highest first; then the
// oldest; then by key) and starts each one whose nodes all have a free
// slot (busy counts the slots taken on each node, perNode is the limit)
// and no other job of its copy runs (active holds the copies with a
// running or claimed job; a job that waits for its copy reserves no slot:
// it could not take one anyway). A job that cannot start for slots reserves a slot on each of its nodes: a later
// job needing the last slot of one of them waits behind it, so a job
// spanning many nodes is not overtaken forever by small ones, while a
// later job on other nodes (or on nodes with room for both) starts.
func planResets(jobs []resetJob, busy map[string]int, active map[string]bool, perNode int) resetPlan {
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
	running := maps.Clone(active)
	if running == nil {
		running = map[string]bool{}
	}
	pos := 0
	for _, j := range jobs {
		if running[copyOfJob(j.key)] {
			pos++
			p.position[j.key], p.waitsFor[j.key] = pos, ""
			continue
		}
		blocker := ""
		for _, n := range j.nodes {
			if used[n] >= perNode {
				blocker = n
				break
			}
		}
		if blocker == "" {
			p.start[j.key], running[copyOfJob(j.key)] = true, true
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

// cachedPlan is a decision and what it was made from.
type cachedPlan struct {
	jobs  []resetJob
	plan  resetPlan
	until time.Time // the first spec.at still to come; zero: none
}

// waiting says whether reset o has not started.
func waiting(o api.Object) bool {
	p := o.(*api.Reset).Status.Phase
	return p == "" || p == api.ResetQueued
}

// placedFrom is what of a VM the queue's decision depends on.
func placedFrom(o api.Object) string {
	a := o.GetMeta().Annotations
	return a[api.AnnotationVirtualMachineNode] + "|" + a[api.AnnotationTemplateResource]
}

func (r *resets) invalidate() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.plan = nil
}

// decision is the queue's current decision (with mu held).
func (r *resets) decision(now time.Time) *cachedPlan {
	if p := r.plan; p != nil && (p.until.IsZero() || now.Before(p.until)) {
		return p
	}
	jobs, until := r.dueJobs(now)
	busy, active := r.busy()
	r.plan = &cachedPlan{jobs: jobs, plan: planResets(jobs, busy, active, r.perNode), until: until}
	return r.plan
}

// showPosition says whether a waiting job's status is written now: when
// it is not Queued yet, else when its position changed and was not
// written within positionEvery (else: the delay after which it may be).
// Called with mu held.
func (r *resets) showPosition(key controller.Key, rs *api.Reset, pos int, now time.Time) (time.Duration, bool) {
	if rs.Status.Phase != api.ResetQueued {
		r.shown[key] = now
		return 0, true
	}
	if rs.Status.Position == pos {
		return resetPoll * 15, false
	}
	if wait := r.shown[key].Add(positionEvery).Sub(now); wait > 0 {
		return wait, false
	}
	r.shown[key] = now
	return 0, true
}

// throttle says how long to wait before job key's progress may be
// written again (0: now, and it is taken as written).
func (r *resets) throttle(key controller.Key, every time.Duration) time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	if wait := r.shown[key].Add(every).Sub(now); wait > 0 {
		return wait
	}
	r.shown[key] = now
	return 0
}

// nodesOfJob are the nodes of job key among jobs.
func nodesOfJob(jobs []resetJob, key controller.Key) []string {
	for _, j := range jobs {
		if j.key == key {
			return j.nodes
		}
	}
	return nil
}

// dueJobs are the jobs waiting for slots: not started, not claimed, due;
// and the first spec.at of the others.
func (r *resets) dueJobs(now time.Time) (jobs []resetJob, until time.Time) {
	nodes := r.nodesByNamespace()
	for _, o := range r.resets.List() {
		rs := o.(*api.Reset)
		key := controller.KeyOf(rs)
		if p := rs.Status.Phase; (p != "" && p != api.ResetQueued) || rs.Meta.Deleting() {
			continue
		}
		if _, ok := r.claims[key]; ok {
			continue
		}
		if at, err := time.Parse(time.RFC3339, rs.Spec.At); err == nil && now.Before(at) {
			if until.IsZero() || at.Before(until) {
				until = at
			}
			continue
		}
		j := resetJob{key: key, priority: rs.Spec.Priority, nodes: nodes[rs.Meta.Group+"/"+rs.Meta.Namespace]}
		if t := rs.Meta.CreationTimestamp; t != nil {
			j.created = *t
		}
		jobs = append(jobs, j)
	}
	return jobs, until
}

// busy counts the slots taken on each node: the running jobs' nodes (as
// they recorded them when they started) and the claimed ones'; active
// holds their copies ("group/namespace").
func (r *resets) busy() (busy map[string]int, active map[string]bool) {
	busy, active = map[string]int{}, map[string]bool{}
	for _, o := range r.resets.List() {
		rs := o.(*api.Reset)
		key := controller.KeyOf(rs)
		switch {
		case rs.Status.Finished():
			delete(r.claims, key) // the cache shows it: the claim is done
		case rs.Status.Phase == api.ResetRunning:
			delete(r.claims, key)
			active[copyOfJob(key)] = true
			for _, n := range rs.Status.Nodes {
				busy[n]++
			}
		}
	}
	for key, nodes := range r.claims {
		active[copyOfJob(key)] = true
		for _, n := range nodes {
			busy[n]++
		}
	}
	return busy, active
}

func (r *resets) unclaim(key controller.Key) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.claims[key]; ok {
		r.plan = nil // its slots are free again
	}
	delete(r.claims, key)
	delete(r.shown, key)
}

// nodesByNamespace maps "group/namespace" to the nodes its VMs stamped
// from a template are on, sorted: one pass over the VMs per decision.
func (r *resets) nodesByNamespace() map[string][]string {
	out := map[string][]string{}
	for _, o := range r.vms.List() {
		m := o.GetMeta()
		n := m.Annotations[api.AnnotationVirtualMachineNode]
		if n == "" || m.Annotations[api.AnnotationTemplateResource] == "" {
			continue
		}
		k := m.Group + "/" + m.Namespace
		if i, found := slices.BinarySearch(out[k], n); !found {
			out[k] = slices.Insert(out[k], i, n)
		}
	}
	return out
}
