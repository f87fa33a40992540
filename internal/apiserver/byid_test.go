package apiserver_test

import (
	"net/http"
	"strings"
	"testing"
)

func eipBody(group, ns, id, addr string) string {
	return `{"meta":{"id":"` + id + `","namespace":"` + ns + `","group":"` + group + `","resourceHash":"","deleteState":"","apiType":"corev0/externalip","ownerReferences":[]},` +
		`"spec":{"poolID":"p1","ipv4Address":"` + addr + `","ipv4Prefix":24,"ipv6Address":"","ipv6Prefix":0}}`
}

// TestExternalIPsByID: /api/v0/externalips[/{id}] finds an external IP by
// id in whichever namespace holds it, as the original's cluster-wide ids
// were found; an id held by two namespaces is a 409 naming both, never one
// picked silently.
func TestExternalIPsByID(t *testing.T) {
	e := newEnv(t)
	e.tenancy("g1", "n1")
	e.tenancy("g2", "n2")
	const byID = "/api/v0/externalips/e1"
	if status, r := e.do(http.MethodGet, byID, "", ""); status != http.StatusNotFound {
		t.Fatalf("GET before create: %d %s", status, r.Error)
	}
	if status, r := e.do(http.MethodPost, "/api/v0/externalips", "application/json", eipBody("", "", "e1", "192.168.10.100")); status != http.StatusBadRequest ||
		!strings.Contains(r.Error, "meta.group: required") || !strings.Contains(r.Error, "meta.namespace: required") {
		t.Fatalf("POST without group and namespace: %d %s", status, r.Error)
	}
	if status, r := e.do(http.MethodPost, "/api/v0/externalips", "application/json", eipBody("g1", "n1", "e1", "192.168.10.100")); status != http.StatusCreated {
		t.Fatalf("POST: %d %s", status, r.Error)
	}
	status, r := e.do(http.MethodGet, byID, "", "")
	if status != http.StatusOK || !strings.Contains(string(r.Data), `"group":"g1","namespace":"n1"`) {
		t.Fatalf("GET by id: %d %s %s", status, r.Error, r.Data)
	}
	if status, r := e.do(http.MethodPut, byID, "application/json", eipBody("g1", "n1", "e1", "192.168.10.101")); status != http.StatusOK || !strings.Contains(string(r.Data), "192.168.10.101") {
		t.Fatalf("PUT by id: %d %s", status, r.Error)
	}
	// The body may not move it to another namespace.
	if status, r := e.do(http.MethodPut, byID, "application/json", eipBody("g2", "n2", "e1", "192.168.10.101")); status != http.StatusBadRequest || !strings.Contains(r.Error, "meta.group") {
		t.Fatalf("PUT by id naming another group: %d %s", status, r.Error)
	}
	// A second namespace takes the id through the id-only path: refused.
	if status, r := e.do(http.MethodPost, "/api/v0/externalips", "application/json", eipBody("g2", "n2", "e1", "192.168.10.102")); status != http.StatusConflict ||
		r.Reason != "AlreadyExists" || !strings.Contains(r.Error, "g1/n1") {
		t.Fatalf("POST of an id held elsewhere: %d %s", status, r.Error)
	}
	// Through its namespaced path it may: then the id is ambiguous.
	if status, r := e.do(http.MethodPost, "/api/v0/groups/g2/namespaces/n2/externalips", "application/json", eipBody("g2", "n2", "e1", "192.168.10.102")); status != http.StatusCreated {
		t.Fatalf("namespaced POST: %d %s", status, r.Error)
	}
	before := e.revision()
	for _, m := range []string{http.MethodGet, http.MethodPut, http.MethodDelete} {
		status, r := e.do(m, byID, "application/json", eipBody("g1", "n1", "e1", "192.168.10.103"))
		if status != http.StatusConflict || r.Reason != "Conflict" || !strings.Contains(r.Error, "g1/n1, g2/n2") {
			t.Errorf("%s of an ambiguous id: %d %s", m, status, r.Error)
		}
	}
	if after := e.revision(); after != before {
		t.Fatalf("an ambiguous id changed something (revision %d -> %d)", before, after)
	}
	// The list holds both, under the original's envelope key.
	if _, r := e.do(http.MethodGet, "/api/v0/externalips", "", ""); strings.Count(string(r.Data), `"id":"e1"`) != 2 || !strings.HasPrefix(string(r.Data), `{"externalips":[`) {
		t.Errorf("list: %s", r.Data)
	}
	if status, r := e.do(http.MethodDelete, "/api/v0/groups/g2/namespaces/n2/externalips/e1", "", ""); status != http.StatusOK {
		t.Fatalf("namespaced DELETE: %d %s", status, r.Error)
	}
	if status, r := e.do(http.MethodDelete, byID, "", ""); status != http.StatusOK {
		t.Fatalf("DELETE by id: %d %s", status, r.Error)
	}
	if status, _ := e.do(http.MethodGet, "/api/v0/groups/g1/namespaces/n1/externalips/e1", "", ""); status != http.StatusNotFound {
		t.Fatalf("after DELETE by id: %d", status)
	}
}
