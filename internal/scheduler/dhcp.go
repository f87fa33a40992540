package scheduler

import (
	"fmt"
	"sort"
	"strings"
)

// DHCPCandidate is a node as the DHCP placement sees it.
type DHCPCandidate struct {
	Node Node
	// VMs and Routers count those placed there that attach to the
	// network: the bridge is there anyway, and the server near the guests
	// it serves.
	VMs, Routers int
	// Servers counts the DHCP servers (of any network) placed there.
	Servers int
}

// DHCPUnfit says why a network's DHCP server cannot run on n ("" when it
// can): NotReady, cordoned, or no System agent there.
func DHCPUnfit(n Node) string {
	switch {
	case !n.Ready:
		return "NotReady"
	case n.Unschedulable:
		return "cordoned"
	case n.CoreOnly:
		return "runs no System agent"
	}
	return ""
}

// PlaceDHCP picks the node to run a network's DHCP server on: a Ready,
// schedulable node running a System agent; among those, one with the most
// VMs on the network, then the most routers on it, then the fewest
// servers (spread), then the name.
// With none, it returns "" and why per node.
func PlaceDHCP(cands []DHCPCandidate) (string, string) {
	var fit []DHCPCandidate
	var why []string
	for _, c := range cands {
		if u := DHCPUnfit(c.Node); u != "" {
			why = append(why, c.Node.Name+": "+u)
		} else {
			fit = append(fit, c)
		}
	}
	if len(fit) == 0 {
		if len(why) == 0 {
			return "", "no nodes are registered"
		}
		sort.Strings(why)
		return "", fmt.Sprintf("no node can run the DHCP server: %s", strings.Join(why, "; "))
	}
	sort.Slice(fit, func(i, j int) bool {
		a, b := fit[i], fit[j]
		if a.VMs != b.VMs {
			return a.VMs > b.VMs
		}
		if a.Routers != b.Routers {
			return a.Routers > b.Routers
		}
		if a.Servers != b.Servers {
			return a.Servers < b.Servers
		}
		return a.Node.Name < b.Node.Name
	})
	return fit[0].Node.Name, ""
}
