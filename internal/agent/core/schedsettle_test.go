package core

import (
	"context"
	"errors"
	"log/slog"
	"testing"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/controller"
	"github.com/humstack/humstack/internal/placement"
	"github.com/humstack/humstack/internal/scheduler"
	"github.com/humstack/humstack/internal/testenv"
)

// settleVM is an unplaced VM using disk d, and d unplaced, as vmUnit read
// them from the cache.
func settleVM() (*api.VirtualMachine, *api.BlockStorage) {
	vm := api.VirtualMachineKind.New().(*api.VirtualMachine)
	vm.Meta.ID, vm.Meta.Group, vm.Meta.Namespace = "vm", "g", "ns"
	vm.Spec.RequestVcpus, vm.Spec.LimitVcpus, vm.Spec.RequestMemory, vm.Spec.LimitMemory = "1", "1", "1G", "1G"
	vm.Spec.BlockStorageIDs = []string{"d"}
	bs := api.BlockStorageKind.New().(*api.BlockStorage)
	bs.Meta.ID, bs.Meta.Group, bs.Meta.Namespace = "d", "g", "ns"
	bs.Spec.RequestSize, bs.Spec.LimitSize, bs.Spec.From.Type = "1G", "1G", api.BlockStorageFromEmpty
	return vm, bs
}

func settleUnit(vm *api.VirtualMachine, bs *api.BlockStorage) *unit {
	return &unit{obj: vm, disks: []*api.BlockStorage{bs}, pinnedBy: map[string]string{},
		req: scheduler.Request{Key: placement.Key(api.VirtualMachineKind, &vm.Meta),
			Amounts: placement.Add(placement.Request(vm), placement.Request(bs))}}
}

// twoNodeSched is a scheduler over two empty nodes a and b (a wins the
// tie-break), with empty caches: what the caches show no longer matters
// once the decide lock is taken, only the assumptions.
func twoNodeSched() *sched {
	s := &sched{usage: newUsage(), policy: scheduler.Spread,
		disks: controller.NewInformer(nil, api.BlockStorageKind, client.Scope{}, nil, slog.New(slog.DiscardHandler))}
	for _, name := range []string{"a", "b"} {
		n := api.NodeKind.New().(*api.Node)
		n.Meta.ID, n.Status.State = name, api.NodeReady
		n.Spec = api.NodeSpec{LimitVcpus: "8", LimitMemory: "16G", LimitStorage: "100G", AgentMode: "System", Accelerator: "tcg"}
		s.usage.trackNode(nil, n)
	}
	return s
}

// TestVMFollowsADiskAssumedSinceItsUnitWasRead: the disk's own reconcile
// decided and assumed node b after the VM's unit was read from a cache
// that still shows the disk unplaced. The VM goes to b, not to a (the
// tie-break between two empty nodes), and the disk's assumption stays.
func TestVMFollowsADiskAssumedSinceItsUnitWasRead(t *testing.T) {
	s := twoNodeSched()
	vm, bs := settleVM()
	u := settleUnit(vm, bs)
	diskKey := placement.Key(api.BlockStorageKind, &bs.Meta)
	s.usage.mu.Lock()
	s.usage.assume(diskKey, assumption{node: "b", amounts: placement.Request(bs)})
	s.usage.mu.Unlock()

	if d := s.choose(u); d.Node != "b" {
		t.Fatalf("VM decided for %q (%s), want b where its disk is assumed", d.Node, d.Message)
	}
	if len(u.disks) != 0 {
		t.Errorf("the placed disk still goes with the VM: %d disks in its unit", len(u.disks))
	}
	if u.req.Amounts != placement.Request(vm) {
		t.Errorf("VM's request %+v counts the placed disk; want %+v", u.req.Amounts, placement.Request(vm))
	}
	if a := s.usage.assumed[diskKey]; a.node != "b" {
		t.Errorf("disk's assumption moved to %q", a.node)
	}

	// Two disks assumed on different nodes: the VM cannot be placed.
	vm2, bs2 := settleVM()
	vm2.Meta.ID, bs2.Meta.ID = "vm2", "d2"
	u2 := settleUnit(vm2, bs2)
	u2.pinnedBy["a"] = "disk ns/other is on a"
	s.usage.mu.Lock()
	s.usage.assume(placement.Key(api.BlockStorageKind, &bs2.Meta), assumption{node: "b", amounts: placement.Request(bs2)})
	s.usage.mu.Unlock()
	if d := s.choose(u2); d.Node != "" || d.Message != cannotBePlaced+"its disks are on different nodes: disk ns/other is on a; disk ns/d2 is on b" {
		t.Errorf("VM with disks on a and b: decided %q %q", d.Node, d.Message)
	}
}

// TestDiskFollowsAVMDecidedSinceItsUnitWasRead: the reverse race. The
// disk's unit was read while the VM cache did not show its VM yet; the
// VM has since been decided for b (and its disk assumed there with it).
// The disk's own decision goes to b too, not to a.
func TestDiskFollowsAVMDecidedSinceItsUnitWasRead(t *testing.T) {
	s := twoNodeSched()
	_, bs := settleVM()
	key := placement.Key(api.BlockStorageKind, &bs.Meta)
	u := &unit{obj: bs, pinnedBy: map[string]string{}, req: scheduler.Request{Key: key, Amounts: placement.Request(bs)}}
	s.usage.mu.Lock()
	s.usage.assume(key, assumption{node: "b", amounts: placement.Request(bs)})
	s.usage.mu.Unlock()
	if d := s.choose(u); d.Node != "b" {
		t.Errorf("disk decided for %q (%s), want b where its VM is being placed", d.Node, d.Message)
	}
}

// TestVMNotWrittenAwayFromItsDisk: when the VM's disk turns out placed on
// another node than the one decided (another scheduler, or by hand), the
// VM's annotation is not written, and its assumptions are dropped.
func TestVMNotWrittenAwayFromItsDisk(t *testing.T) {
	e := testenv.Start(t)
	e.Create(t, "meta: {apiType: corev0/group, id: g}")
	e.Create(t, "meta: {apiType: corev0/namespace, id: ns, group: g}")
	vm, stale := settleVM()
	_, placed := settleVM()
	placed.Meta.Annotations = map[string]string{placement.Annotation(api.BlockStorageKind): "x"}
	if _, err := e.Client.Create(context.Background(), placed); err != nil {
		t.Fatal(err)
	}
	created, err := e.Client.Create(context.Background(), vm)
	if err != nil {
		t.Fatal(err)
	}
	disks := controller.NewInformer(e.Client, api.BlockStorageKind, client.Scope{}, nil, nil)
	s := &sched{c: e.Client, usage: newUsage(), ctls: map[*api.Kind]*controller.Controller{
		api.BlockStorageKind: controller.New("disks", disks, controller.ReconcilerFunc(func(context.Context, controller.Key) (controller.Result, error) {
			return controller.Result{}, nil
		}), controller.Options{}),
	}}
	u := settleUnit(created.(*api.VirtualMachine), stale)
	vmKey := placement.Key(api.VirtualMachineKind, &vm.Meta)
	s.usage.mu.Lock()
	s.usage.assume(vmKey, assumption{node: "y", amounts: placement.Request(vm)})
	s.usage.mu.Unlock()

	written, err := s.write(context.Background(), u, "y")
	if !errors.Is(err, errDiskElsewhere) || written != nil {
		t.Errorf("write of a VM whose disk is on x to y: %v, %v; want errDiskElsewhere", written, err)
	}
	got, err := client.For[*api.VirtualMachine](e.Client).Get(context.Background(), client.Scope{Group: "g", Namespace: "ns"}, "vm")
	if err != nil {
		t.Fatal(err)
	}
	if node := placement.NodeOf(got); node != "" {
		t.Errorf("VM placed on %s, its disk on x", node)
	}
	if _, ok := s.usage.assumed[vmKey]; ok {
		t.Error("the VM's assumption on y was kept")
	}
}
