// Package system holds the per-node controllers a System agent runs: one
// generic reconciler per node-placed kind, which owns the object's node
// finalizer and hands the host work to that kind's Driver.
package system

import (
	"log/slog"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/controller"
)

// Options configure the system controllers of one node.
type Options struct {
	Node string
	Log  *slog.Logger
	// Drivers realize each kind on the host; a placed kind without one is
	// reported as not implemented on this node.
	Drivers map[*api.Kind]Driver
	// NetworkDriver realizes networks; nil reports them as not implemented.
	NetworkDriver NetworkDriver
	// NetworkService runs per-network services (DHCP and DNS); nil: none.
	NetworkService NetworkService
	Workers        int
	// Resync is how often every object is reconciled without a change
	// (the seed's pollingSeconds): how soon drift on the host is repaired.
	Resync time.Duration
}

// placements are the kinds a user places on a node, with the annotation
// that names the node.
var placements = []struct {
	kind       *api.Kind
	annotation string
}{
	{api.BlockStorageKind, api.AnnotationBlockStorageNode},
	{api.VirtualRouterKind, api.AnnotationRouterNode},
	{api.VirtualMachineKind, api.AnnotationVirtualMachineNode},
}

// PlacedOn returns a filter for objects of kind k placed on node.
func PlacedOn(k *api.Kind, node string) func(api.Object) bool {
	for _, p := range placements {
		if p.kind == k {
			return func(o api.Object) bool { return o.GetMeta().Annotations[p.annotation] == node }
		}
	}
	return func(api.Object) bool { return false }
}

// FilterName names the shared informer cache of what is placed on node, so
// every controller of that node shares one cache per kind.
func FilterName(node string) string { return "node=" + node }

// Finalizer is the finalizer node puts on what it realizes.
func Finalizer(node string) string { return api.FinalizerNodePrefix + node }

// Setup adds the system controllers of node opts.Node to m.
func Setup(m *controller.Manager, opts Options) error {
	if opts.Log == nil {
		opts.Log = m.Log
	}
	copts := controller.Options{Workers: opts.Workers, Resync: opts.Resync, Log: opts.Log.With("node", opts.Node)}
	setupNetworks(m, opts, copts)
	self := m.Informer(api.NodeKind, FilterName(opts.Node), func(o api.Object) bool { return o.GetMeta().ID == opts.Node })
	for _, p := range placements {
		d, ok := opts.Drivers[p.kind]
		if !ok {
			d = NotImplemented{Kind: p.kind, Node: opts.Node}
		}
		inf := m.Informer(p.kind, FilterName(opts.Node), PlacedOn(p.kind, opts.Node))
		r := &reconciler{c: m.Client, kind: p.kind, inf: inf, finalizer: Finalizer(opts.Node), driver: d,
			events: m.Recorder(p.kind.Name), hold: &holder{node: opts.Node, nodes: self}}
		ctrl := controller.New(p.kind.Name, inf, r, copts)
		if holds(p.kind) {
			// The ledger lives on the node object: its changes may let a
			// held object go.
			ctrl.Watch(self, func(api.Object) []controller.Key { return untaken(inf.List(), r.finalizer) })
		}
		if dep, ok := d.(Dependent); ok {
			for _, dd := range dep.Dependencies() {
				ctrl.Watch(m.Informer(dd.Kind, "", nil), func(o api.Object) []controller.Key { return dd.Keys(o, inf.List()) })
			}
		}
		m.Add(ctrl)
	}
	return nil
}
