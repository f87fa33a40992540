package core

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/humstack/humstack/api"
)

// TestDeletionGraphOfRegisteredKinds: the registered kinds' DeleteWaitsFor
// lets every group and namespace deletion finish: no cycle, nothing waited
// for outside the parent, every name a kind, and each plan puts every kind
// after every kind it (or, for a group's namespace, anything in it) waits
// for. A new kind or dependency that breaks this fails here.
func TestDeletionGraphOfRegisteredKinds(t *testing.T) {
	for _, k := range api.Kinds() {
		for _, d := range k.DeleteWaitsFor {
			if _, err := api.LookupKind(d); err != nil || d != mustKind(t, d).Name {
				t.Errorf("%s.DeleteWaitsFor names %q, which is not a kind's Name", k.Name, d)
			}
		}
	}
	gp, err := groupPlan()
	if err != nil {
		t.Fatalf("group deletion plan: %v", err)
	}
	np, err := namespacePlan()
	if err != nil {
		t.Fatalf("namespace deletion plan: %v", err)
	}
	t.Logf("group: %s", gp)
	t.Logf("namespace: %s", np)
	checkPlan(t, gp, api.ScopeGroup, func(k *api.Kind) *api.Kind {
		if k.Scope == api.ScopeNamespace {
			return api.NamespaceKind
		}
		return k
	})
	checkPlan(t, np, api.ScopeNamespace, func(k *api.Kind) *api.Kind { return k })
	// The cases of issue 14: the namespaces (with the disks that are
	// overlays of the group's entities) go before the entities; VMs before
	// the disks and networks they use.
	order(t, gp, "namespace", "image", "imageentity")
	order(t, np, "virtualmachine", "blockstorage")
	order(t, np, "virtualmachine", "network")
	order(t, np, "virtualrouter", "network")
	order(t, np, "virtualrouter", "externalip")
}

// checkPlan checks that p holds every kind of scope and that each waits
// only for kinds of the parent that p deletes before it.
func checkPlan(t *testing.T, p plan, scope api.Scope, rep func(*api.Kind) *api.Kind) {
	t.Helper()
	for _, k := range api.Kinds() {
		if k.Scope == scope && !slices.Contains(p.kinds, k) {
			t.Errorf("%s-scoped kind %s is not in the plan %s: its objects would never be deleted", scope, k.Name, p)
		}
		if k.Scope < scope {
			continue
		}
		at := slices.Index(p.kinds, rep(k))
		for _, name := range k.DeleteWaitsFor {
			d := mustKind(t, name)
			if d.Scope < scope {
				t.Errorf("%s waits for %s, which a %s-scoped parent's deletion never removes", k.Name, d.Name, scope)
				continue
			}
			if rd := rep(d); rd != rep(k) && slices.Index(p.kinds, rd) >= at {
				t.Errorf("%s waits for %s, but the plan %s deletes %s first", k.Name, d.Name, p, rep(k).Name)
			}
		}
	}
}

func order(t *testing.T, p plan, names ...string) {
	t.Helper()
	for i := 0; i+1 < len(names); i++ {
		a, b := slices.Index(p.kinds, mustKind(t, names[i])), slices.Index(p.kinds, mustKind(t, names[i+1]))
		if a < 0 || b < 0 || a >= b {
			t.Errorf("plan %s: %s must go before %s", p, names[i], names[i+1])
		}
		if !slices.Contains(p.after[mustKind(t, names[i+1])], mustKind(t, names[i])) && len(names) == 2 {
			t.Errorf("plan %s: %s is not held until %s is gone", p, names[i+1], names[i])
		}
	}
}

func mustKind(t *testing.T, name string) *api.Kind {
	t.Helper()
	k, err := api.LookupKind(name)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestDeletionGraphCatchesBadGraphs: synthetic registries under which a
// deletion would wait forever are refused, each with the reason; a good
// one is ordered.
func TestDeletionGraphCatchesBadGraphs(t *testing.T) {
	kind := func(name string, s api.Scope, rank int, waits ...string) *api.Kind {
		return &api.Kind{Name: name, Scope: s, Rank: rank, DeleteWaitsFor: waits}
	}
	cluster, group, ns := api.ScopeCluster, api.ScopeGroup, api.ScopeNamespace
	tests := []struct {
		name  string
		scope api.Scope
		kinds []*api.Kind
		want  string // in the error; "" means the plan must succeed
	}{
		{"issue 14: disk waits for entity, entity for disk", group, []*api.Kind{
			kind("grp", cluster, 0), kind("nsp", group, 1),
			kind("disk", ns, 5, "entity"), kind("entity", group, 8, "disk"),
		}, "cycle among entity, nsp"},
		{"two kinds wait for each other", ns, []*api.Kind{
			kind("vm", ns, 7, "disk"), kind("disk", ns, 5, "vm"),
		}, "cycle among vm, disk"},
		{"a kind waits for its own kind", ns, []*api.Kind{kind("vm", ns, 7, "vm")}, "its own kind"},
		{"a namespace's kind waits for a group's kind", ns, []*api.Kind{
			kind("disk", ns, 5, "entity"), kind("entity", group, 8),
		}, "disk waits for entity, which lives outside"},
		{"a group's kind waits for a cluster kind", group, []*api.Kind{
			kind("nsp", group, 1), kind("entity", group, 8, "node"), kind("node", cluster, 2),
		}, "entity waits for node, which lives outside"},
		{"a dependency that is no kind", ns, []*api.Kind{kind("vm", ns, 7, "vmm")}, `"vmm", which is no kind`},
		{"nothing stands for the namespace's kinds", group, []*api.Kind{
			kind("entity", group, 8), kind("disk", ns, 5),
		}, "no child kind stands for"},
		{"good: entity after the namespaces, whatever the ranks say", group, []*api.Kind{
			kind("grp", cluster, 0), kind("nsp", group, 9), kind("vm", ns, 7),
			kind("disk", ns, 5, "vm"), kind("entity", group, 1, "disk"),
		}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var nsp *api.Kind
			for _, k := range tc.kinds {
				if k.Name == "nsp" {
					nsp = k
				}
			}
			containers := map[api.Scope]*api.Kind{}
			if nsp != nil {
				containers[ns] = nsp
			}
			p, err := planFor(tc.scope, tc.kinds, containers)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("plan refused: %v", err)
			case tc.want == "":
				if got := p.String(); got != "nsp, entity (after nsp)" {
					t.Fatalf("plan %q, want %q", got, "nsp, entity (after nsp)")
				}
			case err == nil:
				t.Fatalf("plan %s accepted, want an error with %q", p, tc.want)
			case !errors.Is(err, api.ErrInvalid) || !strings.Contains(err.Error(), tc.want):
				t.Fatalf("error %q, want %q (ErrInvalid)", err, tc.want)
			}
		})
	}
}
