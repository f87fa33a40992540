package api

import "slices"

// DHCPOn reports whether the network has DHCP on (spec.dhcp absent or
// not disabled).
func (s *NetworkSpec) DHCPOn() bool { return s.DHCP == nil || !s.DHCP.Disabled }

// DHCPPerNode reports whether a network with meta m runs its DHCP server
// on every node that realizes it: a Bridge network (the type's default),
// whose bridges are separate L2 islands, one per node. The others (VXLAN,
// VLAN) span the nodes and have one server, on AnnotationDHCPNode.
func DHCPPerNode(m *Meta) bool {
	t := m.Annotations[AnnotationNetworkType]
	return t == "" || t == NetworkTypeBridge
}

// NetworkIDs are the ids of the networks (of its namespace) a VM or a
// virtual router attaches to, in NIC order, without repeats; nil for
// any other object.
func NetworkIDs(o Object) []string {
	var ids []string
	add := func(id string) {
		if !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	switch x := o.(type) {
	case *VirtualMachine:
		for _, nic := range x.Spec.NICs {
			add(nic.NetworkID)
		}
	case *VirtualRouter:
		for _, nic := range x.Spec.NICs {
			add(nic.NetworkID)
		}
	}
	return ids
}
