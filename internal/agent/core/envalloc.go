package core

import (
	"context"
	"fmt"
	"maps"
	"net/netip"
	"strconv"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/controller"
	"github.com/humstack/humstack/internal/envtemplate"
)

// fixedValues are the values of the template's fixed parameters for env.
func fixedValues(tpl *api.Template, env *api.Environment) (map[string]string, api.FieldErrors) {
	return envtemplate.Fixed(tpl.Spec.Parameters, env.Spec.Parameters)
}

// allocate returns the environment's copies with their values: those
// already recorded, and for copies (or parameters) that have none yet,
// values allocated now and written to status before anything is made with
// them. Copies that left the spec stay in the list until their namespace
// is gone, so their values stay taken.
func (r *environments) allocate(ctx context.Context, env *api.Environment, tpl *api.Template) ([]api.EnvironmentCopy, error) {
	r.allocMu.Lock()
	defer r.allocMu.Unlock()
	key := controller.KeyOf(env)
	known := mergeCopies(env.Status.Copies, r.written[key])
	fixed, _ := fixedValues(tpl, env) // prepare checked them
	var taken *takenValues            // what the cluster holds, gathered once a value is needed
	byName, indexes := map[string]api.EnvironmentCopy{}, map[int]bool{}
	for _, c := range known {
		byName[c.Name] = c
		indexes[c.Index] = true
	}
	var copies []api.EnvironmentCopy
	added := false
	for i, name := range api.CopyNames(env.Spec) {
		c, ok := byName[name]
		delete(byName, name)
		if !ok {
			c = api.EnvironmentCopy{Name: name, Index: freeIndex(i, indexes), Namespace: api.CopyNamespace(env.Meta.ID, name)}
			indexes[c.Index] = true
		}
		c.Values = maps.Clone(c.Values)
		if c.Values == nil {
			c.Values = map[string]string{}
		}
		for _, p := range tpl.Spec.Parameters {
			if _, ok := c.Values[p.Name]; ok {
				continue
			}
			if taken == nil {
				taken = r.taken()
			}
			v, err := r.value(p, fixed, taken)
			if err != nil {
				return nil, fmt.Errorf("copy %s: %w", name, err)
			}
			c.Values[p.Name], added = v, true
		}
		copies = append(copies, c)
	}
	for _, c := range known { // removed from the spec, still there
		if _, ok := byName[c.Name]; ok {
			copies = append(copies, c)
		}
	}
	if !added {
		return copies, nil
	}
	out, err := controller.UpdateStatus(ctx, r.c, env, func(e *api.Environment) bool {
		e.Status.Copies = copies
		return true
	})
	if err != nil {
		return nil, fmt.Errorf("recording the copies' values: %w", err)
	}
	r.written[key] = out.Status.Copies
	return copies, nil
}

// mergeCopies is a with the copies only b knows (b: what this agent wrote,
// which the cache may not show yet) and b's values for copies a lacks.
func mergeCopies(a, b []api.EnvironmentCopy) []api.EnvironmentCopy {
	out := append([]api.EnvironmentCopy(nil), a...)
	for _, cb := range b {
		found := false
		for i := range out {
			if out[i].Name == cb.Name {
				found = true
				if len(out[i].Values) < len(cb.Values) {
					out[i].Values = cb.Values
				}
			}
		}
		if !found {
			out = append(out, cb)
		}
	}
	return out
}

// freeIndex is i unless another copy has it, else the first free index: a
// copy's ${index} never changes while it exists.
func freeIndex(i int, used map[int]bool) int {
	if !used[i] {
		return i
	}
	for j := 0; ; j++ {
		if !used[j] {
			return j
		}
	}
}

// value gives parameter p's value for a new copy.
func (r *environments) value(p api.TemplateParameter, fixed map[string]string, taken *takenValues) (string, error) {
	switch {
	case p.Range != "":
		lo, hi, err := envtemplate.ParseRange(p.Range)
		if err != nil {
			return "", err
		}
		for v := lo; v <= hi; v++ {
			if !taken.ids[v] {
				taken.ids[v] = true
				return strconv.Itoa(v), nil
			}
		}
		return "", fmt.Errorf("parameter %s: every value of range %s is taken", p.Name, p.Range)
	case p.ExternalIPPool != "":
		return r.freeAddress(p, taken)
	}
	return fixed[p.Name], nil
}

// takenValues are the ids and external addresses in use in the cluster.
type takenValues struct {
	ids   map[int]bool
	addrs map[string]bool
}

// taken collects every range and pool value of every environment's
// copies, the ids of every network, and every address of the external
// network that something holds (external IPs, routers' NAT and gateway
// addresses). Called with allocMu held.
func (r *environments) taken() *takenValues {
	t := &takenValues{ids: map[int]bool{}, addrs: map[string]bool{}}
	cached := map[controller.Key]bool{}
	for _, o := range r.envs.List() {
		e := o.(*api.Environment)
		cached[controller.KeyOf(e)] = true
		kinds := r.paramKinds(e)
		for _, c := range mergeCopies(e.Status.Copies, r.written[controller.KeyOf(e)]) {
			for name, v := range c.Values {
				t.add(kinds, name, v)
			}
		}
	}
	for key, copies := range r.written { // not in the cache yet: every value counts
		if cached[key] {
			continue
		}
		for _, c := range copies {
			for name, v := range c.Values {
				t.add(nil, name, v)
			}
		}
	}
	for _, o := range r.networks.List() {
		if id, err := strconv.Atoi(o.(*api.Network).Spec.ID); err == nil {
			t.ids[id] = true
		}
	}
	for _, o := range r.eips.List() {
		t.addrs[o.(*api.ExternalIP).Spec.IPv4Address] = true
	}
	for _, o := range r.routers.List() {
		s := o.(*api.VirtualRouter).Spec
		t.addrs[s.NATGatewayIP], t.addrs[s.ExternalGateway] = true, true
	}
	return t
}

// paramKinds maps e's template's parameter names to "range" or "pool"; a
// missing template counts every value as both (safe: never handed out).
func (r *environments) paramKinds(e *api.Environment) map[string]string {
	o, ok := r.templates.Get(controller.Key{Group: e.Meta.Group, ID: e.Spec.TemplateID})
	if !ok {
		return nil
	}
	kinds := map[string]string{}
	for _, p := range o.(*api.Template).Spec.Parameters {
		switch {
		case p.Range != "":
			kinds[p.Name] = "range"
		case p.ExternalIPPool != "":
			kinds[p.Name] = "pool"
		default:
			kinds[p.Name] = "fixed"
		}
	}
	return kinds
}

func (t *takenValues) add(kinds map[string]string, name, v string) {
	k, known := kinds[name]
	if id, err := strconv.Atoi(v); err == nil && (!known || k == "range") {
		t.ids[id] = true
	}
	if !known || k == "pool" {
		t.addrs[v] = true
	}
}

// freeAddress is the lowest address of p's pool nobody holds.
func (r *environments) freeAddress(p api.TemplateParameter, taken *takenValues) (string, error) {
	o, ok := r.pools.Get(controller.Key{ID: p.ExternalIPPool})
	if !ok {
		return "", fmt.Errorf("parameter %s: external IP pool %s not found", p.Name, p.ExternalIPPool)
	}
	pool := o.(*api.ExternalIPPool)
	cidr, err := netip.ParsePrefix(pool.Spec.IPv4CIDR)
	if err != nil || !cidr.Addr().Is4() {
		return "", fmt.Errorf("parameter %s: pool %s has no IPv4 CIDR", p.Name, pool.Meta.ID)
	}
	cidr = cidr.Masked()
	last := broadcast(cidr)
	for a := cidr.Addr(); cidr.Contains(a); a = a.Next() {
		s := a.String()
		edge := cidr.Bits() < 31 && (a == cidr.Addr() || a == last)
		if edge || s == pool.Spec.DefaultGateway || pool.Status.Used[s] != "" || taken.addrs[s] {
			continue
		}
		taken.addrs[s] = true
		return s, nil
	}
	return "", fmt.Errorf("parameter %s: pool %s (%s) has no free address", p.Name, pool.Meta.ID, cidr)
}
