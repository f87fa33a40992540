package core

import (
	"fmt"
	"net/netip"
	"sort"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/controller"
	"github.com/humstack/humstack/internal/placement"
	"github.com/humstack/humstack/internal/scheduler"
)

// unit is what one placement writes: the object, and for a VM its disks
// that are not placed yet (they go with it).
type unit struct {
	obj   api.Object
	disks []*api.BlockStorage
	req   scheduler.Request
	// why is set when the unit cannot be placed whatever the nodes (two
	// of its disks on different nodes, an unreadable annotation).
	why string
	// pinnedBy says, by node, which placed disk pins a VM there.
	pinnedBy map[string]string
}

// vmUnit is the placement of vm: its requests and those of its unplaced
// disks, pinned where a placed disk is.
func (s *sched) vmUnit(vm *api.VirtualMachine) *unit {
	u := &unit{obj: vm}
	u.req = scheduler.Request{Key: placement.Key(api.VirtualMachineKind, &vm.Meta), Amounts: placement.Request(vm)}
	ann := vm.Meta.Annotations
	u.req.KVM = ann[api.AnnotationAccelerator] == api.AcceleratorKVM
	for field, dst := range map[string]*map[string]string{
		api.AnnotationNodeSelector: &u.req.Selector, api.AnnotationAffinity: &u.req.Affinity,
		api.AnnotationAntiAffinity: &u.req.AntiAffinity,
	} {
		sel, err := scheduler.ParseLabels(ann[field])
		if err != nil {
			u.why = fmt.Sprintf("annotation %s: %v", field, err)
		}
		*dst = sel
	}
	pinnedBy := map[string]string{} // node -> the disk that pins the VM there
	for _, id := range vm.Spec.BlockStorageIDs {
		o, ok := s.disks.Get(controller.Key{Group: vm.Meta.Group, Namespace: vm.Meta.Namespace, ID: id})
		if !ok {
			continue // placed with the VM's node once it exists
		}
		bs := o.(*api.BlockStorage)
		if node := placement.NodeOf(bs); node != "" {
			if _, seen := pinnedBy[node]; !seen {
				pinnedBy[node] = "disk " + vm.Meta.Namespace + "/" + id + " is on " + node
			}
			continue
		}
		u.disks = append(u.disks, bs)
		u.req.Amounts = placement.Add(u.req.Amounts, placement.Request(bs))
		if img := s.imageOf(bs); img != "" {
			u.req.Images = append(u.req.Images, img)
		}
	}
	u.pinnedBy = pinnedBy
	s.pin(u, pinnedBy)
	return u
}

// settle brings u up to the assumptions made since it was read from the
// caches; the caller holds s.usage.mu.
func (s *sched) settle(u *unit) {
	switch o := u.obj.(type) {
	case *api.VirtualMachine:
		s.settleDisks(u)
	case *api.BlockStorage:
		// A VM using the disk was decided since diskUnit read the VM
		// cache (which did not show the VM yet): the disk goes with it.
		if a, ok := s.usage.assumed[placement.Key(api.BlockStorageKind, &o.Meta)]; ok {
			u.pinnedBy[a.node] = "a virtual machine using it is being placed on " + a.node
			s.pin(u, u.pinnedBy)
		}
	}
}

// settleDisks takes out of a VM's unit the disks placed since vmUnit read
// the cache, and pins the VM where they are: a disk's own reconcile may
// have decided and assumed a node the cache does not show yet, and the VM
// must not be placed away from it. The caller holds s.usage.mu (and
// s.decide), under which assumptions and the cache change together.
func (s *sched) settleDisks(u *unit) {
	if len(u.disks) == 0 {
		return
	}
	kept := make([]*api.BlockStorage, 0, len(u.disks))
	for _, bs := range u.disks {
		node := s.diskNode(bs)
		if node == "" {
			kept = append(kept, bs)
			continue
		}
		// Its image stays among the VM's preferences: harmless, the VM is
		// pinned to one node now.
		u.req.Amounts = placement.Sub(u.req.Amounts, placement.Request(bs))
		if _, seen := u.pinnedBy[node]; !seen {
			u.pinnedBy[node] = "disk " + bs.Meta.Namespace + "/" + bs.Meta.ID + " is on " + node
		}
	}
	u.disks = kept
	s.pin(u, u.pinnedBy)
}

// diskNode is the node a disk is assumed or (in the cache) placed on, ""
// when it is neither; the caller holds s.usage.mu.
func (s *sched) diskNode(bs *api.BlockStorage) string {
	if a, ok := s.usage.assumed[placement.Key(api.BlockStorageKind, &bs.Meta)]; ok {
		return a.node
	}
	if o, ok := s.disks.Get(controller.KeyOf(bs)); ok {
		return placement.NodeOf(o)
	}
	return ""
}

// pin pins u to the one node its placed parts are on.
func (s *sched) pin(u *unit, pinnedBy map[string]string) {
	nodes := make([]string, 0, len(pinnedBy))
	for n := range pinnedBy {
		nodes = append(nodes, n)
	}
	sort.Strings(nodes)
	switch len(nodes) {
	case 0:
	case 1:
		u.req.Pinned, u.req.PinnedBy = nodes[0], pinnedBy[nodes[0]]
	default:
		u.why = fmt.Sprintf("its disks are on different nodes: %s; %s", pinnedBy[nodes[0]], pinnedBy[nodes[1]])
	}
}

// diskUnit is the placement of a disk alone, or nil when an unplaced VM
// uses it (the VM's placement carries it). A disk a placed VM uses goes
// to the VM's node.
func (s *sched) diskUnit(bs *api.BlockStorage) *unit {
	u := &unit{obj: bs}
	u.req = scheduler.Request{Key: placement.Key(api.BlockStorageKind, &bs.Meta), Amounts: placement.Request(bs)}
	if img := s.imageOf(bs); img != "" {
		u.req.Images = []string{img}
	}
	pinnedBy := map[string]string{}
	for _, o := range s.vms.List() {
		vm := o.(*api.VirtualMachine)
		if vm.Meta.Group != bs.Meta.Group || vm.Meta.Namespace != bs.Meta.Namespace || !usesDisk(vm, bs.Meta.ID) {
			continue
		}
		node := placement.NodeOf(vm)
		if node == "" {
			return nil
		}
		pinnedBy[node] = "virtualmachine " + vm.Meta.Namespace + "/" + vm.Meta.ID + " is on " + node
	}
	u.pinnedBy = pinnedBy
	s.pin(u, pinnedBy)
	return u
}

func usesDisk(vm *api.VirtualMachine, id string) bool {
	for _, d := range vm.Spec.BlockStorageIDs {
		if d == id {
			return true
		}
	}
	return false
}

// imageOf is the image entity ("group/id") a BaseImage disk starts from,
// "" for other disks or an image tag that names nothing yet.
func (s *sched) imageOf(bs *api.BlockStorage) string {
	b := bs.Spec.From.BaseImage
	if bs.Spec.From.Type != api.BlockStorageFromBaseImage || b == nil {
		return ""
	}
	o, ok := s.images.Get(controller.Key{Group: bs.Meta.Group, ID: b.ImageName})
	if !ok {
		return ""
	}
	if id := o.(*api.Image).Spec.EntityMap[b.Tag]; id != "" {
		return bs.Meta.Group + "/" + id
	}
	return ""
}

// routerUnit is the placement of a router: no capacity, a node that has
// the external bridge of its pool.
func (s *sched) routerUnit(vr *api.VirtualRouter) *unit {
	u := &unit{obj: vr}
	u.req = scheduler.Request{Key: placement.Key(api.VirtualRouterKind, &vr.Meta), Bridge: s.bridgeOf(vr)}
	return u
}

// bridgeOf is the external bridge a router attaches to: the bridgeName of
// the pool holding its natGatewayIP, else of its first external IP's pool.
func (s *sched) bridgeOf(vr *api.VirtualRouter) string {
	addr := vr.Spec.NATGatewayIP
	if addr == "" && len(vr.Spec.ExternalIPs) > 0 {
		if o, ok := s.eips.Get(controller.Key{Group: vr.Meta.Group, Namespace: vr.Meta.Namespace, ID: vr.Spec.ExternalIPs[0].ExternalIPID}); ok {
			addr = o.(*api.ExternalIP).Spec.IPv4Address
		}
	}
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return ""
	}
	best, bestBits := "", -1
	for _, o := range s.pools.List() {
		p := o.(*api.ExternalIPPool)
		cidr, err := netip.ParsePrefix(p.Spec.IPv4CIDR)
		if err == nil && cidr.Contains(a) && cidr.Bits() > bestBits {
			best, bestBits = p.Spec.BridgeName, cidr.Bits()
		}
	}
	return best
}

// peers are the placed VMs of vm's namespace, for affinity; nil when the
// VM asks for none (the common case costs no scan).
func (s *sched) peers(u *unit) []scheduler.Peer {
	if len(u.req.Affinity) == 0 && len(u.req.AntiAffinity) == 0 {
		return nil
	}
	m := u.obj.GetMeta()
	var out []scheduler.Peer
	for _, o := range s.vms.List() {
		vm := o.(*api.VirtualMachine)
		if vm.Meta.Group == m.Group && vm.Meta.Namespace == m.Namespace && placement.NodeOf(vm) != "" && !vm.Meta.Deleting() {
			out = append(out, scheduler.Peer{Key: placement.Key(api.VirtualMachineKind, &vm.Meta), Node: placement.NodeOf(vm), Labels: vm.Meta.Labels})
		}
	}
	return append(out, s.usage.assumedPeers(m.Group+"/"+m.Namespace)...)
}
