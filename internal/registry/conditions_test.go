package registry

import (
	"strings"
	"testing"

	"github.com/humstack/humstack/api"
)

// vmConditions sets a VM's status.conditions.
func vmConditions(cs ...api.Condition) func(api.Object) {
	return func(o api.Object) { o.(*api.VirtualMachine).Status.Conditions = cs }
}

func TestValidateConditions(t *testing.T) {
	ready := api.Condition{Type: "Ready", Status: api.ConditionTrue, Reason: "Running", ObservedGeneration: 1}
	with := func(f func(c *api.Condition)) api.Condition {
		c := ready
		f(&c)
		return c
	}
	many := make([]api.Condition, maxConditions+1)
	for i := range many {
		many[i] = with(func(c *api.Condition) { c.Type = "T" + strings.Repeat("x", i) })
	}
	runRules(t, []ruleCase{
		{"valid", "virtualmachine", vmConditions(ready, with(func(c *api.Condition) { c.Type, c.Status = "DisksReady", api.ConditionUnknown })), ""},
		{"no reason is fine", "virtualmachine", vmConditions(with(func(c *api.Condition) { c.Reason = "" })), ""},
		{"type missing", "virtualmachine", vmConditions(with(func(c *api.Condition) { c.Type = "" })), "status.conditions[0].type"},
		{"type not a word", "virtualmachine", vmConditions(with(func(c *api.Condition) { c.Type = "ready now" })), "status.conditions[0].type"},
		{"duplicate type", "virtualmachine", vmConditions(ready, ready), "status.conditions[1].type"},
		{"status other", "virtualmachine", vmConditions(with(func(c *api.Condition) { c.Status = "Maybe" })), "status.conditions[0].status"},
		{"status missing", "virtualmachine", vmConditions(with(func(c *api.Condition) { c.Status = "" })), "status.conditions[0].status"},
		{"reason with a space", "virtualmachine", vmConditions(with(func(c *api.Condition) { c.Reason = "not ready" })), "status.conditions[0].reason"},
		{"message too long", "virtualmachine", vmConditions(with(func(c *api.Condition) { c.Message = strings.Repeat("m", maxConditionMessage+1) })), "status.conditions[0].message"},
		{"negative generation", "virtualmachine", vmConditions(with(func(c *api.Condition) { c.ObservedGeneration = -1 })), "status.conditions[0].observedGeneration"},
		{"too many", "virtualmachine", vmConditions(many...), "status.conditions"},
		{"network per node", "network", func(o api.Object) {
			o.(*api.Network).Status.Nodes = map[string]api.StateStatus{"n1": {State: "Available",
				Conditions: []api.Condition{with(func(c *api.Condition) { c.Status = "yes" })}}}
		}, "status.nodes[n1].conditions[0].status"},
	})
}
