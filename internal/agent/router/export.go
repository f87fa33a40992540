package router

import (
	"os"

	"github.com/vishvananda/netlink"
)

// EnsurePort makes the veth pair p between the node's namespace (node)
// and another namespace (in, nsf) right, as a router's ports are made:
// created when missing or unpaired, then master, MTU, MAC, addresses and
// state put right. The DHCP servers' namespaces use it too. (The
// addresses it added matter to routers only, which announce them.)
func EnsurePort(node, in *netlink.Handle, nsf *os.File, p Port) error {
	_, err := ensurePort(node, in, nsf, p)
	return err
}

// LoopbackUp sets lo up in the namespace of in.
func LoopbackUp(in *netlink.Handle) error { return loopbackUp(in) }
