package apiserver_test

import (
	"errors"
	"net/http"
	"testing"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
)

func TestStatusAndSpecNeverOverwriteEachOther(t *testing.T) {
	e := newEnv(t)
	e.tenancy("g", "ns")
	nets := client.For[*api.Network](e.c)
	n := e.mustCreate(network("g", "ns", "net1")).(*api.Network)
	if n.Meta.UID == "" || n.Meta.CreationTimestamp == nil || n.Meta.ResourceVersion == "" {
		t.Fatalf("server-set fields missing: %+v", n.Meta)
	}

	// An agent reports status.
	n.Status.Nodes = map[string]api.StateStatus{"w1": {State: "Available"}}
	n.Spec.IPv4CIDR = "10.9.9.0/24" // ignored by the status endpoint
	st, err := nets.UpdateStatus(ctx(t), n)
	if err != nil {
		t.Fatal(err)
	}
	if st.Spec.IPv4CIDR != "10.0.0.0/24" || st.Status.Nodes["w1"].State != "Available" {
		t.Fatalf("status write changed spec or lost status: %+v", st)
	}

	// A user updates spec with an object that carries no status.
	u := e.mustDecode(network("g", "ns", "net1")).(*api.Network)
	u.Spec.DHCP = &api.NetworkDHCP{Disabled: true}
	up, err := nets.Update(ctx(t), u)
	if err != nil {
		t.Fatal(err)
	}
	if up.Spec.DHCP == nil || !up.Spec.DHCP.Disabled || up.Status.Nodes["w1"].State != "Available" || up.Meta.UID != n.Meta.UID {
		t.Fatalf("user update clobbered status or server fields: %+v", up)
	}

	// A stale resourceVersion is a conflict; the current one succeeds.
	u.Meta.ResourceVersion = st.Meta.ResourceVersion
	if _, err := nets.Update(ctx(t), u); !errors.Is(err, api.ErrConflict) {
		t.Fatalf("stale update: %v, want ErrConflict", err)
	}
	u.Meta.ResourceVersion = up.Meta.ResourceVersion
	u.Spec.DHCP = &api.NetworkDHCP{Domain: "lab"}
	if _, err := nets.Update(ctx(t), u); err != nil {
		t.Fatal(err)
	}

	// A no-op update does not write.
	before := e.revision()
	u.Meta.ResourceVersion = ""
	if _, err := nets.Update(ctx(t), u); err != nil || e.revision() != before {
		t.Fatalf("no-op update wrote (err %v)", err)
	}
}

func (e *env) mustDecode(doc string) api.Object {
	e.t.Helper()
	o, err := api.Decode([]byte(doc))
	if err != nil {
		e.t.Fatal(err)
	}
	return o
}

func TestCreateExistingAndMissing(t *testing.T) {
	e := newEnv(t)
	e.tenancy("g")
	if _, err := e.c.Create(ctx(t), e.mustDecode("meta: {apiType: corev0/group, id: g}")); !errors.Is(err, api.ErrAlreadyExists) {
		t.Fatalf("duplicate create: %v", err)
	}
	if _, err := e.c.Get(ctx(t), api.GroupKind, client.Scope{}, "nope"); !errors.Is(err, api.ErrNotFound) {
		t.Fatalf("get missing: %v", err)
	}
	if _, err := e.c.Update(ctx(t), e.mustDecode("meta: {apiType: corev0/group, id: nope}")); !errors.Is(err, api.ErrNotFound) {
		t.Fatalf("update missing: %v", err)
	}
	if _, err := e.c.Delete(ctx(t), api.GroupKind, client.Scope{}, "nope", client.DeleteOptions{}); !errors.Is(err, api.ErrNotFound) {
		t.Fatalf("delete missing: %v", err)
	}
}

func TestDeletionWaitsForFinalizers(t *testing.T) {
	e := newEnv(t)
	e.tenancy("g", "ns")
	sc := client.Scope{Group: "g", Namespace: "ns"}
	nets := client.For[*api.Network](e.c)

	// Without finalizers: gone at once.
	e.mustCreate(network("g", "ns", "plain"))
	gone, err := nets.Delete(ctx(t), sc, "plain", client.DeleteOptions{})
	if err != nil || gone.Meta.DeleteState != api.DeleteStateDone {
		t.Fatalf("delete: %v %+v", err, gone)
	}
	if _, err := nets.Get(ctx(t), sc, "plain"); !errors.Is(err, api.ErrNotFound) {
		t.Fatalf("deleted object still readable: %v", err)
	}

	// With a finalizer: marked, kept, then removed when the finalizer goes.
	n := e.mustDecode(network("g", "ns", "held")).(*api.Network)
	n.Meta.Finalizers = []string{"node/w1"}
	if _, err := nets.Create(ctx(t), n); err != nil {
		t.Fatal(err)
	}
	status, _ := e.do(http.MethodDelete, "/api/v0/groups/g/namespaces/ns/networks/held", "", "")
	if status != http.StatusAccepted {
		t.Fatalf("delete with finalizer: HTTP %d, want 202", status)
	}
	held, err := nets.Get(ctx(t), sc, "held")
	if err != nil || held.Meta.DeleteState != api.DeleteStateDelete || held.Meta.DeletionTimestamp == nil {
		t.Fatalf("marked object: %v %+v", err, held)
	}
	// A user update cannot take the deletion back, and omitting finalizers keeps them.
	u := e.mustDecode(network("g", "ns", "held")).(*api.Network)
	if got, err := nets.Update(ctx(t), u); err != nil || got.Meta.DeleteState != api.DeleteStateDelete || len(got.Meta.Finalizers) != 1 {
		t.Fatalf("update of deleting object: %v %+v", err, got)
	}
	held.Meta.Finalizers = []string{}
	if _, err := nets.Update(ctx(t), held); err != nil {
		t.Fatal(err)
	}
	if _, err := nets.Get(ctx(t), sc, "held"); !errors.Is(err, api.ErrNotFound) {
		t.Fatalf("object without finalizers not removed: %v", err)
	}

	// PUT deleteState: Delete marks too (the original humstack's way); force removes.
	n.Meta.ResourceVersion = ""
	if _, err := nets.Create(ctx(t), n); err != nil {
		t.Fatal(err)
	}
	n.Meta.DeleteState = api.DeleteStateDelete
	if got, err := nets.Update(ctx(t), n); err != nil || got.Meta.DeleteState != api.DeleteStateDelete {
		t.Fatalf("mark via update: %v %+v", err, got)
	}
	if _, err := nets.Delete(ctx(t), sc, "held", client.DeleteOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := nets.Get(ctx(t), sc, "held"); !errors.Is(err, api.ErrNotFound) {
		t.Fatalf("force delete left the object: %v", err)
	}
}

func TestCreateInDeletingNamespaceIsRefused(t *testing.T) {
	e := newEnv(t)
	e.tenancy("g")
	ns := e.mustDecode("meta: {apiType: corev0/namespace, id: ns, group: g, finalizers: [core]}")
	if _, err := e.c.Create(ctx(t), ns); err != nil {
		t.Fatal(err)
	}
	if _, err := e.c.Delete(ctx(t), api.NamespaceKind, client.Scope{Group: "g"}, "ns", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.c.Create(ctx(t), e.mustDecode(network("g", "ns", "n"))); !errors.Is(err, api.ErrForbidden) {
		t.Fatalf("create in deleting namespace: %v", err)
	}
}
