package network_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/lab"
	"github.com/humstack/humstack/internal/testenv"
)

// Every network has a DHCP server by default (spec.dhcp absent): its node
// realizes the network while it serves it, and a test that checks what
// is left on the nodes must see the server gone too.

// dhcpNodeOf is the node serving net1's DHCP (networkv0/dhcp_node_name),
// once the scheduler has placed it.
func dhcpNodeOf(t *testing.T, l *lab.Lab) string {
	t.Helper()
	var node string
	testenv.Eventually(t, 30*time.Second, func() (bool, string) {
		n, err := client.For[*api.Network](l.Client()).Get(context.Background(), sc, "net1")
		if err != nil {
			return false, err.Error()
		}
		node = n.Meta.Annotations[api.AnnotationDHCPNode]
		return node != "", "net1's DHCP server not placed"
	})
	return node
}

// deleteNetwork deletes net1 and waits until it is gone (every node let
// it go, the DHCP server's included).
func deleteNetwork(t *testing.T, l *lab.Lab) {
	t.Helper()
	nets := client.For[*api.Network](l.Client())
	if _, err := nets.Delete(context.Background(), sc, "net1", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 30*time.Second, func() (bool, string) {
		_, err := nets.Get(context.Background(), sc, "net1")
		return errors.Is(err, api.ErrNotFound), fmt.Sprintf("net1 not deleted (%v)", err)
	})
}

// noServices fails the test when a DHCP server's namespace, veth or
// dnsmasq is left on a node.
func noServices(t *testing.T, l *lab.Lab) {
	t.Helper()
	for _, n := range l.Nodes() {
		left, err := l.ServiceLeftovers(context.Background(), n.Name)
		if err != nil {
			t.Fatal(err)
		}
		if len(left) > 0 {
			t.Errorf("%s: DHCP server left: %v", n.Name, left)
		}
	}
}
