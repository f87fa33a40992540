package router

import (
	"crypto/sha256"
	"encoding/base32"
	"net"
)

// Names of what a router makes, all derived from its key
// (group/namespace/id), so they need no state and a restarted agent finds
// what it made.
const (
	// netnsInfix follows the agent's prefix in every router namespace:
	// "<prefix>hsr-" and 12 base32 characters of a hash of the key.
	netnsInfix = "hsr-"
	// hostLinkPrefix starts the node-side end of every router veth: "hr",
	// 8 base32 characters of a hash of the router's key, then "x" for the
	// external port or 4 characters of a hash of the network id for a
	// network's port (11 or 14 characters). Bridges are "hs...", taps
	// "ht...": never one of these.
	hostLinkPrefix = "hr"
	// ExternalInside is the router's interface on the external bridge,
	// inside its namespace. A network's interface there is named like the
	// network's bridge (networkv0/bridge_name).
	ExternalInside = "external"
)

var nameEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

func hash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return nameEncoding.EncodeToString(sum[:])
}

// Key is a router's key: group/namespace/id.
func Key(group, namespace, id string) string { return group + "/" + namespace + "/" + id }

// NetnsName is the network namespace of the router with key k on an agent
// whose router namespaces start with prefix.
func NetnsName(prefix, k string) string {
	return prefix + netnsInfix + hash("humstack-router/" + k)[:12]
}

// hostPrefix starts the node-side veth names of the router with key k.
func hostPrefix(k string) string { return hostLinkPrefix + hash("humstack-router/" + k)[:8] }

// externalHostName is the node-side end of the router's external port.
func externalHostName(k string) string { return hostPrefix(k) + "x" }

// nicHostName is the node-side end of the router's port on network id.
func nicHostName(k, networkID string) string {
	return hostPrefix(k) + hash("humstack-router-nic/" + networkID)[:4]
}

// isHostLinkOf reports whether a node link name is one of the router's
// ports: its prefix, and the length of an external or a network port.
func isHostLinkOf(prefix, name string) bool {
	return len(name) > len(prefix) && name[:len(prefix)] == prefix &&
		(len(name) == len(prefix)+1 || len(name) == len(prefix)+4)
}

// portMAC is the MAC of the router's end of a port ("" for the external
// one, else the network id): locally administered, unicast, stable, so
// the neighbours' ARP entries survive a re-created veth.
func portMAC(k, port string) net.HardwareAddr {
	sum := sha256.Sum256([]byte("humstack-router-mac/" + k + "#" + port))
	mac := net.HardwareAddr(sum[:6])
	mac[0] = mac[0]&^0x01 | 0x02
	return mac
}
