package node

import (
	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/api/conditions"
)

// setNodeReady sets a node's Ready condition: True while its agent
// heartbeats, Unknown (as Kubernetes does) once the heartbeats stopped,
// since nobody can tell what the node does then.
func setNodeReady(n *api.Node) {
	c := api.Condition{Type: api.ConditionReady, Status: api.ConditionTrue, Reason: "AgentHeartbeating",
		ObservedGeneration: n.Meta.Generation}
	if n.Status.State == api.NodeNotReady {
		c.Status, c.Reason, c.Message = api.ConditionUnknown, "HeartbeatMissed", n.Status.Message
	}
	conditions.Set(&n.Status.Conditions, c)
}

// setVMUnknown sets the Ready and Started conditions of a VM on a
// NotReady node to Unknown; the node's agent sets them again when it is
// back.
func setVMUnknown(vm *api.VirtualMachine, msg string) {
	for _, t := range []string{api.ConditionReady, api.ConditionStarted} {
		conditions.Set(&vm.Status.Conditions, api.Condition{Type: t, Status: api.ConditionUnknown,
			Reason: "NodeNotReady", Message: msg, ObservedGeneration: vm.Meta.Generation})
	}
}
