package core

import (
	"fmt"
	"strings"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/placement"
	"github.com/humstack/humstack/internal/scheduler"
)

// SchedulerChooser is the default TargetChooser: the scheduler's own
// decision (filters: Ready, not cordoned, accelerator, node selector,
// affinity and anti-affinity, capacity; scores under Policy; tie-break by
// name) over every node but the source and those without a download API
// to copy the disks through.
type SchedulerChooser struct{ Policy scheduler.Policy }

// Choose implements TargetChooser.
func (c SchedulerChooser) Choose(q TargetQuery) (string, string) {
	vm := q.VM
	req := scheduler.Request{Key: placement.Key(api.VirtualMachineKind, &vm.Meta), Amounts: q.Request,
		KVM: vm.Meta.Annotations[api.AnnotationAccelerator] == api.AcceleratorKVM}
	for field, dst := range map[string]*map[string]string{
		api.AnnotationNodeSelector: &req.Selector, api.AnnotationAffinity: &req.Affinity,
		api.AnnotationAntiAffinity: &req.AntiAffinity,
	} {
		sel, err := scheduler.ParseLabels(vm.Meta.Annotations[field])
		if err != nil {
			return "", fmt.Sprintf("annotation %s: %v", field, err)
		}
		*dst = sel
	}
	for _, o := range q.VMs {
		m := o.GetMeta()
		if m.Group == vm.Meta.Group && m.Namespace == vm.Meta.Namespace && m.ID != vm.Meta.ID {
			req.Peers = append(req.Peers, scheduler.Peer{Key: placement.Key(api.VirtualMachineKind, m), Node: placement.NodeOf(o), Labels: m.Labels})
		}
	}
	var nodes []*scheduler.Node
	var skipped []string
	for _, n := range q.Nodes {
		switch {
		case n.Meta.ID == q.Source:
			continue
		case n.Spec.DownloadHost == "":
			skipped = append(skipped, n.Meta.ID+": no download API to copy disks with")
			continue
		}
		nodes = append(nodes, schedNode(n, allocatable(n), taken(n, q.Used[n.Meta.ID]), nil))
	}
	if len(nodes) == 0 {
		if len(skipped) == 0 {
			return "", "no node fits (no other node is registered)"
		}
		return "", "no node fits (" + strings.Join(skipped, "; ") + ")"
	}
	p := c.Policy
	if p == "" {
		p = scheduler.Spread
	}
	scheduler.SortNodes(nodes)
	d := scheduler.Decide(nodes, &req, p)
	if d.Node == "" {
		msg := d.Message
		if len(skipped) > 0 {
			msg += "; " + strings.Join(skipped, "; ")
		}
		return "", msg
	}
	return d.Node, ""
}
