package vm

import (
	"errors"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/agent/system"
)

// setDependencies sets the VM's DisksReady and NetworksReady conditions
// from what resolve found: both True when it found everything, and the
// condition of the first missing dependency False with its reason. Disks
// are checked first, so while one waits the networks were not looked at:
// NetworksReady is Unknown then. Other errors (a spec that cannot be
// realized) leave both as they were: Ready carries them.
func setDependencies(vm *api.VirtualMachine, err error) {
	var w waitError
	switch {
	case err == nil:
		system.SetCondition(vm, api.ConditionDisksReady, api.ConditionTrue, "AllAvailable", "")
		system.SetCondition(vm, api.ConditionNetworksReady, api.ConditionTrue, "AllAvailable", "")
	case !errors.As(err, &w):
	case w.cond == api.ConditionDisksReady:
		system.SetCondition(vm, api.ConditionDisksReady, api.ConditionFalse, w.reason, w.msg)
		system.SetCondition(vm, api.ConditionNetworksReady, api.ConditionUnknown, "WaitingForDisks", "checked once the disks are ready")
	default:
		system.SetCondition(vm, api.ConditionDisksReady, api.ConditionTrue, "AllAvailable", "")
		system.SetCondition(vm, api.ConditionNetworksReady, api.ConditionFalse, w.reason, w.msg)
	}
}

// setStarted sets the VM's Started condition from the state Apply left:
// True while QEMU runs, else False with the state as the reason.
func setStarted(vm *api.VirtualMachine) {
	if vm.Status.State == StateRunning {
		system.SetCondition(vm, api.ConditionStarted, api.ConditionTrue, StateRunning, "")
		return
	}
	reason := vm.Status.State
	if reason == "" {
		reason = "NotStarted"
	}
	system.SetCondition(vm, api.ConditionStarted, api.ConditionFalse, reason, vm.Status.Message)
}
