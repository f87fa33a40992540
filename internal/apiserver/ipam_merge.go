package apiserver

import (
	"github.com/humstack/humstack/api"
)

// keepAddresses carries the addresses the pool assigned from the stored
// cur into an update obj that leaves them empty, as Kubernetes keeps a
// service's clusterIP: re-applying YAML without addresses changes
// nothing. A VM NIC keeps its address while it stays on the same
// network at the same index; a network keeps its DHCP server's address
// while DHCP stays on.
func keepAddresses(obj, cur api.Object) {
	switch o := obj.(type) {
	case *api.VirtualMachine:
		c := cur.(*api.VirtualMachine)
		for i := range o.Spec.NICs {
			nic := &o.Spec.NICs[i]
			if nic.IPv4Address == "" && i < len(c.Spec.NICs) && c.Spec.NICs[i].NetworkID == nic.NetworkID {
				nic.IPv4Address = c.Spec.NICs[i].IPv4Address
			}
		}
	case *api.Network:
		c := cur.(*api.Network)
		if c.Spec.DHCP == nil || c.Spec.DHCP.Address == "" {
			return
		}
		switch {
		case o.Spec.DHCP == nil:
			o.Spec.DHCP = &api.NetworkDHCP{Address: c.Spec.DHCP.Address}
		case !o.Spec.DHCP.Disabled && o.Spec.DHCP.Address == "":
			o.Spec.DHCP.Address = c.Spec.DHCP.Address
		}
	}
}
