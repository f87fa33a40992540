// Package router is the virtual router driver of a System agent: it
// realizes systemv0/virtualrouter objects placed on this node
// (virtualrouterv0/node_name) as network namespaces.
//
// Each router gets one namespace, named "<prefix>hsr-<hash of its key>"
// (recorded in the annotation virtualrouterv0/netns_name), holding:
//
//   - a veth to the external bridge (the bridgeName of the external IP pool
//     that contains natGatewayIP) named "external", with natGatewayIP and
//     every bound or forwarded external IP (each announced by gratuitous
//     ARP when added, so an address that moved here from another router is
//     reached here at once), and the default route via externalGateway
//     (else the pool's defaultGateway);
//   - a veth to each network's bridge, named like that bridge, with
//     nics[].ipv4Address;
//   - forwarding, and the NAT of package routerfw: the networks' traffic
//     leaves as natGatewayIP, each bound host's as its external IP, each
//     external IP is DNATed to its bindInternalIPv4Address, each port
//     forward's ports to its internal address (from the networks too, with
//     hairpin source NAT so their VMs reach each other that way).
//
// The node-side ends are "hr<hash>x" (external) and "hr<hash><hash>"
// (networks). Everything is declarative: a change (an external IP or a
// network added or removed) changes only what differs, in the same
// namespace; drift is repaired at the next resync.
//
// A router waits (Pending) for its networks to be Available on this node
// and for a pool containing its natGatewayIP; a spec that cannot work (an
// address outside its network, natGatewayIP or an external IP held by an
// older router, the pool's bridge missing on this node) is Error. Which
// router holds an address is the Core agent's decision (the oldest naming
// it, on whatever node: the external IP's status.boundBy, the pool's
// status.natGateways), since a node cannot see the routers of other
// nodes; until it is recorded, the address waits. While a
// router is Pending or Error its host state stays as it was, so a bad edit
// does not take a working router down. An externalIPs[] entry that cannot
// be realized (its external IP missing, not Available, in another pool,
// bound by an older router, or its bind address outside the router's
// networks) is left out, and so is a portForwards[] entry for the same
// reasons, — it gets no address and no NAT — and named in the
// status, while the rest of the router runs.
//
// The agent's prefix: a router namespace starts with the name of the
// namespace the agent itself runs in, plus "-", when that one is named
// (the lab runs agents in "hs-<lab>-node-b", so its teardown finds their
// routers); on a host's own namespace the prefix is empty.
package router

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/agent/system"
	"github.com/humstack/humstack/internal/controller"
	"github.com/humstack/humstack/internal/controller/record"
	"github.com/humstack/humstack/internal/host/netns"
)

// Router states (SPEC §2).
const (
	StatePending = "Pending"
	StateRunning = "Running"
	StateError   = "Error"
)

// AnnotationNetns is set by the agent: the router's network namespace on
// its node (`ip netns exec <it> ...`).
const AnnotationNetns = "virtualrouterv0/netns_name"

// Config configures the driver.
type Config struct {
	Node string
	// Client reads the router's networks, pools and external IPs.
	Client *client.Client
	// NetnsPrefix starts every router namespace's name; empty: derived from
	// the agent's own namespace (see the package doc).
	NetnsPrefix string
	Log         *slog.Logger
	// Events records routers applied and failing (docs/events.md); nil
	// discards them.
	Events record.Recorder
}

// hostOps is what the driver does on the host; tests fake it.
type hostOps interface {
	CheckBridge(name string) error
	Apply(d Desired) (created bool, err error)
	Remove(netnsName, hostPrefix string) error
}

// Driver realizes routers on this node. It implements system.Driver and
// system.Dependent.
type Driver struct {
	node, prefix string
	client       *client.Client
	host         hostOps
	events       record.Recorder
}

var (
	_ system.Driver    = (*Driver)(nil)
	_ system.Dependent = (*Driver)(nil)
)

// New returns the driver.
func New(cfg Config) *Driver {
	prefix := cfg.NetnsPrefix
	if prefix == "" {
		prefix = DefaultNetnsPrefix(cfg.Log)
	}
	if cfg.Events == nil {
		cfg.Events = record.Discard
	}
	return &Driver{node: cfg.Node, prefix: prefix, client: cfg.Client, host: hostAdapter{nodeHandle: ownNamespace}, events: cfg.Events}
}

// DefaultNetnsPrefix is the name of the agent's own network namespace and
// "-", or "" when it has no name.
func DefaultNetnsPrefix(log *slog.Logger) string {
	self, err := netns.SelfName()
	if err != nil && log != nil {
		log.Warn("cannot name the agent's network namespace; router namespaces get no prefix", "err", err)
	}
	if self == "" {
		return ""
	}
	return self + "-"
}

// Apply implements system.Driver.
func (d *Driver) Apply(ctx context.Context, obj api.Object) (controller.Result, error) {
	vr, ok := obj.(*api.VirtualRouter)
	if !ok {
		return controller.Result{}, controller.Terminal(fmt.Errorf("router driver got %T", obj))
	}
	was, wasMsg := api.StatusOf(vr)
	p, err := d.resolve(ctx, vr)
	var w waitError
	var bad specError
	switch {
	case errors.As(err, &w):
		system.SetState(vr, StatePending, w.msg)
		setApplied(vr, api.ConditionFalse, "WaitingForDependencies", w.msg)
		return controller.Result{}, nil
	case errors.As(err, &bad):
		system.SetState(vr, StateError, bad.msg)
		setApplied(vr, api.ConditionFalse, "Rejected", bad.msg)
		return controller.Result{RequeueAfter: bad.retry}, nil
	case err != nil:
		return controller.Result{}, err
	}
	created, err := d.host.Apply(p.want)
	if created {
		controller.Logger(ctx).Info("router namespace made", "netns", p.want.Netns)
	}
	if vr.Meta.Annotations == nil {
		vr.Meta.Annotations = map[string]string{}
	}
	vr.Meta.Annotations[AnnotationNetns] = p.want.Netns
	if err != nil {
		system.SetState(vr, StateError, "apply: "+err.Error())
		setApplied(vr, api.ConditionFalse, "ApplyFailed", err.Error())
		d.events.Event(vr, api.EventWarning, "ApplyFailed", "apply: %v", err)
		return controller.Result{}, err
	}
	setAppliedPlan(vr, p.left)
	switch {
	case len(p.left) == 0:
		system.SetState(vr, StateRunning, "")
	case p.waitOnly:
		system.SetState(vr, StatePending, "running; left out: "+strings.Join(p.left, "; "))
	default:
		system.SetState(vr, StateError, "running; left out: "+strings.Join(p.left, "; "))
	}
	d.applied(vr, was, wasMsg)
	return controller.Result{}, nil
}

// applied records a router applied, in full or in part, when its state or
// message changed (docs/events.md).
func (d *Driver) applied(vr *api.VirtualRouter, was, wasMsg string) {
	st, msg := api.StatusOf(vr)
	switch {
	case st == was && msg == wasMsg:
	case st == StateRunning:
		d.events.Event(vr, api.EventNormal, "Applied", "applied in network namespace %s", vr.Meta.Annotations[AnnotationNetns])
	case st == StatePending:
		d.events.Event(vr, api.EventNormal, "PartiallyApplied", "%s", msg)
	default:
		d.events.Event(vr, api.EventWarning, "PartiallyApplied", "%s", msg)
	}
}

// Remove implements system.Driver: the router's namespace (with its
// addresses, routes and rules) and its veths go.
func (d *Driver) Remove(ctx context.Context, obj api.Object) error {
	m := obj.GetMeta()
	k := Key(m.Group, m.Namespace, m.ID)
	name := NetnsName(d.prefix, k)
	if err := d.host.Remove(name, hostPrefix(k)); err != nil {
		return err
	}
	controller.Logger(ctx).Info("router removed", "netns", name)
	return nil
}

// setApplied sets the router's Applied condition: whether its namespace,
// links and NAT rules match its spec.
func setApplied(vr *api.VirtualRouter, status api.ConditionStatus, reason, msg string) {
	system.SetCondition(vr, api.ConditionApplied, status, reason, msg)
}

// setAppliedPlan sets Applied after the host took the plan: True unless
// parts of the spec were left out (they are named).
func setAppliedPlan(vr *api.VirtualRouter, left []string) {
	if len(left) == 0 {
		setApplied(vr, api.ConditionTrue, "Applied", "")
		return
	}
	setApplied(vr, api.ConditionFalse, "PartlyApplied", "left out: "+strings.Join(left, "; "))
}
