package core_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/agent/core"
	"github.com/humstack/humstack/internal/scheduler"
	"github.com/humstack/humstack/internal/testenv"
)

// TestSchedulerSpreadsWithinCapacity: VMs without a node land on nodes
// of unequal memory within it, the least allocated first; the one that fits
// nowhere is Pending with the reasons per node and an event, and is placed
// by itself once a VM is deleted.
func TestSchedulerSpreadsWithinCapacity(t *testing.T) {
	e := schedEnv(t, core.Options{})
	addNode(t, e, "a", "8", "4G", nil)
	addNode(t, e, "b", "8", "8G", nil)
	addNode(t, e, "c", "8", "12G", nil)
	addNode(t, e, "d", "8", "64G", func(n *api.Node) { n.Spec.Unschedulable = true })
	addNode(t, e, "e", "8", "64G", func(n *api.Node) { n.Status.State = api.NodeNotReady })
	for i := range 12 {
		e.Create(t, vmDoc(fmt.Sprintf("vm%d", i), "1", "2G", nil))
	}
	for i := range 12 {
		waitNode(t, e, api.VirtualMachineKind, fmt.Sprintf("vm%d", i))
	}
	if got := sortedCounts(checkCapacity(t, e.Client, true)); got != "a=2 b=4 c=6" {
		t.Errorf("VMs per node: %s, want a=2 b=4 c=6 (all memory taken)", got)
	}
	e.Create(t, vmDoc("big", "1", "2G", nil))
	want := "0/5 nodes fit: 3 insufficient memory (needs 2G, free 0), 1 NotReady, 1 cordoned"
	waitStatus(t, e, "big", core.StatePending, want)
	if ev := e.WaitEvent(t, "big", core.ReasonFailedScheduling); ev.Spec.Message != want {
		t.Errorf("event message %q", ev.Spec.Message)
	}
	if _, err := client.For[*api.VirtualMachine](e.Client).Delete(context.Background(), nsScope, "vm3", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitNode(t, e, api.VirtualMachineKind, "big")
	e.WaitEvent(t, "big", core.ReasonScheduled)
	checkCapacity(t, e.Client, true)
}

// TestSchedulerPacks: pack fills the fullest node that fits first.
func TestSchedulerPacks(t *testing.T) {
	e := schedEnv(t, core.Options{Scheduler: core.SchedulerOptions{Policy: scheduler.Pack, Workers: 1}})
	addNode(t, e, "a", "8", "8G", nil)
	addNode(t, e, "b", "8", "8G", nil)
	for i := range 5 {
		id := fmt.Sprintf("vm%d", i)
		e.Create(t, vmDoc(id, "1", "2G", nil))
		waitNode(t, e, api.VirtualMachineKind, id) // one at a time: each sees the last
	}
	if got := sortedCounts(checkCapacity(t, e.Client, true)); got != "a=4 b=1" {
		t.Errorf("VMs per node: %s, want a=4 b=1", got)
	}
}

// TestSchedulerDiskLocality: a VM's unplaced disks go with it; a VM with
// a placed disk goes to the disk's node even where another is emptier.
func TestSchedulerDiskLocality(t *testing.T) {
	e := schedEnv(t, core.Options{})
	addNode(t, e, "a", "8", "8G", func(n *api.Node) { n.Spec.LimitStorage = "100G" })
	addNode(t, e, "b", "8", "8G", func(n *api.Node) { n.Spec.LimitStorage = "100G" })
	e.Create(t, vmDoc("filler", "4", "6G", nil))
	filled := waitNode(t, e, api.VirtualMachineKind, "filler")

	e.Create(t, diskDoc("pinned", "10G", filled))
	e.Create(t, vmDoc("withpinned", "1", "1G", nil, "pinned"))
	if got := waitNode(t, e, api.VirtualMachineKind, "withpinned"); got != filled {
		t.Errorf("VM with a disk on %s placed on %s", filled, got)
	}

	e.Create(t, diskDoc("d1", "10G", ""))
	e.Create(t, diskDoc("d2", "20G", ""))
	e.Create(t, vmDoc("withdisks", "1", "1G", nil, "d1", "d2"))
	node := waitNode(t, e, api.VirtualMachineKind, "withdisks")
	for _, d := range []string{"d1", "d2"} {
		if got := waitNode(t, e, api.BlockStorageKind, d); got != node {
			t.Errorf("disk %s on %s, its VM on %s", d, got, node)
		}
	}
	// A disk created after its VM was placed follows the VM.
	e.Create(t, vmDoc("early", "1", "1G", nil, "late"))
	early := waitNode(t, e, api.VirtualMachineKind, "early")
	e.Create(t, diskDoc("late", "1G", ""))
	if got := waitNode(t, e, api.BlockStorageKind, "late"); got != early {
		t.Errorf("disk late on %s, its VM on %s", got, early)
	}
	e.Create(t, diskDoc("alone", "89G", ""))
	waitNode(t, e, api.BlockStorageKind, "alone")
	e.Create(t, diskDoc("toobig", "95G", ""))
	testenv.Eventually(t, wait, func() (bool, string) {
		bs, err := client.For[*api.BlockStorage](e.Client).Get(context.Background(), nsScope, "toobig")
		if err != nil {
			return false, err.Error()
		}
		// "alone" went to a (pinned + 89G); b keeps 100G - d1 - d2 - late.
		want := "0/2 nodes fit: 2 insufficient storage (needs 95G, free 69G)"
		return bs.Status.State == core.StatePending && bs.Status.Message == want, fmt.Sprintf("disk toobig: %q %q", bs.Status.State, bs.Status.Message)
	})
	checkCapacity(t, e.Client, true)
}

// TestSchedulerFilters: KVM, node selector, anti-affinity and affinity.
func TestSchedulerFilters(t *testing.T) {
	e := schedEnv(t, core.Options{})
	addNode(t, e, "a", "8", "16G", func(n *api.Node) { n.Meta.Labels = map[string]string{"rack": "a"} })
	addNode(t, e, "b", "8", "16G", func(n *api.Node) { n.Meta.Labels = map[string]string{"rack": "b"}; n.Spec.Accelerator = "kvm" })
	addNode(t, e, "c", "8", "16G", func(n *api.Node) { n.Meta.Labels = map[string]string{"rack": "b"} })

	e.Create(t, vmDoc("fast", "1", "1G", map[string]string{api.AnnotationAccelerator: "kvm"}))
	if got := waitNode(t, e, api.VirtualMachineKind, "fast"); got != "b" {
		t.Errorf("kvm VM on %s, want b", got)
	}
	e.Create(t, vmDoc("racka", "1", "1G", map[string]string{api.AnnotationNodeSelector: "rack=a"}))
	if got := waitNode(t, e, api.VirtualMachineKind, "racka"); got != "a" {
		t.Errorf("rack=a VM on %s, want a", got)
	}
	anti := map[string]string{api.AnnotationAntiAffinity: "app=web"}
	seen := map[string]bool{}
	for i := range 3 {
		id := fmt.Sprintf("web%d", i)
		e.Create(t, vmDoc(id, "1", "1G", anti))
		seen[waitNode(t, e, api.VirtualMachineKind, id)] = true
	}
	if len(seen) != 3 {
		t.Errorf("3 web replicas on nodes %v, want 3 nodes", seen)
	}
	e.Create(t, vmDoc("web3", "1", "1G", anti))
	waitStatus(t, e, "web3", core.StatePending, "0/3 nodes fit: 3 anti-affinity")
	e.Create(t, vmDoc("db1", "1", "1G", map[string]string{api.AnnotationNodeSelector: "rack=b", api.AnnotationAntiAffinity: "app=fast"}))
	dbNode := waitNode(t, e, api.VirtualMachineKind, "db1")
	if dbNode != "c" {
		t.Errorf("db1 on %s, want c (rack b, not with fast)", dbNode)
	}
	e.Create(t, vmDoc("dbclient", "1", "1G", map[string]string{api.AnnotationAffinity: "app=db"}))
	if got := waitNode(t, e, api.VirtualMachineKind, "dbclient"); got != dbNode {
		t.Errorf("dbclient on %s, want with db1 on %s", got, dbNode)
	}
	e.Create(t, vmDoc("nokvm", "1", "1G", map[string]string{api.AnnotationAccelerator: "kvm", api.AnnotationNodeSelector: "rack=a"}))
	waitStatus(t, e, "nokvm", core.StatePending, "0/3 nodes fit: 2 no kvm accelerator (node runs tcg), 1 node selector rack=a does not match")
}

// TestHandPlacementOnAnUnregisteredNode: the seed's examples placed on
// worker1 on a single-node install say why they wait, and the scheduler
// lets go of them when worker1 registers.
func TestHandPlacementOnAnUnregisteredNode(t *testing.T) {
	e := schedEnv(t, core.Options{})
	addNode(t, e, "vm", "8", "16G", nil)
	addNode(t, e, "alpha", "8", "16G", nil)
	e.Create(t, `meta: {apiType: systemv0/virtualmachine, id: seed, group: g, namespace: ns, annotations: {virtualmachinev0/node_name: worker1}}
spec: {requestVcpus: 1, limitVcpus: 1, requestMemory: 1G, limitMemory: 1G, actionState: PowerOff}`)
	waitStatus(t, e, "seed", core.StatePending, "node worker1 is not registered; nodes: alpha, vm")
	e.WaitEvent(t, "seed", core.ReasonFailedScheduling)
	addNode(t, e, "worker1", "8", "16G", nil)
	// The agent of worker1 owns the status from now on: a status it writes
	// is not overwritten.
	vm := getVM(t, e, "seed")
	vm.Status.State, vm.Status.Message = "PowerOff", ""
	if _, err := e.Client.UpdateStatus(context.Background(), vm); err != nil {
		t.Fatal(err)
	}
	e.Create(t, vmDoc("later", "1", "1G", nil)) // a reconcile round of the scheduler
	waitNode(t, e, api.VirtualMachineKind, "later")
	if vm := getVM(t, e, "seed"); vm.Status.State != "PowerOff" {
		t.Errorf("status of a VM on a registered node rewritten: %q %q", vm.Status.State, vm.Status.Message)
	}
}

// TestSchedulerPlacesRoutersWhereTheirBridgeIs.
func TestSchedulerPlacesRoutersWhereTheirBridgeIs(t *testing.T) {
	e := schedEnv(t, core.Options{})
	addNode(t, e, "a", "8", "16G", func(n *api.Node) { n.Spec.ExternalBridges = []string{"other"} })
	addNode(t, e, "b", "8", "16G", func(n *api.Node) { n.Spec.ExternalBridges = []string{"other", "exBr"} })
	addNode(t, e, "c", "8", "16G", func(n *api.Node) { n.Spec.ExternalBridges = []string{"other"} })
	e.Create(t, "meta: {apiType: corev0/externalippool, id: pool}\nspec: {ipv4CIDR: 192.168.10.0/24, bridgeName: exBr}")
	e.Create(t, "meta: {apiType: systemv0/network, id: net1, group: g, namespace: ns}\nspec: {id: \"100\", ipv4CIDR: 10.0.0.0/24}")
	e.Create(t, "meta: {apiType: systemv0/virtualrouter, id: vr, group: g, namespace: ns}\nspec: {natGatewayIP: 192.168.10.5, nics: [{networkID: net1, ipv4Address: 10.0.0.254/24}]}")
	if got := waitNode(t, e, api.VirtualRouterKind, "vr"); got != "b" {
		t.Errorf("router on %s, want b (the node with exBr)", got)
	}
}

// TestSchedulerPrefersTheImageCache: a VM whose disk starts from an image
// goes to the node that holds the image entity (of two equal nodes, the
// tie-break alone would pick a), and a second one to the node that caches
// it once a disk there uses it.
func TestSchedulerPrefersTheImageCache(t *testing.T) {
	e := schedEnv(t, core.Options{})
	addNode(t, e, "a", "8", "16G", nil)
	addNode(t, e, "b", "8", "16G", nil)
	addNode(t, e, "c", "8", "16G", nil)
	ent := e.Create(t, "meta: {apiType: systemv0/imageentity, id: ent, group: g}\nspec: {source: {namespace: ns, blockStorageID: src}}").(*api.ImageEntity)
	ent.Status.State, ent.Status.Node = "Available", "b"
	if _, err := e.Client.UpdateStatus(context.Background(), ent); err != nil {
		t.Fatal(err)
	}
	e.Create(t, `meta: {apiType: systemv0/image, id: img, group: g}
spec: {entityMap: {"1": ent}}`)
	fromImage := func(id string) string {
		return fmt.Sprintf(`meta: {apiType: systemv0/blockstorage, id: %s, group: g, namespace: ns}
spec: {requestSize: 1G, limitSize: 1G, from: {type: BaseImage, baseImage: {imageName: img, tag: "1"}}}`, id)
	}
	e.Create(t, fromImage("root1"))
	e.Create(t, vmDoc("vm1", "1", "1G", nil, "root1"))
	if got := waitNode(t, e, api.VirtualMachineKind, "vm1"); got != "b" {
		t.Errorf("vm1 on %s, want b (holds the image)", got)
	}
	// c caches the image once a disk there is an overlay of it.
	e.Create(t, diskDoc("other", "1G", "c"))
	bs, err := client.For[*api.BlockStorage](e.Client).Get(context.Background(), nsScope, "other")
	if err != nil {
		t.Fatal(err)
	}
	bs.Status.ImageEntity = "ent"
	if _, err := e.Client.UpdateStatus(context.Background(), bs); err != nil {
		t.Fatal(err)
	}
	// b, which holds the image, gets fuller; a and c are equally empty,
	// and the tie-break alone would pick a.
	e.Create(t, vmDoc("busy", "1", "2G", map[string]string{api.AnnotationVirtualMachineNode: "b"}))
	e.Create(t, fromImage("root2"))
	e.Create(t, vmDoc("vm2", "1", "1G", nil, "root2"))
	if got := waitNode(t, e, api.VirtualMachineKind, "vm2"); got != "c" {
		t.Errorf("vm2 on %s, want c (caches the image; b holds it but is fuller, a does not have it)", got)
	}
}
