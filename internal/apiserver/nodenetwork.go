package apiserver

import (
	"context"
	"fmt"
	"maps"
	"reflect"
	"slices"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/auth"
)

// A node's role lets it update and write the status of every network (a
// network is realized on whichever nodes its VMs land), but a network
// also carries its tenant's DHCP and DNS settings and where its DHCP
// server runs. So what a node writes is narrowed here to what its
// agents write: its own finalizer and the bridge-name annotation (an
// update), its own entry of status.nodes, and status.dhcp while it is the
// network's DHCP node (its state, never the Core agent's hosts). A node
// whose bindings let it create networks (the Core agent's
// clusterrolebinding, which places DHCP servers and writes their hosts)
// is not narrowed. docs/security.md, "Nodes".

// guardNodeNetwork refuses a network write by a node that changes more
// than its own part. status says whether next is a status write.
func (s *Server) guardNodeNetwork(ctx context.Context, k *api.Kind, cur, next api.Object, status bool) error {
	id := auth.FromContext(ctx)
	if k != api.NetworkKind || s.policy == nil || id == nil || id.Kind != auth.KindNode {
		return nil
	}
	c, n := cur.(*api.Network), next.(*api.Network)
	var why string
	if status {
		why = nodeNetworkStatusChange(id.Node, c, n)
	} else {
		why = nodeNetworkChange(id.Node, c, n)
	}
	if why == "" {
		return nil
	}
	m := c.Meta
	a := auth.Attributes{Verb: auth.VerbCreate, Kind: k.Name, Group: m.Group, Namespace: m.Namespace}
	if s.authorize(ctx, id, a) == nil {
		return nil // the Core agent
	}
	return fmt.Errorf("node %s may not change %s of network %s/%s/%s (a node writes its finalizer, its status entry and, as the DHCP node, status.dhcp): %w",
		id.Node, why, m.Group, m.Namespace, m.ID, api.ErrForbidden)
}

// nodeNetworkChange names what an update by node changes beyond its
// finalizer and the bridge-name annotation ("" if nothing).
func nodeNetworkChange(node string, cur, next *api.Network) string {
	cm, nm := cur.Meta, next.Meta
	if !reflect.DeepEqual(cur.Spec, next.Spec) {
		return "spec"
	}
	if cm.DeleteState != nm.DeleteState {
		return "meta.deleteState"
	}
	if !maps.Equal(cm.Labels, nm.Labels) {
		return "meta.labels"
	}
	for _, k := range slices.Sorted(maps.Keys(union(cm.Annotations, nm.Annotations))) {
		was, now := cm.Annotations[k], nm.Annotations[k]
		// Every node records the same, derived bridge name once.
		if was != now && !(k == api.AnnotationBridgeName && was == "") {
			return "meta.annotations[" + k + "]"
		}
	}
	own := api.FinalizerNodePrefix + node
	if !slices.Equal(without(cm.Finalizers, own), without(nm.Finalizers, own)) {
		return "meta.finalizers (other than " + own + ")"
	}
	return ""
}

// nodeNetworkStatusChange names what a status write by node changes
// beyond its own status.nodes entry, its own status.dhcp.servers entry (a
// Bridge network's server on it) and, as the network's DHCP node (or the
// one clearing its own server), status.dhcp without its hosts.
func nodeNetworkStatusChange(node string, cur, next *api.Network) string {
	cs, ns := cur.Status, next.Status
	for _, k := range slices.Sorted(maps.Keys(union(cs.Nodes, ns.Nodes))) {
		if k == node {
			continue
		}
		was, had := cs.Nodes[k]
		now, has := ns.Nodes[k]
		if had != has || !reflect.DeepEqual(was, now) {
			return "status.nodes[" + k + "]"
		}
	}
	if reflect.DeepEqual(cs.DHCP, ns.DHCP) {
		return ""
	}
	var was, now api.NetworkDHCPStatus
	if cs.DHCP != nil {
		was = *cs.DHCP
	}
	if ns.DHCP != nil {
		now = *ns.DHCP
	}
	if !slices.Equal(was.Hosts, now.Hosts) || was.RouterGateway != now.RouterGateway {
		return "status.dhcp.hosts"
	}
	for _, k := range slices.Sorted(maps.Keys(union(was.Servers, now.Servers))) {
		if k == node {
			continue // a Bridge network's server on this node: its own entry
		}
		a, had := was.Servers[k]
		b, has := now.Servers[k]
		if had != has || a != b {
			return "status.dhcp.servers[" + k + "]"
		}
	}
	single := func(d api.NetworkDHCPStatus) [4]any { return [4]any{d.Node, d.State, d.Message, d.Leases} }
	if single(was) != single(now) && cur.Meta.Annotations[api.AnnotationDHCPNode] != node && was.Node != node {
		return "status.dhcp (not its DHCP node)"
	}
	return ""
}

func union[V any](a, b map[string]V) map[string]V {
	out := maps.Clone(a)
	if out == nil {
		out = map[string]V{}
	}
	maps.Copy(out, b)
	return out
}

func without(list []string, s string) []string {
	return slices.DeleteFunc(slices.Clone(list), func(x string) bool { return x == s })
}
