package secgroup

import (
	"context"
	"errors"
	"fmt"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/api/conditions"
	"github.com/humstack/humstack/internal/agent/system"
	"github.com/humstack/humstack/internal/controller"
)

// Reasons of the SecurityGroupsEnforced condition (docs/api.md).
const (
	ReasonEnforced = "Enforced"
)

// setConditions writes every VM's SecurityGroupsEnforced condition:
// True when its groups' rules are installed, False with the error when
// they could not be (the VM then runs unfiltered, or with the rules
// installed before), and no condition on a VM without groups. It makes
// fail-open visible in the VM's status, not only in an event.
func (c *Controller) setConditions(ctx context.Context, vms []*api.VirtualMachine, installErr error) error {
	if c.client == nil {
		return nil
	}
	var errs []error
	for _, x := range vms {
		if !needsCondition(x, c.node, installErr) {
			continue
		}
		_, err := controller.UpdateStatus(ctx, c.client, x, func(x *api.VirtualMachine) bool {
			return enforcedCondition(x, c.node, installErr)
		})
		if err != nil && !errors.Is(err, api.ErrNotFound) {
			errs = append(errs, fmt.Errorf("VM %s status: %w", x.Meta.ID, err))
		}
	}
	return errors.Join(errs...)
}

// needsCondition reports whether x's cached copy would change: the
// common case (nothing to write) costs no request.
func needsCondition(x *api.VirtualMachine, node string, installErr error) bool {
	cp := *x
	cp.Status.Conditions = append([]api.Condition(nil), x.Status.Conditions...)
	return enforcedCondition(&cp, node, installErr)
}

// enforcedCondition sets or removes x's SecurityGroupsEnforced condition
// and reports whether it changed.
func enforcedCondition(x *api.VirtualMachine, node string, installErr error) bool {
	if !filtered(x) {
		return conditions.Remove(&x.Status.Conditions, api.ConditionSecurityGroupsEnforced)
	}
	if installErr != nil {
		return system.SetCondition(x, api.ConditionSecurityGroupsEnforced, api.ConditionFalse, ReasonNotEnforced,
			fmt.Sprintf("not enforced on node %s: %v", node, installErr))
	}
	return system.SetCondition(x, api.ConditionSecurityGroupsEnforced, api.ConditionTrue, ReasonEnforced, "")
}
