package apiserver_test

import (
	"errors"
	"net/http"
	"slices"
	"sync"
	"testing"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/agent/system"
)

// nodeHeader makes a client's requests come from a node (the test
// authenticator of newRBACEnv).
type nodeHeader struct{ node string }

func (n nodeHeader) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("X-Test-Node", n.node)
	return http.DefaultTransport.RoundTrip(r)
}

func nodeClient(t *testing.T, e *rbacEnv, node string) *client.Client {
	t.Helper()
	c, err := client.New(e.srv.URL, client.WithHTTPClient(&http.Client{Transport: nodeHeader{node}}))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// finalizing creates VM id on node-a with node-a's finalizer and has admin
// delete it, so that removing the finalizer removes the VM; it returns the
// VM as node-a reads it.
func finalizing(t *testing.T, admin, nodeA *client.Client, id string) *api.VirtualMachine {
	t.Helper()
	vm := teamVM(t, "g", "ns", id)
	vm.Meta.Annotations[api.AnnotationVirtualMachineNode] = "node-a"
	vm.Meta.Finalizers = []string{system.Finalizer("node-a")}
	if _, err := admin.Create(ctx(t), vm); err != nil {
		t.Fatal(err)
	}
	sc := client.Scope{Group: "g", Namespace: "ns"}
	if _, err := admin.Delete(ctx(t), api.VirtualMachineKind, sc, id, client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	got, err := nodeA.Get(ctx(t), api.VirtualMachineKind, sc, id)
	if err != nil {
		t.Fatal(err)
	}
	return got.(*api.VirtualMachine)
}

// released is vm without node-a's finalizer (a copy).
func released(vm *api.VirtualMachine) *api.VirtualMachine {
	c := *vm
	c.Meta.Finalizers = slices.DeleteFunc(slices.Clone(vm.Meta.Finalizers), func(f string) bool { return f == system.Finalizer("node-a") })
	if c.Meta.Finalizers == nil {
		c.Meta.Finalizers = []string{}
	}
	return &c
}

// A node writing an object placed on it that another writer has just
// changed or removed gets 409 or 404, never 403: with authorization on,
// the node authorizer judges by the stored object, and a missing one used
// to read as "not placed on this node" (403), which the agent's
// RemoveFinalizer takes for a failure to retry rather than for "already
// gone". Seen when two reconciles of one VM released its finalizer at
// once.
func TestNodeWritesVanishedObject(t *testing.T) {
	e, admin := newRBACEnvAsAdmin(t)
	e.tenancy("g", "ns")
	nodeA, nodeB := nodeClient(t, e, "node-a"), nodeClient(t, e, "node-b")
	sc := client.Scope{Group: "g", Namespace: "ns"}

	t.Run("delete then update", func(t *testing.T) {
		vm := finalizing(t, admin, nodeA, "gone")
		if _, err := nodeA.Update(ctx(t), released(vm)); err != nil {
			t.Fatalf("the first release: %v", err)
		}
		// The VM is gone with its last finalizer; a second release, a
		// status write and a read are all 404 for the node it was on.
		_, err := nodeA.Update(ctx(t), released(vm))
		wantClass(t, "the second release", err, api.ErrNotFound)
		_, err = nodeA.UpdateStatus(ctx(t), vm)
		wantClass(t, "a status write", err, api.ErrNotFound)
		_, err = nodeA.Get(ctx(t), api.VirtualMachineKind, sc, "gone")
		wantClass(t, "a read", err, api.ErrNotFound)
	})

	t.Run("update with a stale resourceVersion", func(t *testing.T) {
		vm := teamVM(t, "g", "ns", "stale")
		vm.Meta.Annotations[api.AnnotationVirtualMachineNode] = "node-a"
		if _, err := admin.Create(ctx(t), vm); err != nil {
			t.Fatal(err)
		}
		got, err := nodeA.Get(ctx(t), api.VirtualMachineKind, sc, "stale")
		if err != nil {
			t.Fatal(err)
		}
		read := got.(*api.VirtualMachine)
		taken := *read
		taken.Meta.Finalizers = []string{system.Finalizer("node-a")}
		if _, err := nodeA.Update(ctx(t), &taken); err != nil {
			t.Fatalf("take the finalizer: %v", err)
		}
		_, err = nodeA.Update(ctx(t), &taken)
		wantClass(t, "the same update again", err, api.ErrConflict)
	})

	t.Run("two releases at once", func(t *testing.T) {
		for i := range 20 {
			vm := finalizing(t, admin, nodeA, "race"+string(rune('a'+i)))
			errs := make([]error, 2)
			var wg sync.WaitGroup
			for j := range errs {
				wg.Go(func() { _, errs[j] = nodeA.Update(ctx(t), released(vm)) })
			}
			wg.Wait()
			won := 0
			for _, err := range errs {
				switch {
				case err == nil:
					won++
				case errors.Is(err, api.ErrNotFound), errors.Is(err, api.ErrConflict):
				default:
					t.Errorf("round %d: a release got %v, want success, 404 or 409", i, err)
				}
			}
			if won != 1 {
				t.Errorf("round %d: %d releases succeeded, want 1: %v", i, won, errs)
			}
		}
	})

	// Another node cannot tell a VM placed on node-a from one that does not
	// exist: both are 404 to it.
	t.Run("another node", func(t *testing.T) {
		vm := teamVM(t, "g", "ns", "on-a")
		vm.Meta.Annotations[api.AnnotationVirtualMachineNode] = "node-a"
		created, err := admin.Create(ctx(t), vm)
		if err != nil {
			t.Fatal(err)
		}
		missing := *created.(*api.VirtualMachine)
		missing.Meta.ID = "never"
		for _, v := range []*api.VirtualMachine{created.(*api.VirtualMachine), &missing} {
			_, err := nodeB.Update(ctx(t), v)
			wantClass(t, "node-b updates "+v.Meta.ID, err, api.ErrNotFound)
			_, err = nodeB.UpdateStatus(ctx(t), v)
			wantClass(t, "node-b writes the status of "+v.Meta.ID, err, api.ErrNotFound)
			_, err = nodeB.Get(ctx(t), api.VirtualMachineKind, sc, v.Meta.ID)
			wantClass(t, "node-b reads "+v.Meta.ID, err, api.ErrNotFound)
		}
	})
}

func wantClass(t *testing.T, what string, err, class error) {
	t.Helper()
	if !errors.Is(err, class) {
		t.Errorf("%s: %v, want %v", what, err, class)
	}
}
