package auth

import (
	"errors"
	"testing"

	"github.com/humstack/humstack/api"
)

func user(name string, groups ...string) *Identity {
	return &Identity{Name: name, Kind: KindUser, Groups: groups, Via: "token"}
}

func nsBinding(role, g, ns string, subj ...api.Subject) Binding {
	return Binding{Role: role, Scope: Scope{Group: g, Namespace: ns}, Subjects: subj}
}

func u(name string) api.Subject { return api.Subject{Kind: api.SubjectUser, Name: name} }

func vmAt(verb, g, ns, id string) Attributes {
	return Attributes{Verb: verb, Kind: "virtualmachine", Group: g, Namespace: ns, ID: id}
}

// result names Authorize's answer: ok, 401, 403 or 404.
func result(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, api.ErrUnauthorized):
		return "401"
	case errors.Is(err, api.ErrForbidden):
		return "403"
	case errors.Is(err, api.ErrNotFound):
		return "404"
	}
	return "error: " + err.Error()
}

func TestAuthorize(t *testing.T) {
	custom := &api.Role{Meta: api.Meta{ID: "vm-reader"}, Spec: api.RoleSpec{Rules: []api.PolicyRule{
		{Kinds: []string{"virtualmachine"}, Verbs: []string{"get"}}}}}
	p := NewPolicy([]*api.Role{custom}, []Binding{
		nsBinding(RoleViewer, "g1", "ns1", u("viewer")),
		nsBinding(RoleEditor, "g1", "", u("editor")),
		nsBinding(RoleOperator, "g1", "ns1", u("op")),
		nsBinding(RoleGroupAdmin, "g2", "", u("g2admin"), api.Subject{Kind: api.SubjectGroup, Name: "team2"}),
		nsBinding("vm-reader", "g1", "ns2", u("reader")),
		nsBinding("no-such-role", "", "", u("ghost")),
		{Role: RoleClusterAdmin, Subjects: []api.Subject{u("root")}},
	})
	for _, c := range []struct {
		name string
		id   *Identity
		a    Attributes
		want string
	}{
		{"anonymous", Anonymous, vmAt(VerbGet, "g1", "ns1", "vm1"), "401"},
		{"nil identity", nil, vmAt(VerbGet, "g1", "ns1", "vm1"), "401"},
		{"viewer reads", user("viewer"), vmAt(VerbGet, "g1", "ns1", "vm1"), "ok"},
		{"viewer cannot delete", user("viewer"), vmAt(VerbDelete, "g1", "ns1", "vm1"), "403"},
		{"viewer cannot see ns2", user("viewer"), vmAt(VerbGet, "g1", "ns2", "vm1"), "404"},
		{"viewer lists the group (filtered)", user("viewer"), vmAt(VerbList, "g1", "", ""), "ok"},
		{"viewer lists everything (filtered)", user("viewer"), vmAt(VerbList, "", "", ""), "ok"},
		{"viewer cannot list ns2", user("viewer"), vmAt(VerbList, "g1", "ns2", ""), "404"},
		{"viewer reads its namespace", user("viewer"), Attributes{Verb: VerbGet, Kind: "namespace", Group: "g1", ID: "ns1"}, "ok"},
		{"viewer reads its group", user("viewer"), Attributes{Verb: VerbGet, Kind: "group", ID: "g1"}, "ok"},
		{"viewer cannot see group g2", user("viewer"), Attributes{Verb: VerbGet, Kind: "group", ID: "g2"}, "404"},
		{"viewer cannot delete its namespace", user("viewer"), Attributes{Verb: VerbDelete, Kind: "namespace", Group: "g1", ID: "ns1"}, "403"},
		{"viewer may not read nodes", user("viewer"), Attributes{Verb: VerbGet, Kind: "node", ID: "n1"}, "403"},
		{"editor creates in its group", user("editor"), vmAt(VerbCreate, "g1", "ns2", ""), "ok"},
		{"editor cannot write status", user("editor"), vmAt(VerbStatus, "g1", "ns2", "vm"), "403"},
		{"editor cannot bind", user("editor"), Attributes{Verb: VerbCreate, Kind: "rolebinding", Group: "g1"}, "403"},
		{"operator powers", user("op"), vmAt(VerbPower, "g1", "ns1", "vm1"), "ok"},
		{"operator opens the console", user("op"), vmAt(VerbConsole, "g1", "ns1", "vm1"), "ok"},
		{"operator cannot update", user("op"), vmAt(VerbUpdate, "g1", "ns1", "vm1"), "403"},
		{"operator cannot read disks", user("op"), Attributes{Verb: VerbGet, Kind: "blockstorage", Group: "g1", Namespace: "ns1", ID: "d"}, "403"},
		{"group-admin binds in its group", user("g2admin"), Attributes{Verb: VerbCreate, Kind: "rolebinding", Group: "g2"}, "ok"},
		{"group-admin by group subject", user("x", "team2"), vmAt(VerbDelete, "g2", "a", "b"), "ok"},
		{"group-admin of g2 cannot see g1", user("g2admin"), vmAt(VerbGet, "g1", "ns1", "vm1"), "404"},
		{"group-admin cannot make groups", user("g2admin"), Attributes{Verb: VerbCreate, Kind: "group"}, "403"},
		{"group-admin cannot delete its group", user("g2admin"), Attributes{Verb: VerbDelete, Kind: "group", ID: "g2"}, "403"},
		{"custom role", user("reader"), vmAt(VerbGet, "g1", "ns2", "vm"), "ok"},
		{"custom role, other verb", user("reader"), vmAt(VerbList, "g1", "ns2", ""), "403"},
		{"binding of an unknown role grants nothing", user("ghost"), vmAt(VerbGet, "g1", "ns1", "vm1"), "404"},
		{"cluster-admin", user("root"), Attributes{Verb: VerbDelete, Kind: "node", ID: "n1"}, "ok"},
		{"system:masters", user("admin", GroupMasters), Attributes{Verb: VerbCreate, Kind: "token"}, "ok"},
		{"service account named like a user subject", &Identity{Name: "viewer", Kind: KindServiceAccount}, vmAt(VerbGet, "g1", "ns1", "vm1"), "404"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := result(Authorize(c.id, c.a, p)); got != c.want {
				t.Errorf("Authorize(%+v) = %s, want %s", c.a, got, c.want)
			}
		})
	}
}

func TestForbiddenMessage(t *testing.T) {
	p := NewPolicy(nil, []Binding{nsBinding(RoleViewer, "g1", "ns1", u("alice"))})
	err := Authorize(user("alice"), vmAt(VerbDelete, "g1", "ns1", "vm1"), p)
	if want := "user alice may not delete virtualmachine g1/ns1/vm1"; err == nil || err.Error() != want {
		t.Errorf("got %v, want %q", err, want)
	}
	err = Authorize(user("alice"), vmAt(VerbGet, "g1", "ns2", "vm9"), p)
	if want := "virtualmachine g1/ns2/vm9 not found"; err == nil || err.Error() != want {
		t.Errorf("got %v, want %q", err, want)
	}
}

func placedVM(node string) func() (api.Object, error) {
	return func() (api.Object, error) {
		vm := api.VirtualMachineKind.New()
		vm.GetMeta().Annotations = map[string]string{api.AnnotationVirtualMachineNode: node}
		return vm, nil
	}
}

func TestNodeRole(t *testing.T) {
	nodeA := &Identity{Name: "node:node-a", Kind: KindNode, Node: "node-a", Via: "x509"}
	onA, onB := vmAt(VerbStatus, "g", "ns", "vm"), vmAt(VerbStatus, "g", "ns", "vm")
	onA.Object, onB.Object = placedVM("node-a"), placedVM("node-b")
	getB := onB
	getB.Verb = VerbGet
	gone := vmAt(VerbStatus, "g", "ns", "vm")
	gone.Object = func() (api.Object, error) { return nil, nil }
	finalized := vmAt(VerbUpdate, "g", "ns", "vm")
	finalized.Object = func() (api.Object, error) {
		vm := api.VirtualMachineKind.New()
		vm.GetMeta().Finalizers = []string{api.FinalizerNodePrefix + "node-a"}
		return vm, nil
	}
	free := Attributes{Verb: VerbStatus, Kind: "imageentity", Group: "g", ID: "e", Object: func() (api.Object, error) {
		return api.ImageEntityKind.New(), nil
	}}
	freeUpdate := free
	freeUpdate.Verb = VerbUpdate
	otherEntity := freeUpdate
	otherEntity.Object = func() (api.Object, error) {
		e := api.ImageEntityKind.New().(*api.ImageEntity)
		e.Status.Node = "node-b"
		return e, nil
	}
	for _, c := range []struct {
		name string
		a    Attributes
		want string
	}{
		{"status of its VM", onA, "ok"},
		// What is placed on another node is out of sight: 404, like a
		// missing object, so a node cannot probe for names.
		{"status of another node's VM", onB, "404"},
		{"read another node's VM", getB, "404"},
		{"status of a VM that is gone", gone, "404"},
		{"update what it finalizes", finalized, "ok"},
		{"list VMs (filtered)", vmAt(VerbWatch, "", "", ""), "ok"},
		{"its own node", Attributes{Verb: VerbStatus, Kind: "node", ID: "node-a"}, "ok"},
		{"another node", Attributes{Verb: VerbUpdate, Kind: "node", ID: "node-b"}, "403"},
		{"read other nodes (peers)", Attributes{Verb: VerbGet, Kind: "node", ID: "node-b"}, "ok"},
		{"register itself", Attributes{Verb: VerbCreate, Kind: "node", Object: func() (api.Object, error) {
			n := api.NodeKind.New()
			n.GetMeta().ID = "node-a"
			return n, nil
		}}, "ok"},
		{"register another", Attributes{Verb: VerbCreate, Kind: "node", Object: func() (api.Object, error) {
			n := api.NodeKind.New()
			n.GetMeta().ID = "node-b"
			return n, nil
		}}, "403"},
		{"unplaced image entity", free, "ok"},
		{"take an unplaced image entity (its finalizer)", freeUpdate, "ok"},
		{"update another node's image entity", otherEntity, "403"},
		{"no deletes", vmAt(VerbDelete, "g", "ns", "vm"), "403"},
		{"no tokens", Attributes{Verb: VerbList, Kind: "token"}, "403"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := result(Authorize(nodeA, c.a, NewPolicy(nil, nil))); got != c.want {
				t.Errorf("got %s, want %s", got, c.want)
			}
		})
	}
}

func TestConsoleLinkLimit(t *testing.T) {
	link := &Identity{Name: "link-1", Kind: KindConsoleLink, Via: "consolelink",
		Limit: &ObjectRef{APIType: "systemv0/virtualmachine", Group: "g", Namespace: "ns", ID: "vm1"}, LimitVerbs: LinkVerbs(api.ConsoleLinkSpec{})}
	p := NewPolicy(nil, nil)
	for _, a := range []Attributes{vmAt(VerbConsole, "g", "ns", "vm1"), vmAt(VerbGet, "g", "ns", "vm1"), vmAt(VerbList, "g", "ns", "")} {
		if err := Authorize(link, a, p); err != nil {
			t.Errorf("%+v: %v", a, err)
		}
	}
	for _, a := range []Attributes{vmAt(VerbConsole, "g", "ns", "vm2"), vmAt(VerbGet, "g", "ns", "vm2"), vmAt(VerbPower, "g", "ns", "vm1"),
		vmAt(VerbUpdate, "g", "ns", "vm1"), vmAt(VerbList, "g", "ns2", ""), {Verb: VerbGet, Kind: "network", Group: "g", Namespace: "ns", ID: "vm1"}} {
		if got := result(Authorize(link, a, p)); got != "403" {
			t.Errorf("%+v: %s, want 403", a, got)
		}
	}
}

// TestConsoleLinkDelegation: creating a console link needs the right to
// create links and verb console on the linked VM; reading and revoking
// links are ordinary verbs on kind consolelink.
func TestConsoleLinkDelegation(t *testing.T) {
	sharer := &api.Role{Meta: api.Meta{ID: "link-maker"}, Spec: api.RoleSpec{Rules: []api.PolicyRule{
		{Kinds: []string{"consolelink"}, Verbs: []string{"create", "delete"}}}}}
	p := NewPolicy([]*api.Role{sharer}, []Binding{
		nsBinding(RoleOperator, "g1", "ns1", u("op")),
		nsBinding(RoleEditor, "g1", "ns1", u("editor")),
		nsBinding(RoleViewer, "g1", "ns1", u("viewer")),
		nsBinding("link-maker", "g1", "ns1", u("maker")),
	})
	linkTo := func(verb, vm string) Attributes {
		l := api.ConsoleLinkKind.New().(*api.ConsoleLink)
		l.Meta = api.Meta{Group: "g1", Namespace: "ns1", ID: "l1"}
		l.Spec.VirtualMachineID = vm
		return Attributes{Verb: verb, Kind: "consolelink", Group: "g1", Namespace: "ns1", ID: "l1",
			Object: func() (api.Object, error) { return l, nil }}
	}
	for _, c := range []struct {
		who, verb, want string
	}{
		{"op", VerbCreate, "ok"}, {"op", VerbDelete, "ok"}, {"op", VerbGet, "ok"}, {"op", VerbUpdate, "403"},
		{"editor", VerbCreate, "ok"}, {"editor", VerbDelete, "ok"},
		{"viewer", VerbGet, "ok"}, {"viewer", VerbCreate, "403"}, {"viewer", VerbDelete, "403"},
		// May create links but may not open the console: no link either.
		{"maker", VerbCreate, "403"}, {"maker", VerbDelete, "ok"},
		{"stranger", VerbCreate, "404"},
	} {
		if got := result(Authorize(user(c.who), linkTo(c.verb, "vm1"), p)); got != c.want {
			t.Errorf("%s %s a link to vm1: %s, want %s", c.who, c.verb, got, c.want)
		}
	}
	noBody := Attributes{Verb: VerbCreate, Kind: "consolelink", Group: "g1", Namespace: "ns1"}
	if got := result(Authorize(user("op"), noBody, p)); got != "403" {
		t.Errorf("a create without its object: %s, want 403 (fail closed)", got)
	}
}
