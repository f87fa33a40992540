package apiserver_test

import (
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/storage/etcd/etcdtest"
)

// TestConsoleLinkKeySharedOnEtcd: two apiservers on one etcd make the
// signing key once between them (even racing for it), so a link made
// through one works through the other, and a revocation through one is
// seen by the other.
func TestConsoleLinkKeySharedOnEtcd(t *testing.T) {
	c := etcdtest.Start(t, etcdtest.Options{Members: 1, NoFsync: true})
	a, b := newEtcdEnv(t, c.Endpoints()), newEtcdEnv(t, c.Endpoints())
	a.tenancy("g1", "ns1")
	var wg sync.WaitGroup
	links := make([]*api.ConsoleLink, 2)
	for i, e := range []*env{a, b} { // both need the key at once
		wg.Add(1)
		go func() {
			defer wg.Done()
			l := api.ConsoleLinkKind.New().(*api.ConsoleLink)
			l.Meta.ID, l.Meta.Group, l.Meta.Namespace = []string{"la", "lb"}[i], "g1", "ns1"
			l.Spec = api.ConsoleLinkSpec{VirtualMachineID: "vm1", ExpiresAt: time.Now().Add(time.Hour).Format(time.RFC3339)}
			out, err := e.c.Create(ctx(t), l)
			if err != nil {
				t.Error(err)
				return
			}
			links[i] = out.(*api.ConsoleLink)
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	// A recognized link on a path it does not open is 403; an
	// unrecognized one would be 401.
	path := "/api/v0/groups/g1/namespaces/ns1/networks"
	for _, e := range []*env{a, b} {
		for _, l := range links {
			if code, _ := e.do(http.MethodGet, path+"?link="+l.Status.Token, "", ""); code != http.StatusForbidden {
				t.Errorf("link %s through the other server: HTTP %d, want 403", l.Meta.ID, code)
			}
		}
	}
	if _, err := a.c.Delete(ctx(t), api.ConsoleLinkKind, client.Scope{Group: "g1", Namespace: "ns1"}, "lb", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if code, _ := b.do(http.MethodGet, path+"?link="+links[1].Status.Token, "", ""); code != http.StatusUnauthorized {
		t.Errorf("revoked through a, used through b: HTTP %d, want 401", code)
	}
}
