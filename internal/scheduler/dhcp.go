package scheduler

import (
	"fmt"
	"sort"
	"strings"
)

// DHCPCandidate is a node as the DHCP placement sees it.
type DHCPCandidate struct {
	Node Node
	// Users counts the VMs and routers placed there that attach to the
	// network: the bridge is there anyway, and the server near them.
	Users int
	// Servers counts the DHCP servers (of any network) placed there.
	Servers int
}

// PlaceDHCP picks the node to run a network's DHCP server on: a Ready,
// schedulable node running a System agent; among those, one with the most
// users of the network, then the fewest servers (spread), then the name.
// With none, it returns "" and why per node.
func PlaceDHCP(cands []DHCPCandidate) (string, string) {
	var fit []DHCPCandidate
	var why []string
	for _, c := range cands {
		switch {
		case !c.Node.Ready:
			why = append(why, c.Node.Name+": NotReady")
		case c.Node.Unschedulable:
			why = append(why, c.Node.Name+": cordoned")
		case c.Node.CoreOnly:
			why = append(why, c.Node.Name+": runs no System agent")
		default:
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
		if a.Users != b.Users {
			return a.Users > b.Users
		}
		if a.Servers != b.Servers {
			return a.Servers < b.Servers
		}
		return a.Node.Name < b.Node.Name
	})
	return fit[0].Node.Name, ""
}
