package scenario_test

import (
	"context"
	"fmt"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/testenv"
)

// agentDirs are the agents' state directories under a lab node's
// directory: disks, images, VMs, and the networks' DHCP servers (every
// network has one unless it opts out).
var agentDirs = []string{"blockstorages", "images", "vms", "dhcp"}

// dhcpServers lists what of the networks' DHCP servers is on node (see
// lab.ServiceLeftovers).
func (r *run) dhcpServers(node string) []string {
	left, err := r.l.ServiceLeftovers(context.Background(), node)
	if err != nil {
		r.t.Fatal(err)
	}
	return left
}

// checkDHCPServer: net1 (DHCP on by default) has its server running on
// the node the scheduler chose, which the leak check then sees go.
func (r *run) checkDHCPServer() {
	r.t.Helper()
	var node string
	testenv.Eventually(r.t, time.Minute, func() (bool, string) {
		n, err := client.For[*api.Network](r.l.Client()).Get(context.Background(), ns1, "net1")
		if err != nil {
			return false, err.Error()
		}
		d := n.Status.DHCP
		if d == nil || d.State != "Running" {
			return false, fmt.Sprintf("net1's status.dhcp %+v, want Running", d)
		}
		node = d.Node
		return true, ""
	})
	if left := r.dhcpServers(node); len(left) == 0 {
		r.t.Fatalf("net1's DHCP server is Running on %s, but nothing of it is there", node)
	}
	r.step("net1's DHCP server running on " + node)
}
