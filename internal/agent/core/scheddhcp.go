package core

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/agent/dhcp/leases"
	"github.com/humstack/humstack/internal/controller"
	"github.com/humstack/humstack/internal/placement"
	"github.com/humstack/humstack/internal/scheduler"
)

// dhcpRetry is how soon a network whose DHCP server fits on no node is
// decided again (node changes also retry it).
const dhcpRetry = 10 * time.Second

// DefaultDHCPMoveAfter is how long the node of a network's DHCP server
// may be NotReady or cordoned before the server is placed elsewhere.
const DefaultDHCPMoveAfter = time.Minute

// dhcpSched places the one DHCP server of each VXLAN or VLAN network with
// DHCP on (networkv0/dhcp_node_name, scheduler.PlaceDHCP) and moves it
// when its node has been NotReady or cordoned for moveAfter, or is gone;
// the old node's agent stops its server when it sees the annotation
// moved. A Bridge network has a server on every node that realizes it
// (api.DHCPPerNode) and nothing to place. For every network with DHCP on
// it writes what the servers hand out that comes from other objects into
// status.dhcp (package leases): the VMs' static leases and the router's
// gateway. The serving nodes read them there, as they may not read VMs
// placed on other nodes.
type dhcpSched struct {
	s         *sched
	nets      *controller.Informer
	moveAfter time.Duration
	// mu serializes decisions; assumed holds the ones written that the
	// cache may not show yet, so two networks decided at once spread.
	mu      sync.Mutex
	assumed map[controller.Key]string
	// unfitSince is when the node of a network's server was first seen
	// unfit, by network.
	unfitSince map[controller.Key]time.Time
}

func setupDHCPScheduler(m *controller.Manager, s *sched, inf func(*api.Kind) *controller.Informer, copts controller.Options, moveAfter time.Duration) {
	if moveAfter <= 0 {
		moveAfter = DefaultDHCPMoveAfter
	}
	d := &dhcpSched{s: s, nets: inf(api.NetworkKind), moveAfter: moveAfter,
		assumed: map[controller.Key]string{}, unfitSince: map[controller.Key]time.Time{}}
	ctl := controller.New("scheduler-dhcp", d.nets, d, copts)
	for _, read := range []*controller.Informer{s.vms, s.routers} {
		ctl.Watch(read, networkKeysOf)
	}
	// A node becoming Ready may let an unplaced server go there; one going
	// NotReady, cordoned or away may make its servers move, or leave a
	// Bridge network's status entry to clear.
	ctl.Watch(s.nodes, func(o api.Object) []controller.Key {
		node := o.GetMeta().ID
		var keys []controller.Key
		for _, x := range d.nets.List() {
			n := x.(*api.Network)
			at := n.Meta.Annotations[api.AnnotationDHCPNode]
			serves := false
			if n.Status.DHCP != nil {
				_, serves = n.Status.DHCP.Servers[node]
			}
			if (singleServer(n) && (at == "" || at == node)) || serves {
				keys = append(keys, controller.KeyOf(n))
			}
		}
		return keys
	})
	m.Add(ctl)
}

// singleServer reports whether n has one DHCP server, placed by this
// scheduler: DHCP on, not a Bridge network, not being deleted.
func singleServer(n *api.Network) bool {
	return !n.Meta.Deleting() && n.Spec.DHCPOn() && !api.DHCPPerNode(&n.Meta)
}

// Reconcile implements controller.Reconciler.
func (d *dhcpSched) Reconcile(ctx context.Context, key controller.Key) (controller.Result, error) {
	o, ok := d.nets.Get(key)
	if !ok || o.GetMeta().Deleting() {
		d.forget(key)
		return controller.Result{}, nil
	}
	if !o.(*api.Network).Spec.DHCPOn() {
		d.forget(key)
		return controller.Result{}, ignoreNotFound(d.clearHosts(ctx, o.(*api.Network)))
	}
	n, err := d.writeHosts(ctx, o.(*api.Network))
	if err != nil || !singleServer(n) {
		return controller.Result{}, ignoreNotFound(err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	cands := d.candidates(n)
	from := n.Meta.Annotations[api.AnnotationDHCPNode]
	if from != "" {
		wait, why := d.holdOn(key, from, cands)
		if wait >= 0 {
			return controller.Result{RequeueAfter: wait}, nil
		}
		controller.Logger(ctx).Info("moving network's DHCP server", "network", key, "from", from, "why", why)
	}
	node, why := scheduler.PlaceDHCP(cands)
	if node == "" {
		controller.Logger(ctx).Info("network's DHCP server not placed", "network", key, "why", why)
		return controller.Result{RequeueAfter: dhcpRetry}, nil
	}
	return controller.Result{}, d.place(ctx, n, from, node)
}

// holdOn decides about a placed server on node from: it stays (wait 0,
// or the time left until it may move, to look again) while from fits or
// has been unfit for less than moveAfter; wait < 0 means move, and why.
func (d *dhcpSched) holdOn(key controller.Key, from string, cands []scheduler.DHCPCandidate) (time.Duration, string) {
	i := slices.IndexFunc(cands, func(c scheduler.DHCPCandidate) bool { return c.Node.Name == from })
	if i < 0 {
		return -1, "node " + from + " is not registered"
	}
	why := scheduler.DHCPUnfit(cands[i].Node)
	if why == "" {
		delete(d.unfitSince, key)
		return 0, ""
	}
	since, ok := d.unfitSince[key]
	if !ok {
		since = time.Now()
		d.unfitSince[key] = since
	}
	if left := d.moveAfter - time.Since(since); left > 0 {
		return left, ""
	}
	return -1, "node " + from + " " + why + " for " + d.moveAfter.String()
}

func (d *dhcpSched) forget(key controller.Key) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.unfitSince, key)
}

// place writes node into n's annotation, if it still says from.
func (d *dhcpSched) place(ctx context.Context, n *api.Network, from, node string) error {
	key := controller.KeyOf(n)
	written, err := controller.Update(ctx, d.s.c, n, func(x *api.Network) bool {
		if !singleServer(x) || x.Meta.Annotations[api.AnnotationDHCPNode] != from {
			return false
		}
		if x.Meta.Annotations == nil {
			x.Meta.Annotations = map[string]string{}
		}
		x.Meta.Annotations[api.AnnotationDHCPNode] = node
		return true
	})
	if err != nil {
		return ignoreNotFound(err)
	}
	if written.Meta.Annotations[api.AnnotationDHCPNode] == node {
		d.assumed[key] = node
		delete(d.unfitSince, key)
		if from == "" {
			d.s.events.Event(written, api.EventNormal, ReasonScheduled, "DHCP server placed on %s", node)
		} else {
			d.s.events.Event(written, api.EventNormal, ReasonScheduled, "DHCP server moved from %s to %s", from, node)
		}
	}
	return nil
}

// writeHosts puts the network's current leases and router gateway into
// status.dhcp, if they changed.
func (d *dhcpSched) writeHosts(ctx context.Context, n *api.Network) (*api.Network, error) {
	var vms []*api.VirtualMachine
	for _, o := range d.s.vms.List() {
		vms = append(vms, o.(*api.VirtualMachine))
	}
	var routers []*api.VirtualRouter
	for _, o := range d.s.routers.List() {
		routers = append(routers, o.(*api.VirtualRouter))
	}
	hosts, gw := leases.Hosts(n, vms), leases.RouterGateway(n, routers)
	return controller.UpdateStatus(ctx, d.s.c, n, func(x *api.Network) bool {
		st := x.Status.DHCP
		if st == nil {
			st = &api.NetworkDHCPStatus{}
		}
		gone := d.goneServers(st)
		if slices.Equal(st.Hosts, hosts) && st.RouterGateway == gw && len(gone) == 0 {
			return false
		}
		st.Hosts, st.RouterGateway = hosts, gw
		for _, node := range gone {
			delete(st.Servers, node)
		}
		x.Status.DHCP = st
		return true
	})
}

// goneServers are the nodes of st.servers (a Bridge network's) that are
// no longer registered: their agents will not clear their entries.
func (d *dhcpSched) goneServers(st *api.NetworkDHCPStatus) []string {
	var gone []string
	for node := range st.Servers {
		if _, ok := d.s.nodes.Get(controller.Key{ID: node}); !ok {
			gone = append(gone, node)
		}
	}
	return gone
}

// clearHosts empties the leases and router gateway of a network whose
// DHCP was disabled: nothing serves them, and they would be stale when it
// is enabled again; so are the entries of nodes gone since. status.dhcp
// goes when the serving nodes have cleared their parts too.
func (d *dhcpSched) clearHosts(ctx context.Context, n *api.Network) error {
	_, err := controller.UpdateStatus(ctx, d.s.c, n, func(x *api.Network) bool {
		st := x.Status.DHCP
		if st == nil {
			return false
		}
		gone := d.goneServers(st)
		if len(st.Hosts) == 0 && st.RouterGateway == "" && len(gone) == 0 {
			return false
		}
		st.Hosts, st.RouterGateway = nil, ""
		for _, node := range gone {
			delete(st.Servers, node)
		}
		if st.Node == "" && st.State == "" && st.Message == "" && st.Leases == 0 && len(st.Servers) == 0 {
			x.Status.DHCP = nil
		}
		return true
	})
	return err
}

// networkKeysOf maps a VM or router to the networks of its namespace it
// attaches to.
func networkKeysOf(o api.Object) []controller.Key {
	m := o.GetMeta()
	var keys []controller.Key
	for _, id := range api.NetworkIDs(o) {
		keys = append(keys, controller.Key{Group: m.Group, Namespace: m.Namespace, ID: id})
	}
	return keys
}

// candidates are the registered nodes with the VMs and routers of n
// placed on each and the DHCP servers each already runs.
func (d *dhcpSched) candidates(n *api.Network) []scheduler.DHCPCandidate {
	vms, routers, servers := map[string]int{}, map[string]int{}, map[string]int{}
	for inf, count := range map[*controller.Informer]map[string]int{d.s.vms: vms, d.s.routers: routers} {
		for _, o := range inf.List() {
			if node := placement.NodeOf(o); node != "" && usesNetwork(o, n) {
				count[node]++
			}
		}
	}
	for _, o := range d.nets.List() {
		key := controller.KeyOf(o)
		node := o.GetMeta().Annotations[api.AnnotationDHCPNode]
		if d.assumed[key] != "" && node == d.assumed[key] {
			delete(d.assumed, key) // the cache shows it now
		} else if d.assumed[key] != "" {
			node = d.assumed[key]
		}
		if node != "" && singleServer(o.(*api.Network)) {
			servers[node]++
		}
	}
	var out []scheduler.DHCPCandidate
	for _, o := range d.s.nodes.List() {
		nd := o.(*api.Node)
		id := nd.Meta.ID
		out = append(out, scheduler.DHCPCandidate{
			Node: scheduler.Node{Name: id, Ready: nd.Status.State == api.NodeReady,
				Unschedulable: nd.Spec.Unschedulable, CoreOnly: !runsWorkloads(nd)},
			VMs: vms[id], Routers: routers[id], Servers: servers[id],
		})
	}
	return out
}

// usesNetwork reports whether a VM or router of n's namespace, not being
// deleted, attaches to n.
func usesNetwork(o api.Object, n *api.Network) bool {
	m := o.GetMeta()
	return m.Group == n.Meta.Group && m.Namespace == n.Meta.Namespace && !m.Deleting() &&
		slices.Contains(api.NetworkIDs(o), n.Meta.ID)
}
