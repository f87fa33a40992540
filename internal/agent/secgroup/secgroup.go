// Package secgroup is a System agent's security-group controller: it
// renders the whole node's security-group ruleset (internal/host/secgroup)
// from the VMs placed on the node, the security groups (with their
// status.members, written by the Core agent from the VMs of every node:
// the peers of a rule's remoteSecurityGroupID) and the networks,
// and installs it whenever any of them changes. It is level-based: every
// reconcile recomputes everything, so a missed change is repaired by the
// next one (or the periodic resync), and a NIC that loses its groups, or
// a VM that is gone, simply is not in the next ruleset.
package secgroup

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/agent/system"
	"github.com/humstack/humstack/internal/controller"
	"github.com/humstack/humstack/internal/controller/record"
	hsg "github.com/humstack/humstack/internal/host/secgroup"
)

// Host installs rulesets; hsg.Runner is the real one.
type Host interface {
	// Apply replaces the node's tables with ruleset ("" removes them).
	Apply(ctx context.Context, ruleset string) error
	// Installed reports whether the tables are there.
	Installed(ctx context.Context) (bool, error)
	// EnableBridgeNetfilter turns br_netfilter on for the node's bridges.
	EnableBridgeNetfilter() error
}

// Controller keeps the node's ruleset equal to what its VMs' groups say.
type Controller struct {
	node   string
	host   Host
	events record.Recorder
	log    *slog.Logger
	vms    *controller.Informer
	groups *controller.Informer
	nets   *controller.Informer

	mu      sync.Mutex
	applied string // the ruleset last installed; "" with nothing installed
	dirty   bool   // applied is unknown (start, or a failed apply)
}

// Setup adds the controller of node to m; host realizes its rulesets.
func Setup(m *controller.Manager, node string, host Host, copts controller.Options) *Controller {
	c := &Controller{
		node: node, host: host, events: m.Recorder("securitygroup"), log: copts.Log, dirty: true,
		vms:    m.Informer(api.VirtualMachineKind, system.FilterName(node), system.PlacedOn(api.VirtualMachineKind, node)),
		groups: m.Informer(api.SecurityGroupKind, "", nil),
		nets:   m.Informer(api.NetworkKind, "", nil),
	}
	if c.log == nil {
		c.log = m.Log
	}
	// One key for the whole node: the primary informer is this node's own
	// object (one object, so the resync reconciles once), and every change
	// of a VM, group or network maps to that key.
	self := m.Informer(api.NodeKind, system.FilterName(node), func(o api.Object) bool { return o.GetMeta().ID == node })
	copts.Workers = 1
	ctl := controller.New("securitygroup", self, c, copts)
	all := func(api.Object) []controller.Key { return []controller.Key{{ID: node}} }
	for _, inf := range []*controller.Informer{c.vms, c.groups, c.nets} {
		ctl.Watch(inf, all)
	}
	m.Add(ctl)
	return c
}

// Reconcile implements controller.Reconciler: the key is always the node.
func (c *Controller) Reconcile(ctx context.Context, _ controller.Key) (controller.Result, error) {
	v := c.view()
	nics, problems := resolve(v)
	for _, p := range problems {
		c.events.Event(p.vm, api.EventWarning, p.reason, "%s", p.msg)
	}
	text, err := hsg.Render(nics)
	if err != nil {
		return controller.Result{}, controller.Terminal(fmt.Errorf("render security groups: %w", err))
	}
	if err := c.install(ctx, text); err != nil {
		for _, x := range v.vms {
			if filtered(x) {
				c.events.Event(x, api.EventWarning, ReasonNotEnforced, "security groups of this VM are not enforced on node %s: %v", c.node, err)
			}
		}
		return controller.Result{}, err
	}
	return controller.Result{}, nil
}

// install makes the node's tables hold text, writing only when it differs
// from what was installed last or the tables went missing.
func (c *Controller) install(ctx context.Context, text string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if text != "" {
		if err := c.host.EnableBridgeNetfilter(); err != nil {
			return err
		}
	}
	if !c.dirty && text == c.applied {
		if text == "" {
			return nil
		}
		if ok, err := c.host.Installed(ctx); err != nil || ok {
			return err
		}
		c.log.Warn("security group tables went missing; installing them again", "table", hsg.Table)
	}
	start := time.Now()
	c.dirty = true
	if err := c.host.Apply(ctx, text); err != nil {
		return err
	}
	c.applied, c.dirty = text, false
	c.log.Info("security group rules applied", "bytes", len(text), "took", time.Since(start))
	return nil
}

// view reads the informers' caches.
func (c *Controller) view() view {
	v := view{groups: map[ref]*api.SecurityGroup{}, nets: map[ref]*api.Network{}}
	for _, o := range c.vms.List() {
		v.vms = append(v.vms, o.(*api.VirtualMachine))
	}
	for _, o := range c.groups.List() {
		m := o.GetMeta()
		v.groups[ref{m.Group, m.Namespace, m.ID}] = o.(*api.SecurityGroup)
	}
	for _, o := range c.nets.List() {
		m := o.GetMeta()
		v.nets[ref{m.Group, m.Namespace, m.ID}] = o.(*api.Network)
	}
	return v
}

func filtered(x *api.VirtualMachine) bool {
	for _, n := range x.Spec.NICs {
		if len(n.SecurityGroupIDs) > 0 {
			return true
		}
	}
	return false
}
