package apiserver_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/auth"
)

// A node may update and write the status of any network, but only its own
// part: its finalizer, the bridge-name annotation, its status.nodes entry
// and, as the network's DHCP node, status.dhcp (not the hosts). The Core
// agent (a node bound to core-agent) places DHCP servers and writes their
// hosts.
func TestNodeNetworkWritesNarrowed(t *testing.T) {
	e := newRBACEnv(t)
	e.bindNode("node-c", auth.RoleCoreAgent)
	g := api.GroupKind.New().(*api.Group)
	g.Meta.ID = "g1"
	e.put("/groups/g1", g)
	ns := api.NamespaceKind.New().(*api.Namespace)
	ns.Meta.ID, ns.Meta.Group = "ns1", "g1"
	e.put("/namespaces/g1/ns1", ns)
	n := seedFixture(t, "network").(*api.Network)
	n.Meta.Group, n.Meta.UID = "g1", "u-net1"
	n.Meta.Annotations[api.AnnotationDHCPNode] = "node-a"
	n.Spec.DHCP = &api.NetworkDHCP{Address: "10.0.0.253"}
	e.put("/networks/g1/ns1/net1", n)
	const path = "/api/v0/groups/g1/namespaces/ns1/networks/net1"

	read := func() *api.Network {
		code, body := e.call("admin", "GET", path, "")
		if code != http.StatusOK {
			t.Fatalf("get: %d %s", code, body)
		}
		var out struct {
			Data struct{ Network *api.Network }
		}
		if err := json.Unmarshal([]byte(body), &out); err != nil || out.Data.Network == nil {
			t.Fatalf("%v: %s", err, body)
		}
		return out.Data.Network
	}
	write := func(who, sub string, edit func(*api.Network)) (int, string) {
		x := read()
		edit(x)
		b, _ := api.Encode(x)
		return e.call(who, "PUT", path+sub, string(b))
	}
	for _, tc := range []struct {
		name, who, sub string
		edit           func(*api.Network)
		want           int
		says           string
	}{
		{"own finalizer and bridge name", "node:node-b", "", func(x *api.Network) {
			x.Meta.Finalizers = append(x.Meta.Finalizers, api.FinalizerNodePrefix+"node-b")
			x.Meta.Annotations[api.AnnotationBridgeName] = "hsabc"
		}, http.StatusOK, ""},
		{"the DHCP upstreams", "node:node-b", "", func(x *api.Network) {
			x.Spec.DHCP.Upstreams = []string{"192.0.2.53"}
		}, http.StatusForbidden, "may not change spec of network g1/ns1/net1"},
		{"the DHCP node", "node:node-b", "", func(x *api.Network) {
			x.Meta.Annotations[api.AnnotationDHCPNode] = "node-b"
		}, http.StatusForbidden, "meta.annotations[" + api.AnnotationDHCPNode + "]"},
		{"the bridge name once recorded", "node:node-b", "", func(x *api.Network) {
			x.Meta.Annotations[api.AnnotationBridgeName] = "hsother"
		}, http.StatusForbidden, api.AnnotationBridgeName},
		{"another node's finalizer", "node:node-b", "", func(x *api.Network) {
			x.Meta.Finalizers = append(x.Meta.Finalizers, api.FinalizerNodePrefix+"node-a")
		}, http.StatusForbidden, "meta.finalizers"},
		{"own status entry", "node:node-b", "/status", func(x *api.Network) {
			x.Status.Nodes = map[string]api.StateStatus{"node-b": {State: "Available"}}
		}, http.StatusOK, ""},
		{"another node's status entry", "node:node-b", "/status", func(x *api.Network) {
			x.Status.Nodes["node-a"] = api.StateStatus{State: "Available"}
		}, http.StatusForbidden, "status.nodes[node-a]"},
		{"status.dhcp, not the DHCP node", "node:node-b", "/status", func(x *api.Network) {
			x.Status.DHCP = &api.NetworkDHCPStatus{Node: "node-b", State: "Running"}
		}, http.StatusForbidden, "status.dhcp"},
		{"status.dhcp as the DHCP node", "node:node-a", "/status", func(x *api.Network) {
			x.Status.DHCP = &api.NetworkDHCPStatus{Node: "node-a", State: "Running", Leases: 1}
		}, http.StatusOK, ""},
		{"the hosts as the DHCP node", "node:node-a", "/status", func(x *api.Network) {
			x.Status.DHCP.Hosts = []api.NetworkDHCPHost{{Name: "evil", IPv4Address: "10.0.0.9"}}
		}, http.StatusForbidden, "status.dhcp.hosts"},
		{"the Core agent's hosts", "node:node-c", "/status", func(x *api.Network) {
			x.Status.DHCP.Hosts = []api.NetworkDHCPHost{{Name: "vm1", IPv4Address: "10.0.0.1"}}
		}, http.StatusOK, ""},
		{"the Core agent places the DHCP server", "node:node-c", "", func(x *api.Network) {
			x.Meta.Annotations[api.AnnotationDHCPNode] = "node-c"
		}, http.StatusOK, ""},
	} {
		code, body := write(tc.who, tc.sub, tc.edit)
		if code != tc.want || !strings.Contains(body, tc.says) {
			t.Errorf("%s (%s): %d %s, want %d saying %q", tc.name, tc.who, code, strings.TrimSpace(body), tc.want, tc.says)
		}
	}
}
