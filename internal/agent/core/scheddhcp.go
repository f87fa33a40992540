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

// dhcpSched places the DHCP server of each network with DHCP on and no
// networkv0/dhcp_node_name (scheduler.PlaceDHCP; an annotation set by
// hand is left alone), and writes what the server hands out that comes
// from other objects into status.dhcp (package leases): the VMs' static
// leases and the router's gateway. The serving node reads them there, as
// it may not read VMs placed on other nodes.
type dhcpSched struct {
	s    *sched
	nets *controller.Informer
	// mu serializes decisions; assumed holds the ones written that the
	// cache may not show yet, so two networks decided at once spread.
	mu      sync.Mutex
	assumed map[controller.Key]string
}

func setupDHCPScheduler(m *controller.Manager, s *sched, inf func(*api.Kind) *controller.Informer, copts controller.Options) {
	d := &dhcpSched{s: s, nets: inf(api.NetworkKind), assumed: map[controller.Key]string{}}
	ctl := controller.New("scheduler-dhcp", d.nets, d, copts)
	for _, read := range []*controller.Informer{s.vms, s.routers} {
		ctl.Watch(read, networkKeysOf)
	}
	// A node becoming Ready may let an unplaced server go there.
	ctl.Watch(s.nodes, func(api.Object) []controller.Key {
		var keys []controller.Key
		for _, o := range d.nets.List() {
			if needsDHCPNode(o.(*api.Network)) {
				keys = append(keys, controller.KeyOf(o))
			}
		}
		return keys
	})
	m.Add(ctl)
}

// dhcpOn reports whether n has DHCP on (spec.dhcp absent or not disabled).
func dhcpOn(n *api.Network) bool { return n.Spec.DHCP == nil || !n.Spec.DHCP.Disabled }

func needsDHCPNode(n *api.Network) bool {
	return !n.Meta.Deleting() && dhcpOn(n) && n.Meta.Annotations[api.AnnotationDHCPNode] == ""
}

// Reconcile implements controller.Reconciler.
func (d *dhcpSched) Reconcile(ctx context.Context, key controller.Key) (controller.Result, error) {
	o, ok := d.nets.Get(key)
	if !ok || o.GetMeta().Deleting() {
		return controller.Result{}, nil
	}
	if !dhcpOn(o.(*api.Network)) {
		return controller.Result{}, ignoreNotFound(d.clearHosts(ctx, o.(*api.Network)))
	}
	n, err := d.writeHosts(ctx, o.(*api.Network))
	if err != nil || !needsDHCPNode(n) {
		return controller.Result{}, ignoreNotFound(err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	node, why := scheduler.PlaceDHCP(d.candidates(n))
	if node == "" {
		controller.Logger(ctx).Info("network's DHCP server not placed", "network", key, "why", why)
		return controller.Result{RequeueAfter: dhcpRetry}, nil
	}
	written, err := controller.Update(ctx, d.s.c, n, func(x *api.Network) bool {
		if !needsDHCPNode(x) {
			return false
		}
		if x.Meta.Annotations == nil {
			x.Meta.Annotations = map[string]string{}
		}
		x.Meta.Annotations[api.AnnotationDHCPNode] = node
		return true
	})
	if err != nil {
		return controller.Result{}, ignoreNotFound(err)
	}
	if written.Meta.Annotations[api.AnnotationDHCPNode] == node {
		d.assumed[key] = node
		d.s.events.Event(written, api.EventNormal, ReasonScheduled, "DHCP server placed on %s", node)
	}
	return controller.Result{}, nil
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
		if slices.Equal(st.Hosts, hosts) && st.RouterGateway == gw {
			return false
		}
		st.Hosts, st.RouterGateway = hosts, gw
		x.Status.DHCP = st
		return true
	})
}

// clearHosts empties the leases and router gateway of a network whose
// DHCP was disabled: nothing serves them, and they would be stale when it
// is enabled again. status.dhcp goes when the serving node has cleared
// its part too.
func (d *dhcpSched) clearHosts(ctx context.Context, n *api.Network) error {
	_, err := controller.UpdateStatus(ctx, d.s.c, n, func(x *api.Network) bool {
		st := x.Status.DHCP
		if st == nil || (len(st.Hosts) == 0 && st.RouterGateway == "") {
			return false
		}
		st.Hosts, st.RouterGateway = nil, ""
		if st.Node == "" && st.State == "" && st.Message == "" && st.Leases == 0 {
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
	add := func(id string) {
		k := controller.Key{Group: m.Group, Namespace: m.Namespace, ID: id}
		if !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	switch x := o.(type) {
	case *api.VirtualMachine:
		for _, nic := range x.Spec.NICs {
			add(nic.NetworkID)
		}
	case *api.VirtualRouter:
		for _, nic := range x.Spec.NICs {
			add(nic.NetworkID)
		}
	}
	return keys
}

// candidates are the registered nodes with the users of n placed on each
// and the DHCP servers each already runs.
func (d *dhcpSched) candidates(n *api.Network) []scheduler.DHCPCandidate {
	users, servers := map[string]int{}, map[string]int{}
	for _, inf := range []*controller.Informer{d.s.vms, d.s.routers} {
		for _, o := range inf.List() {
			if node := placement.NodeOf(o); node != "" && usesNetwork(o, n) {
				users[node]++
			}
		}
	}
	for _, o := range d.nets.List() {
		key := controller.KeyOf(o)
		node := o.GetMeta().Annotations[api.AnnotationDHCPNode]
		if node != "" {
			delete(d.assumed, key) // the cache shows it now
		} else {
			node = d.assumed[key]
		}
		if node != "" {
			servers[node]++
		}
	}
	var out []scheduler.DHCPCandidate
	for _, o := range d.s.nodes.List() {
		nd := o.(*api.Node)
		out = append(out, scheduler.DHCPCandidate{
			Node: scheduler.Node{Name: nd.Meta.ID, Ready: nd.Status.State == api.NodeReady,
				Unschedulable: nd.Spec.Unschedulable, CoreOnly: !runsWorkloads(nd)},
			Users: users[nd.Meta.ID], Servers: servers[nd.Meta.ID],
		})
	}
	return out
}

// usesNetwork reports whether a VM or router of n's namespace attaches to n.
func usesNetwork(o api.Object, n *api.Network) bool {
	m := o.GetMeta()
	if m.Group != n.Meta.Group || m.Namespace != n.Meta.Namespace || m.Deleting() {
		return false
	}
	var ids []string
	switch x := o.(type) {
	case *api.VirtualMachine:
		for _, nic := range x.Spec.NICs {
			ids = append(ids, nic.NetworkID)
		}
	case *api.VirtualRouter:
		for _, nic := range x.Spec.NICs {
			ids = append(ids, nic.NetworkID)
		}
	}
	return slices.Contains(ids, n.Meta.ID)
}
