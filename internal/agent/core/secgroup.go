package core

import (
	"cmp"
	"context"
	"net/netip"
	"slices"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/controller"
)

// secGroupMembers keeps each security group's status.members: the NICs of
// the VMs of its namespace that name it, with their addresses. A node's
// agent may read only the VMs placed on it, so it takes the peers of a
// rule's remoteSecurityGroupID from there (internal/agent/secgroup); the
// Core agent reads every VM. Level-based: each reconcile recomputes a
// group's members from the cache and writes only when they changed.
type secGroupMembers struct {
	c      *client.Client
	groups *controller.Informer
	vms    *controller.Informer
}

func setupSecGroupMembers(m *controller.Manager, inf func(*api.Kind) *controller.Informer, opts controller.Options) {
	r := &secGroupMembers{c: m.Client, groups: inf(api.SecurityGroupKind), vms: inf(api.VirtualMachineKind)}
	ctl := controller.New("securitygroup-members", r.groups, r, opts)
	// A VM change concerns every group of its namespace: the groups it
	// names now, and those it named before (which the event does not
	// tell).
	ctl.Watch(r.vms, func(o api.Object) []controller.Key {
		m := o.GetMeta()
		var keys []controller.Key
		for _, g := range r.groups.List() {
			if gm := g.GetMeta(); gm.Group == m.Group && gm.Namespace == m.Namespace {
				keys = append(keys, controller.KeyOf(g))
			}
		}
		return keys
	})
	m.Add(ctl)
}

// Reconcile implements controller.Reconciler.
func (r *secGroupMembers) Reconcile(ctx context.Context, key controller.Key) (controller.Result, error) {
	o, ok := r.groups.Get(key)
	if !ok || o.GetMeta().Deleting() {
		return controller.Result{}, nil
	}
	var vms []*api.VirtualMachine
	for _, x := range r.vms.List() {
		vms = append(vms, x.(*api.VirtualMachine))
	}
	members := SecurityGroupMembers(key.Group, key.Namespace, key.ID, vms)
	_, err := controller.UpdateStatus(ctx, r.c, o.(*api.SecurityGroup), func(g *api.SecurityGroup) bool {
		if slices.Equal(g.Status.Members, members) {
			return false
		}
		g.Status.Members = members
		return true
	})
	return controller.Result{}, ignoreNotFound(err)
}

// SecurityGroupMembers returns the members of security group id of the namespace
// among vms: every NIC naming it that has an IPv4 address (one without
// matches no peer), sorted by VM id, then NIC index. VMs being deleted
// stay members until they are gone, as their NICs still send.
func SecurityGroupMembers(group, namespace, id string, vms []*api.VirtualMachine) []api.SecurityGroupMember {
	var out []api.SecurityGroupMember
	for _, x := range vms {
		if x.Meta.Group != group || x.Meta.Namespace != namespace {
			continue
		}
		for i, nic := range x.Spec.NICs {
			a, err := netip.ParseAddr(nic.IPv4Address)
			if err != nil || !a.Is4() || !slices.Contains(nic.SecurityGroupIDs, id) {
				continue
			}
			out = append(out, api.SecurityGroupMember{VMID: x.Meta.ID, NIC: i, IPv4Address: a.String()})
		}
	}
	slices.SortFunc(out, func(a, b api.SecurityGroupMember) int {
		return cmp.Or(cmp.Compare(a.VMID, b.VMID), cmp.Compare(a.NIC, b.NIC))
	})
	return out
}
