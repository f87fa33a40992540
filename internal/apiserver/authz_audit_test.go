package apiserver_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/audit"
	"github.com/humstack/humstack/internal/auth"
)

// TestAuthorizationDenialsAudited: with rbac on, every refusal is an audit
// line with the caller and the reason: 401 (no credential), 403, and the
// 404 that hides an object in a namespace the caller cannot see (a read,
// which is otherwise not audited), on the scoped paths and by id.
func TestAuthorizationDenialsAudited(t *testing.T) {
	sink := &auditSink{}
	al := audit.New(sink, audit.Options{})
	t.Cleanup(func() { al.Close() })
	e := newRBACEnvAudit(t, al)
	e.token("viewer", "")
	e.token("stranger", "")
	e.bind("viewer", auth.RoleViewer, "g1", "ns1")
	fx := fixtures(t)
	e.restore(fx)
	vm := "/api/v0/groups/g1/namespaces/ns1/virtualmachines/" + fx[api.VirtualMachineKind].id
	eip := "/api/v0/externalips/" + fx[api.ExternalIPKind].id
	for _, c := range []struct {
		who, method, path string
		code              int
		identity, reason  string
	}{
		{"", "GET", vm, http.StatusUnauthorized, "system:anonymous", "authentication required"},
		{"viewer", "DELETE", vm, http.StatusForbidden, "viewer", "user viewer may not delete virtualmachine"},
		{"stranger", "GET", vm, http.StatusNotFound, "stranger", "not found"},
		{"stranger", "GET", eip, http.StatusNotFound, "stranger", "not found"},
		{"viewer", "GET", vm, http.StatusOK, "", ""}, // an allowed read: no line
	} {
		from := len(sink.events(t))
		if got, msg := e.call(c.who, c.method, c.path, ""); got != c.code {
			t.Fatalf("%s %s %s: %d, want %d: %s", whoName(c.who), c.method, c.path, got, c.code, msg)
		}
		if c.code == http.StatusOK {
			sink.since(t, from, 0)
			continue
		}
		ev := sink.since(t, from, 1)[0]
		if ev.Code != c.code || ev.Identity.Name != c.identity || !strings.Contains(ev.Reason, c.reason) {
			t.Errorf("%s %s %s: audited %+v, want code %d, identity %s, reason with %q", whoName(c.who), c.method, c.path, ev, c.code, c.identity, c.reason)
		}
	}
}

// TestAuthorizationEscapedPaths: the authorizer reads the object from the
// same path values the handlers do (the router's, segment by segment), so
// an escaped slash can neither move a request into a namespace the caller
// may use nor out of it: no such request succeeds, whoever sends it.
func TestAuthorizationEscapedPaths(t *testing.T) {
	e := newRBACEnv(t)
	e.token("viewer2", "")
	e.bind("viewer2", auth.RoleViewer, "g1", "ns2") // may read g1/ns2, not g1/ns1
	fx := fixtures(t)
	e.restore(fx)
	e.consoleLink("link:vm", api.ConsoleLinkSpec{VirtualMachineID: fx[api.VirtualMachineKind].id})
	id := fx[api.VirtualMachineKind].id
	for _, who := range []string{"viewer2", "link:vm"} {
		for _, p := range []string{
			"/api/v0/groups/g1/namespaces/ns2%2F..%2Fns1/virtualmachines/" + id,
			"/api/v0/groups/g1/namespaces/ns2/virtualmachines/..%2F..%2Fns1%2Fvirtualmachines%2F" + id,
			"/api/v0/groups/g1%2Fnamespaces%2Fns1/virtualmachines/" + id,
			"/api/v0/groups/g1/namespaces/ns1/virtualmachines/" + id + "%2Fserial",
			"/api/v0/groups/g1/namespaces/ns1/virtualmachines/" + id + "%2Fserial%2Flog",
			"/api/v0/groups/g1/namespaces/ns1/virtualmachines/x%2F..%2F" + id + "/serial/log",
			"/api/v0/groups/g1/namespaces/ns2%2F..%2Fns1/virtualmachines/" + id + "/serial/log",
		} {
			code, body := e.call(who, "GET", p, "")
			if code < 400 || strings.Contains(body, `"virtualMachineID"`) || strings.Contains(body, "requestVcpus") {
				t.Errorf("%s GET %s: %d %s, want a refusal", who, p, code, body)
			}
		}
	}
	// The unescaped paths, for contrast: the link's console is allowed (it
	// reaches the console handler), the viewer's namespace is readable.
	if code, body := e.call("link:vm", "GET", "/api/v0/groups/g1/namespaces/ns1/virtualmachines/"+id+"/serial/log", ""); code == 401 || code == 403 || code == 404 {
		t.Errorf("the link's own console log: %d %s", code, body)
	}
	if code, _ := e.call("viewer2", "GET", "/api/v0/groups/g1/namespaces/ns2/virtualmachines", ""); code != http.StatusOK {
		t.Errorf("viewer2 lists its namespace: %d", code)
	}
}
