package core

import (
	"testing"

	"github.com/humstack/humstack/api"
)

// TestNodeChangedIgnoresHeartbeats: objects that fit nowhere are retried
// on node changes that can make room, not on every heartbeat.
func TestNodeChangedIgnoresHeartbeats(t *testing.T) {
	base := func() *api.Node {
		n := api.NodeKind.New().(*api.Node)
		n.Meta.ID, n.Spec.LimitMemory, n.Status.State = "a", "8G", api.NodeReady
		n.Status.Reservations = map[string]api.Reservation{"virtualmachine/g/ns/vm": {Amounts: api.Amounts{Memory: 1}}}
		return n
	}
	for _, c := range []struct {
		name string
		edit func(*api.Node)
		want bool
	}{
		{"heartbeat", func(n *api.Node) { n.Status.LastHeartbeatTime = "later" }, false},
		{"NotReady", func(n *api.Node) { n.Status.State = api.NodeNotReady }, true},
		{"uncordoned", func(n *api.Node) { n.Spec.Unschedulable = true }, true},
		{"labelled", func(n *api.Node) { n.Meta.Labels = map[string]string{"rack": "a"} }, true},
		{"room freed", func(n *api.Node) { n.Status.Reservations = nil }, true},
		{"more memory", func(n *api.Node) { n.Spec.LimitMemory = "16G" }, true},
	} {
		n := base()
		c.edit(n)
		if got := nodeChanged(base(), n); got != c.want {
			t.Errorf("%s: nodeChanged %v, want %v", c.name, got, c.want)
		}
	}
	if !nodeChanged(nil, base()) || !nodeChanged(base(), nil) {
		t.Error("a node registered or gone is a change")
	}
}
