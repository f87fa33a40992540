package core

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/humstack/humstack/api"
)

// errPlan classes a deletion graph under which some parent's deletion
// could wait forever.
var errPlan = fmt.Errorf("deletion graph: %w", api.ErrInvalid)

// plan is the order in which a cascade deletes the children of one kind
// of parent. The kinds are in a topological order of their DeleteWaitsFor
// edges; a child kind is asked to go only once every kind in its after list
// has no object left in the parent, so nothing is deleted from under a user
// and every wait is on something the cascade itself is removing.
type plan struct {
	kinds []*api.Kind
	after map[*api.Kind][]*api.Kind
}

// planFor computes the plan of the children of scope childScope (group
// scope for a group, namespace scope for a namespace) from the
// DeleteWaitsFor declarations of kinds. A kind of a deeper scope is
// represented by the child kind containers names for its scope (a group's
// namespace stands for everything in it): a namespace's disk that waits for
// a group's image entity makes the namespace wait for it, and an entity
// waiting for disks waits for the namespaces. It fails (errPlan) when the
// graph could make a deletion wait forever: a cycle, a kind waiting for
// one that lives outside the parent (never deleted by its cascade), a name
// that is no kind.
func planFor(childScope api.Scope, kinds []*api.Kind, containers map[api.Scope]*api.Kind) (plan, error) {
	g := graph{scope: childScope, containers: containers, byName: map[string]*api.Kind{}}
	for _, k := range kinds {
		g.byName[k.Name] = k
	}
	p := plan{after: map[*api.Kind][]*api.Kind{}}
	var errs []error
	for _, k := range kinds {
		errs = append(errs, g.edges(k, p.after)...)
	}
	if err := errors.Join(errs...); err != nil {
		return plan{}, err
	}
	return p, p.sort(childScope, kinds)
}

// graph is the view of the kinds from one kind of parent.
type graph struct {
	scope      api.Scope // of the parent's children
	containers map[api.Scope]*api.Kind
	byName     map[string]*api.Kind
}

// rep is the child kind that stands for k in the parent, nil when k's
// objects are not inside the parent.
func (g graph) rep(k *api.Kind) *api.Kind {
	switch {
	case k.Scope == g.scope:
		return k
	case k.Scope > g.scope:
		return g.containers[k.Scope]
	}
	return nil
}

// edges adds to after what k's DeleteWaitsFor means for the parent's
// children, and returns the dependencies that could make it wait forever.
func (g graph) edges(k *api.Kind, after map[*api.Kind][]*api.Kind) []error {
	c := g.rep(k)
	if c == nil {
		if k.Scope > g.scope {
			return []error{fmt.Errorf("%w: no child kind stands for the %s-scoped kind %s", errPlan, k.Scope, k.Name)}
		}
		return nil // not inside this parent: its cascade does not delete it
	}
	var errs []error
	for _, name := range k.DeleteWaitsFor {
		d, ok := g.byName[name]
		var rd *api.Kind
		if ok {
			rd = g.rep(d)
		}
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("%w: %s waits for %q, which is no kind", errPlan, k.Name, name))
		case d == k:
			errs = append(errs, fmt.Errorf("%w: %s waits for its own kind: a cycle", errPlan, k.Name))
		case rd == nil:
			errs = append(errs, fmt.Errorf("%w: %s waits for %s, which lives outside (%s scope) and is never deleted by the cascade of a %s-scoped parent's children",
				errPlan, k.Name, d.Name, d.Scope, g.scope))
		case rd != c && !slices.Contains(after[c], rd):
			after[c] = append(after[c], rd)
		}
	}
	return errs
}

// sort orders the child kinds so each comes after what it waits for (Kahn;
// ties by descending Rank, the order deletion had before, then by name),
// and reports a cycle.
func (p *plan) sort(childScope api.Scope, kinds []*api.Kind) error {
	var todo []*api.Kind
	for _, k := range kinds {
		if k.Scope == childScope {
			todo = append(todo, k)
		}
	}
	slices.SortStableFunc(todo, func(a, b *api.Kind) int {
		if a.Rank != b.Rank {
			return b.Rank - a.Rank
		}
		return strings.Compare(a.Name, b.Name)
	})
	for len(todo) > 0 {
		i := slices.IndexFunc(todo, func(k *api.Kind) bool {
			for _, d := range p.after[k] {
				if !slices.Contains(p.kinds, d) {
					return false
				}
			}
			return true
		})
		if i < 0 {
			var names []string
			for _, k := range todo {
				names = append(names, k.Name)
			}
			return fmt.Errorf("%w: a cycle among %s: each waits for another to go first", errPlan, strings.Join(names, ", "))
		}
		p.kinds = append(p.kinds, todo[i])
		todo = slices.Delete(todo, i, i+1)
	}
	return nil
}

// String shows the plan as "a, b -> c (after a) ...", for logs and tests.
func (p plan) String() string {
	var s []string
	for _, k := range p.kinds {
		e := k.Name
		if deps := p.after[k]; len(deps) > 0 {
			var names []string
			for _, d := range deps {
				names = append(names, d.Name)
			}
			e += " (after " + strings.Join(names, ", ") + ")"
		}
		s = append(s, e)
	}
	return strings.Join(s, ", ")
}
