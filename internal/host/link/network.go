// Package link realizes a humstack network on one node with netlink: a
// Linux bridge, and for VXLAN or VLAN networks a member link enslaved to
// it, the gateway address on the bridge and, for unicast VXLAN, one
// all-zeros forwarding entry per peer (head-end replication).
//
// Apply takes the desired state and changes only what differs: a link that
// is already right is never re-created (its ifindex stays), so an agent
// restart flaps nothing, and a bridge deleted by hand comes back. Remove
// deletes what Apply made. Both are idempotent. They act through a Handle,
// which *netlink.Handle satisfies: bound to a namespace (netlink.NewHandleAt)
// in tests and the lab, the agent's own namespace in production.
//
// Same MAC everywhere: a network present on several nodes (VXLAN, VLAN)
// has the same gateway address on every node's bridge. Each bridge gets
// the same deterministic, locally administered MAC (BridgeMAC), so every
// node answers ARP for the gateway with the same address, a guest's ARP
// cache never flaps between nodes, and frames to the gateway MAC are
// delivered by the guest's local bridge (a bridge's own address is a
// local FDB entry, which wins over anything learned on the tunnel). The
// kernel logs a rate-limited "own address as source address" warning when
// another node's gateway frame arrives over the tunnel; it is harmless.
package link

import (
	"crypto/sha256"
	"encoding/base32"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
)

// Kind is the type of a network on a node.
type Kind string

// The network kinds of networkv0/network_type.
const (
	Bridge Kind = "Bridge" // a Linux bridge only
	VXLAN  Kind = "VXLAN"  // a VXLAN link enslaved to the bridge
	VLAN   Kind = "VLAN"   // an 802.1Q link enslaved to the bridge
)

// VXLANPort is the IANA VXLAN UDP port every VXLAN link uses.
const VXLANPort = 4789

// VXLANOverhead is what VXLAN over IPv4 adds to a frame: outer IPv4 (20),
// UDP (8), VXLAN (8) and inner Ethernet (14) headers.
const VXLANOverhead = 50

// Network is the desired state of one network on one node.
type Network struct {
	Bridge string // bridge name, from BridgeName
	Kind   Kind
	// MTU of the bridge and member link; 0 picks the default: the
	// underlay's MTU minus VXLANOverhead for VXLAN, the underlay's for
	// VLAN, the kernel's for Bridge.
	MTU int
	// ID is the VNI (VXLAN) or the VLAN ID (VLAN); unused for Bridge.
	ID int
	// Dev is the underlay device of a VXLAN or VLAN network.
	Dev string
	// Group is the VXLAN multicast group; when nil, the VXLAN link is
	// unicast and floods to Peers.
	Group net.IP
	// Peers are the other nodes' underlay addresses (unicast VXLAN only):
	// one all-zeros FDB entry each, kept in sync.
	Peers []net.IP
	// Gateway, when set, is the address on the bridge; every other
	// non-link-local address on the bridge is removed.
	Gateway *netip.Prefix
}

// Validate reports what makes n unrealizable.
func (n Network) Validate() error {
	var errs []error
	if n.Bridge == "" || len(n.Bridge) > 15 || strings.ContainsAny(n.Bridge, "/ ") {
		errs = append(errs, fmt.Errorf("bridge name %q: want 1-15 characters without / or space", n.Bridge))
	}
	if n.MTU < 0 {
		errs = append(errs, fmt.Errorf("mtu %d is negative", n.MTU))
	}
	switch n.Kind {
	case Bridge:
	case VXLAN:
		if n.ID < 1 || n.ID > 1<<24-1 {
			errs = append(errs, fmt.Errorf("vni %d: want 1-16777215", n.ID))
		}
		if n.Group != nil && !n.Group.IsMulticast() {
			errs = append(errs, fmt.Errorf("group %s is not a multicast address", n.Group))
		}
		if n.Group != nil && len(n.Peers) > 0 {
			errs = append(errs, errors.New("vxlan with a multicast group takes no peers"))
		}
	case VLAN:
		if n.ID < 1 || n.ID > 4094 {
			errs = append(errs, fmt.Errorf("vlan id %d: want 1-4094", n.ID))
		}
	default:
		errs = append(errs, fmt.Errorf("unknown network kind %q", n.Kind))
	}
	if n.Kind != Bridge && n.Dev == "" {
		errs = append(errs, fmt.Errorf("%s network needs an underlay device", n.Kind))
	}
	if n.Gateway != nil && !n.Gateway.IsValid() {
		errs = append(errs, errors.New("invalid gateway prefix"))
	}
	return errors.Join(errs...)
}

// nameEncoding is lowercase base32 without padding: letters and digits 2-7,
// all valid in interface names.
var nameEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// BridgeName is the bridge name of network id in group/namespace: "hs" and
// 12 base32 characters (60 bits) of a SHA-256, 14 characters, the same on
// every node. Member links add one character (MemberName).
func BridgeName(group, namespace, id string) string {
	sum := sha256.Sum256([]byte(group + "/" + namespace + "/" + id))
	return "hs" + nameEncoding.EncodeToString(sum[:])[:12]
}

// MemberName is the name of the VXLAN or VLAN link of a bridge: the
// bridge's name (cut to 14 characters) and "x" for VXLAN, "v" for VLAN.
func MemberName(bridge string, k Kind) string {
	if len(bridge) > 14 {
		bridge = bridge[:14]
	}
	switch k {
	case VXLAN:
		return bridge + "x"
	case VLAN:
		return bridge + "v"
	}
	return ""
}

// BridgeMAC is the bridge's MAC address, derived from its name and so the
// same on every node: locally administered, unicast (see the package doc
// for why).
func BridgeMAC(bridge string) net.HardwareAddr {
	sum := sha256.Sum256([]byte("humstack-bridge-mac/" + bridge))
	mac := net.HardwareAddr(sum[:6])
	mac[0] = mac[0]&^0x01 | 0x02 // unicast, locally administered
	return mac
}
