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
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/agent/system"
	"github.com/humstack/humstack/internal/agent/vm"
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
	// Forget deletes the connection tracking entries to or from addrs.
	Forget(addrs []netip.Addr) (uint, error)
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

	client *client.Client // writes the VMs' SecurityGroupsEnforced; nil in unit tests

	mu        sync.Mutex
	applied   string          // the ruleset last installed; "" with nothing installed
	dirty     bool            // applied is unknown (start, or a failed apply)
	installed []hsg.NIC       // the NICs of applied
	known     bool            // installed is set (false until the first apply)
	forget    []netip.Addr    // addresses whose flows are still to be cut
	reported  map[string]bool // the problems reported as events, while they last
}

// Setup adds the controller of node to m; host realizes its rulesets.
func Setup(m *controller.Manager, node string, host Host, copts controller.Options) *Controller {
	c := &Controller{
		node: node, host: host, events: m.Recorder("securitygroup"), log: copts.Log, dirty: true, client: m.Client,
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
	c.report(problems)
	text, err := hsg.Render(nics)
	if err != nil {
		err = controller.Terminal(fmt.Errorf("render security groups: %w", err))
	} else {
		err = c.install(ctx, text, nics)
	}
	if err != nil {
		for _, x := range v.vms {
			if filtered(x) {
				c.events.Event(x, api.EventWarning, ReasonNotEnforced, "security groups of this VM are not enforced on node %s: %v", c.node, err)
			}
		}
	}
	return controller.Result{}, errors.Join(err, c.setConditions(ctx, v.vms, err))
}

// report emits each problem once, not again on every reconcile of the
// node (any VM, group or network change) while it lasts.
func (c *Controller) report(problems []problem) {
	c.mu.Lock()
	defer c.mu.Unlock()
	seen := make(map[string]bool, len(problems))
	for _, p := range problems {
		k := vm.Key(&p.vm.Meta) + "\x00" + p.reason + "\x00" + p.msg
		seen[k] = true
		if !c.reported[k] {
			c.events.Event(p.vm, api.EventWarning, p.reason, "%s", p.msg)
		}
	}
	c.reported = seen
}

// install makes the node's tables hold text (the ruleset of nics),
// writing only when it differs from what was installed last or the tables
// went missing; after a write, it cuts the flows of the NICs whose rules
// changed (hsg.Changed), retrying that on the next reconcile if it fails.
func (c *Controller) install(ctx context.Context, text string, nics []hsg.NIC) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if text != "" {
		if err := c.host.EnableBridgeNetfilter(); err != nil {
			return err
		}
	}
	if c.dirty || text != c.applied {
		if err := c.apply(ctx, text); err != nil {
			return err
		}
		// Not at the first apply after a start: what was installed before
		// is unknown, and cutting every filtered flow at each agent restart
		// would do more harm than the rare change made while it was down.
		if c.known {
			c.forget = append(c.forget, hsg.Changed(c.installed, nics)...)
		}
		c.installed, c.known = nics, true
	} else if text != "" {
		ok, err := c.host.Installed(ctx)
		if err != nil {
			return err
		}
		if !ok {
			c.log.Warn("security group tables went missing; installing them again", "table", hsg.Table)
			if err := c.apply(ctx, text); err != nil {
				return err
			}
		}
	}
	if len(c.forget) == 0 {
		return nil
	}
	n, err := c.host.Forget(c.forget)
	if err != nil {
		return fmt.Errorf("cut the flows the new security-group rules may not allow: %w", err)
	}
	c.log.Info("security group rules changed: flows cut", "addresses", len(c.forget), "entries", n)
	c.forget = nil
	return nil
}

func (c *Controller) apply(ctx context.Context, text string) error {
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
