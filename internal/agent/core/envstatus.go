package core

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/humstack/humstack/api"
)

// vmReady says whether a VM is as asked: running, or stopped when asked
// to be off.
func vmReady(vm *api.VirtualMachine) bool {
	if vm.Spec.ActionState == api.ActionPowerOff {
		return vm.Status.State == "Stopped"
	}
	return vm.Status.State == "Running"
}

// copyVMs lists the VMs of namespace ns (by id) and how many are ready.
func (r *environments) copyVMs(group, ns string) ([]*api.VirtualMachine, int) {
	vms := r.vmsByNamespace(group)[ns]
	return vms, countReady(vms)
}

// vmsByNamespace indexes the group's live VMs by namespace, sorted by id:
// one pass over the cache for every copy of an environment.
func (r *environments) vmsByNamespace(group string) map[string][]*api.VirtualMachine {
	out := map[string][]*api.VirtualMachine{}
	for _, o := range r.vms.List() {
		vm := o.(*api.VirtualMachine)
		if vm.Meta.Group == group && !vm.Meta.Deleting() {
			out[vm.Meta.Namespace] = append(out[vm.Meta.Namespace], vm)
		}
	}
	for _, vms := range out {
		sort.Slice(vms, func(i, j int) bool { return vms[i].Meta.ID < vms[j].Meta.ID })
	}
	return out
}

func countReady(vms []*api.VirtualMachine) int {
	n := 0
	for _, vm := range vms {
		if vmReady(vm) {
			n++
		}
	}
	return n
}

// removeCopies deletes the namespaces of copies that left the spec (and
// of any copy namespace of the environment that no copy claims), and
// forgets a removed copy once its namespace is gone.
func (r *environments) removeCopies(ctx context.Context, env *api.Environment, st *api.EnvironmentStatus) error {
	present := map[string]bool{}
	for _, n := range api.CopyNames(env.Spec) {
		present[n] = true
	}
	left, err := r.deleteNamespaces(ctx, env, func(c string) bool { return !present[c] })
	kept := st.Copies[:0:0]
	for _, c := range st.Copies {
		if present[c.Name] || containsString(left, c.Namespace) {
			kept = append(kept, c)
		} else {
			r.events.Event(env, api.EventNormal, reasonCopyRemoved, "copy %s: namespace %s is gone", c.Name, c.Namespace)
		}
	}
	st.Copies = kept
	return err
}

func containsString(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// copyStates fills each copy's state and counts, then the whole's.
// envMsg is an error of the whole environment (its template, its
// parameters), failed the copies that could not be made.
func (r *environments) copyStates(env *api.Environment, st *api.EnvironmentStatus, failed map[string]string, envMsg string) {
	present := map[string]bool{}
	for _, n := range api.CopyNames(env.Spec) {
		present[n] = true
	}
	st.VMsReady, st.VMsTotal = 0, 0
	vms, resets := r.vmsByNamespace(env.Meta.Group), r.resetsByNamespace(env.Meta.Group)
	for i := range st.Copies {
		c := &st.Copies[i]
		r.copyState(env, st.Golden, c, present[c.Name], failed[c.Name], vms[c.Namespace], resets[c.Namespace])
		st.VMsReady += c.VMsReady
		st.VMsTotal += c.VMsTotal
	}
	st.State, st.Message = wholeState(st, envMsg)
}

// copyState judges one copy.
func (r *environments) copyState(env *api.Environment, g api.GoldenStatus, c *api.EnvironmentCopy, present bool, failed string,
	vms []*api.VirtualMachine, resets []*api.Reset) {
	ready := countReady(vms)
	c.VMsTotal, c.VMsReady = len(vms), ready
	running, queued := lastReset(c, resets)
	prev := c.State
	switch {
	case !present:
		c.State, c.Message = api.EnvDeleting, "removed from the spec: its namespace is being deleted"
	case failed != "":
		if prev != api.EnvError || c.Message != failed {
			r.events.Event(env, api.EventWarning, reasonStampFailed, "copy %s: %s", c.Name, failed)
		}
		c.State, c.Message = api.EnvError, failed
	case g.State == api.EnvCapturing && g.Copy == c.Name:
		c.State, c.Message = api.EnvCapturing, g.Message
	case running != "":
		c.State, c.Message = api.EnvResetting, "reset "+running+" runs"
	case len(vms) > 0 && ready == len(vms):
		c.State, c.Message = api.EnvReady, ""
	case prev == "" || prev == api.EnvCreating || prev == api.EnvError:
		c.State, c.Message = api.EnvCreating, fmt.Sprintf("%d/%d VMs ready", ready, len(vms))
	default:
		c.State, c.Message = api.EnvDegraded, notReady(vms)
	}
	if queued != "" && c.State != api.EnvResetting {
		c.Message = strings.TrimPrefix(c.Message+"; reset "+queued+" queued", "; ")
	}
}

// notReady names the VMs that are not as asked.
func notReady(vms []*api.VirtualMachine) string {
	var out []string
	for _, vm := range vms {
		if !vmReady(vm) {
			out = append(out, fmt.Sprintf("%s is %s", vm.Meta.ID, orUnreported(vm.Status.State)))
		}
	}
	return strings.Join(out, ", ")
}

func orUnreported(s string) string {
	if s == "" {
		return "not reported"
	}
	return s
}

// resetsByNamespace indexes the group's reset jobs by namespace.
func (r *environments) resetsByNamespace(group string) map[string][]*api.Reset {
	out := map[string][]*api.Reset{}
	for _, o := range r.resets.List() {
		if rs := o.(*api.Reset); rs.Meta.Group == group {
			out[rs.Meta.Namespace] = append(out[rs.Meta.Namespace], rs)
		}
	}
	return out
}

// lastReset records the copy's last finished reset (from the reset jobs
// in its namespace, whose status the reset queue writes) and returns the
// running and the first queued one, if any.
func lastReset(c *api.EnvironmentCopy, resets []*api.Reset) (running, queued string) {
	var last *api.Reset
	for _, rs := range resets {
		switch {
		case rs.Status.Phase == api.ResetRunning:
			running = rs.Meta.ID
		case rs.Status.Finished():
			if last == nil || rs.Status.FinishedAt > last.Status.FinishedAt {
				last = rs
			}
		case queued == "" || rs.Meta.ID < queued:
			queued = rs.Meta.ID
		}
	}
	if last != nil {
		c.LastReset, c.LastResetAt, c.LastResetTookSecond = last.Meta.ID, last.Status.FinishedAt, last.Status.TookSeconds
	}
	return running, queued
}

// wholeState sums up the copies: the worst state wins, in the order
// below; the message names the first copy in it.
func wholeState(st *api.EnvironmentStatus, envMsg string) (string, string) {
	if envMsg != "" {
		return api.EnvError, envMsg
	}
	if st.Golden.State == api.EnvCapturing {
		return api.EnvCapturing, "golden state: " + st.Golden.Message
	}
	for _, state := range []string{api.EnvError, api.EnvCreating, api.EnvDegraded, api.EnvResetting} {
		for _, c := range st.Copies {
			if c.State == state {
				return state, fmt.Sprintf("copy %s: %s", c.Name, c.Message)
			}
		}
	}
	msg := fmt.Sprintf("%d copies, %d/%d VMs ready", len(st.Copies), st.VMsReady, st.VMsTotal)
	if st.Golden.State == api.EnvError {
		msg += "; golden state failed: " + st.Golden.Message
	}
	return api.EnvReady, msg
}
