package apiserver_test

import (
	"net/http"
	"strings"
	"testing"
)

const vmYAML = `meta:
  apiType: systemv0/virtualmachine
  id: vm1
  annotations: {virtualmachinev0/node_name: worker1}
spec:
  requestVcpus: REQCPU
  limitVcpus: 1000m
  requestMemory: REQMEM
  limitMemory: 1G
  actionState: PowerOn
`

// TestBadInputIs400NamingTheFieldAndStoresNothing covers the acceptance list
// of malformed input: each is rejected with the field named, and the store's
// revision does not move.
func TestBadInputIs400NamingTheFieldAndStoresNothing(t *testing.T) {
	e := newEnv(t)
	e.tenancy("g1", "n1")
	const nsPath = "/api/v0/groups/g1/namespaces/n1"
	vm := func(reqCPU, reqMem string) string {
		return strings.NewReplacer("REQCPU", reqCPU, "REQMEM", reqMem).Replace(vmYAML)
	}
	cases := []struct {
		name, path, ctype, body string
		status                  int
		field                   string
	}{
		{"id with dots and slash", "/api/v0/groups", "", `{"meta":{"apiType":"corev0/group","id":"../x"}}`, 400, "meta.id"},
		{"id with capitals", "/api/v0/groups", "", `{"meta":{"apiType":"corev0/group","id":"A_B"}}`, 400, "meta.id"},
		{"id of 64 chars", "/api/v0/groups", "", `{"meta":{"apiType":"corev0/group","id":"` + strings.Repeat("a", 64) + `"}}`, 400, "meta.id"},
		{"cidr /33", nsPath + "/networks", "application/yaml",
			"meta: {apiType: systemv0/network, id: n}\nspec: {ipv4CIDR: 10.0.0.0/33}\n", 400, "spec.ipv4CIDR"},
		{"ip 1.2.3", nsPath + "/externalips", "application/yaml",
			"meta: {apiType: corev0/externalip, id: e}\nspec: {poolID: p, ipv4Address: 1.2.3}\n", 400, "spec.ipv4Address"},
		{"size 1X", nsPath + "/blockstorages", "application/yaml",
			"meta: {apiType: systemv0/blockstorage, id: b, annotations: {blockstoragev0/node_name: w}}\nspec: {requestSize: 1X, limitSize: 1G, from: {type: Empty}}\n", 400, "spec.requestSize"},
		{"cpu 0m", nsPath + "/virtualmachines", "application/yaml", vm("0m", "1G"), 400, "spec.requestVcpus"},
		{"memory limit below request", nsPath + "/virtualmachines", "application/yaml", vm("1000m", "2G"), 400, "spec.limitMemory"},
		{"cpu limit below request", nsPath + "/virtualmachines", "application/yaml", vm("2", "1G"), 400, "spec.limitVcpus"},
		{"unknown apiType", "/api/v0/groups", "", `{"meta":{"apiType":"corev0/nope","id":"x"}}`, 400, "meta.apiType"},
		{"unknown field", nsPath + "/networks", "", `{"meta":{"apiType":"systemv0/network","id":"n"},"spec":{"ipv4CIDR":"10.0.0.0/24","bogus":1}}`, 400, "spec.bogus"},
		{"malformed json", "/api/v0/groups", "", `{"meta":{"apiType":"corev0/group","id":"x"`, 400, "(document)"},
		{"malformed yaml", "/api/v0/groups", "application/yaml", "meta: {apiType: corev0/group\n  id: [x\n", 400, "(document)"},
		{"group mismatch with path", nsPath + "/networks", "", `{"meta":{"apiType":"systemv0/network","id":"n","group":"other"},"spec":{"ipv4CIDR":"10.0.0.0/24"}}`, 400, "meta.group"},
		{"missing namespace", "/api/v0/groups/g1/namespaces/nope/networks", "application/yaml",
			"meta: {apiType: systemv0/network, id: n}\nspec: {ipv4CIDR: 10.0.0.0/24}\n", 404, ""},
		{"missing group", "/api/v0/groups/nope/namespaces", "", `{"meta":{"apiType":"corev0/namespace","id":"n"}}`, 404, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := e.revision()
			status, r := e.do(http.MethodPost, c.path, c.ctype, c.body)
			if status != c.status {
				t.Fatalf("status %d (%s), want %d", status, r.Error, c.status)
			}
			if c.field != "" && (len(r.Fields) == 0 || r.Fields[0].Field != c.field || !strings.Contains(r.Error, c.field)) {
				t.Fatalf("error %q fields %+v: want field %q named", r.Error, r.Fields, c.field)
			}
			if after := e.revision(); after != before {
				t.Fatalf("store revision moved %d -> %d: something was stored", before, after)
			}
		})
	}
}

// TestBadPathIDs: ids in the path are checked before they reach a store key.
func TestBadPathIDs(t *testing.T) {
	e := newEnv(t)
	for _, p := range []string{"/api/v0/groups/A_B", "/api/v0/groups/" + strings.Repeat("a", 64) + "/namespaces/x", "/api/v0/nodes/a%2Fb"} {
		if status, r := e.do(http.MethodGet, p, "", ""); status != http.StatusBadRequest {
			t.Errorf("GET %s: %d %s", p, status, r.Error)
		}
	}
}
