package system

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/controller"
)

// Network states on a node (status.nodes[node].state).
const (
	NetworkAvailable = "Available"
	NetworkError     = "Error"
)

// NetworkDriver realizes networks on this node's host: the bridge, and the
// VXLAN or VLAN link that carries it between nodes.
type NetworkDriver interface {
	// Apply makes the host match n (idempotent: a network that is already
	// right is left alone, no link re-created). peers are the underlay
	// addresses of the other Ready nodes, for unicast VXLAN.
	Apply(ctx context.Context, n *api.Network, peers []string) error
	// Remove deletes what Apply made for n; what is gone is not an error.
	Remove(ctx context.Context, n *api.Network) error
}

// networks realizes a network on this node exactly while something placed
// here (a VM or a router) uses it, and reports per-node status. Unlike the
// placed kinds, a network lives on every node that needs it, so each node
// holds its own finalizer on it and writes only its own status entry.
type networks struct {
	c       *client.Client
	node    string
	nets    *controller.Informer
	users   []*controller.Informer // VMs and routers placed here
	nodes   *controller.Informer
	driver  NetworkDriver
	finaliz string
	service NetworkService // nil: none
}

func setupNetworks(m *controller.Manager, opts Options, copts controller.Options) {
	r := &networks{
		c: m.Client, node: opts.Node, finaliz: Finalizer(opts.Node), driver: opts.NetworkDriver,
		nets:  m.Informer(api.NetworkKind, "", nil),
		nodes: m.Informer(api.NodeKind, "", nil),
		users: []*controller.Informer{
			m.Informer(api.VirtualMachineKind, FilterName(opts.Node), PlacedOn(api.VirtualMachineKind, opts.Node)),
			m.Informer(api.VirtualRouterKind, FilterName(opts.Node), PlacedOn(api.VirtualRouterKind, opts.Node)),
		},
	}
	if r.driver == nil {
		r.driver = notImplementedNetworks{}
	}
	ctl := controller.New("network", r.nets, r, copts)
	for _, inf := range r.users {
		ctl.Watch(inf, networksOf)
	}
	r.service = opts.NetworkService
	// Nodes coming and going change the unicast VXLAN peers of every network.
	ctl.Watch(r.nodes, func(api.Object) []controller.Key {
		var keys []controller.Key
		for _, n := range r.nets.List() {
			keys = append(keys, controller.KeyOf(n))
		}
		return keys
	})
	m.Add(ctl)
}

// networksOf maps a VM or router to the keys of the networks it attaches to.
func networksOf(o api.Object) []controller.Key {
	m := o.GetMeta()
	ids := api.NetworkIDs(o)
	keys := make([]controller.Key, len(ids))
	for i, id := range ids {
		keys[i] = controller.Key{Group: m.Group, Namespace: m.Namespace, ID: id}
	}
	return keys
}

// Reconcile implements controller.Reconciler.
func (r *networks) Reconcile(ctx context.Context, key controller.Key) (controller.Result, error) {
	o, ok := r.nets.Get(key)
	if !ok {
		return controller.Result{}, nil
	}
	n := o.(*api.Network)
	users := r.usersOf(key)
	serves := r.service != nil && !n.Meta.Deleting() && r.service.Serves(n, len(users) > 0)
	if serves {
		users = append(users, r.service.Name())
	}
	held := slices.Contains(n.Meta.Finalizers, r.finaliz)
	if !serves {
		// Before the finalizer goes: the service must be gone first.
		if err := r.removeService(ctx, n); err != nil {
			return controller.Result{}, err
		}
	}
	switch {
	case len(users) == 0 && held:
		return controller.Result{}, r.release(ctx, n)
	case len(users) == 0:
		return controller.Result{}, nil
	case n.Meta.Deleting():
		// Not from under a VM: the network goes once its users here have.
		msg := "deletion waits: in use on this node by " + strings.Join(users, ", ")
		return controller.Result{}, r.report(ctx, n, NetworkAvailable, msg)
	}
	var err error
	if n, err = r.prepare(ctx, n); err != nil {
		return controller.Result{}, ignoreNotFound(err)
	}
	if err := r.driver.Apply(ctx, n, r.peers()); err != nil {
		return controller.Result{}, errors.Join(err, r.report(ctx, n, NetworkError, err.Error()))
	}
	if err := r.report(ctx, n, NetworkAvailable, ""); err != nil || !serves {
		return controller.Result{}, err
	}
	return r.service.Apply(ctx, n)
}

func (r *networks) removeService(ctx context.Context, n *api.Network) error {
	if r.service == nil {
		return nil
	}
	if err := r.service.Remove(ctx, n); err != nil {
		return fmt.Errorf("remove %s: %w", r.service.Name(), err)
	}
	return nil
}

// usersOf names the VMs and routers on this node, not being deleted, that
// attach to the network key.
func (r *networks) usersOf(key controller.Key) []string {
	var out []string
	for _, inf := range r.users {
		for _, o := range inf.List() {
			if o.GetMeta().Deleting() || !slices.Contains(networksOf(o), key) {
				continue
			}
			k, _ := api.KindOf(o)
			out = append(out, k.Name+" "+o.GetMeta().ID)
		}
	}
	sort.Strings(out)
	return out
}

// prepare takes this node's finalizer (before anything is made on the
// host) and records the bridge name, the same on every node.
func (r *networks) prepare(ctx context.Context, n *api.Network) (*api.Network, error) {
	bridge := BridgeName(n.Meta.Group, n.Meta.Namespace, n.Meta.ID)
	return controller.Update(ctx, r.c, n, func(x *api.Network) bool {
		changed := false
		if !slices.Contains(x.Meta.Finalizers, r.finaliz) {
			x.Meta.Finalizers = append(x.Meta.Finalizers, r.finaliz)
			changed = true
		}
		if x.Meta.Annotations[api.AnnotationBridgeName] != bridge {
			if x.Meta.Annotations == nil {
				x.Meta.Annotations = map[string]string{}
			}
			x.Meta.Annotations[api.AnnotationBridgeName] = bridge
			changed = true
		}
		return changed
	})
}

// release removes the network from this host, its status entry and this
// node's finalizer.
func (r *networks) release(ctx context.Context, n *api.Network) error {
	if err := r.driver.Remove(ctx, n); err != nil {
		return fmt.Errorf("remove network: %w", err)
	}
	_, err := controller.UpdateStatus(ctx, r.c, n, func(x *api.Network) bool {
		_, ok := x.Status.Nodes[r.node]
		delete(x.Status.Nodes, r.node)
		return ok
	})
	if err = ignoreNotFound(err); err != nil {
		return err
	}
	return controller.RemoveFinalizer(ctx, r.c, n, r.finaliz)
}

// report writes this node's entry of status.nodes, if it changed.
func (r *networks) report(ctx context.Context, n *api.Network, state, msg string) error {
	_, err := controller.UpdateStatus(ctx, r.c, n, func(x *api.Network) bool {
		entry := x.Status.Nodes[r.node]
		changed := entry.State != state || entry.Message != msg
		entry.State, entry.Message = state, msg
		if setNetworkReady(&entry, n.Meta.Generation) {
			changed = true
		}
		if !changed {
			return false
		}
		if x.Status.Nodes == nil {
			x.Status.Nodes = map[string]api.StateStatus{}
		}
		x.Status.Nodes[r.node] = entry
		return true
	})
	return ignoreNotFound(err)
}

// peers are the addresses of the other Ready nodes.
func (r *networks) peers() []string {
	var out []string
	for _, o := range r.nodes.List() {
		n := o.(*api.Node)
		if n.Meta.ID != r.node && n.Status.State == api.NodeReady && n.Spec.Address != "" {
			out = append(out, n.Spec.Address)
		}
	}
	sort.Strings(out)
	return out
}

// NetworkService is what a node runs for a network besides its bridge:
// the network's DHCP and DNS server, on the node named by its
// networkv0/dhcp_node_name, or on every node that realizes it (a Bridge
// network). While it serves a network there, the node realizes the
// network and holds its finalizer.
type NetworkService interface {
	// Name names the service among a network's users ("DHCP server").
	Name() string
	// Serves reports whether this node runs the service of n (not being
	// deleted); used says whether a VM or router placed here attaches to
	// n.
	Serves(n *api.Network, used bool) bool
	// Apply makes the service of n run, after the network is realized
	// here, and writes its status.
	Apply(ctx context.Context, n *api.Network) (controller.Result, error)
	// Remove stops the service of n on this node and removes what it
	// made; nothing there is not an error, and cheap.
	Remove(ctx context.Context, n *api.Network) error
}

// notImplementedNetworks says so instead of pretending.
type notImplementedNetworks struct{}

func (notImplementedNetworks) Apply(context.Context, *api.Network, []string) error {
	return controller.Terminal(errors.New("this agent cannot realize networks yet: not implemented"))
}

func (notImplementedNetworks) Remove(context.Context, *api.Network) error { return nil }
