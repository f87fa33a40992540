package vm

import (
	"context"
	"os"
	"testing"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/api/conditions"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/agent/system"
	"github.com/humstack/humstack/internal/testenv"
)

// noTaps is a host without links: removing a tap that is not there is
// not an error.
type noTaps struct{}

func (noTaps) ensureTap(string, string) (int, error) { return 1500, nil }
func (noTaps) removeTap(string) error                { return nil }

// TestConditionsOfAPendingVM runs the driver against an in-process API
// server, without QEMU: a VM whose disk is missing is Pending with
// DisksReady False (DiskNotFound) and NetworksReady Unknown; once the disk
// is Active, DisksReady is True and NetworksReady False (NetworkNotFound);
// powered off it is Stopped, Started False and Ready True. Every condition
// carries the generation the driver saw.
func TestConditionsOfAPendingVM(t *testing.T) {
	e := testenv.Start(t)
	ctx := context.Background()
	e.Create(t, "meta: {apiType: corev0/group, id: g}")
	e.Create(t, "meta: {apiType: corev0/namespace, id: ns, group: g}")
	vm := e.Create(t, `meta: {apiType: systemv0/virtualmachine, id: vm1, group: g, namespace: ns,
  annotations: {virtualmachinev0/node_name: n1}}
spec: {requestVcpus: "1", limitVcpus: "1", requestMemory: 256M, limitMemory: 256M,
  blockStorageIDs: [bs1], nics: [{networkID: net1, ipv4Address: 10.0.0.5}]}
`).(*api.VirtualMachine)
	dir, err := os.MkdirTemp("", "hsvm")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	d := New(Config{Node: "n1", Dir: dir, Client: e.Client, Accel: "tcg",
		DiskPath: func(g, ns, id string) string { return dir + "/" + id }})
	d.host = noTaps{}

	apply := func() *api.VirtualMachine {
		t.Helper()
		work := *vm
		work.Status.Conditions = append([]api.Condition(nil), vm.Status.Conditions...)
		if _, err := d.Apply(ctx, &work); err != nil {
			t.Fatal(err)
		}
		system.SetReady(&work, nil) // what the generic reconciler adds
		return &work
	}
	expect := func(got *api.VirtualMachine, typ string, status api.ConditionStatus, reason string) {
		t.Helper()
		c := conditions.Find(got.Status.Conditions, typ)
		switch {
		case c == nil:
			t.Fatalf("no %s condition: %+v", typ, got.Status)
		case c.Status != status || c.Reason != reason:
			t.Fatalf("%s is %s/%s, want %s/%s (message %q)", typ, c.Status, c.Reason, status, reason, c.Message)
		case c.ObservedGeneration != got.Meta.Generation || c.LastTransitionTime.IsZero():
			t.Fatalf("%s: observedGeneration %d (meta.generation %d), transition %v", typ, c.ObservedGeneration, got.Meta.Generation, c.LastTransitionTime)
		}
	}

	got := apply()
	if got.Status.State != StatePending {
		t.Fatalf("state %q", got.Status.State)
	}
	expect(got, api.ConditionDisksReady, api.ConditionFalse, "DiskNotFound")
	expect(got, api.ConditionNetworksReady, api.ConditionUnknown, "WaitingForDisks")
	expect(got, api.ConditionStarted, api.ConditionFalse, StatePending)
	expect(got, api.ConditionReady, api.ConditionFalse, StatePending)
	vm.Status = got.Status
	started := conditions.Find(got.Status.Conditions, api.ConditionStarted).LastTransitionTime

	bs := e.Create(t, `meta: {apiType: systemv0/blockstorage, id: bs1, group: g, namespace: ns,
  annotations: {blockstoragev0/type: Local, blockstoragev0/node_name: n1}}
spec: {requestSize: 1G, limitSize: 1G, from: {type: Empty}}
`).(*api.BlockStorage)
	bs.Status.State = "Active"
	if _, err := client.For[*api.BlockStorage](e.Client).UpdateStatus(ctx, bs); err != nil {
		t.Fatal(err)
	}
	got = apply()
	expect(got, api.ConditionDisksReady, api.ConditionTrue, "AllAvailable")
	expect(got, api.ConditionNetworksReady, api.ConditionFalse, "NetworkNotFound")
	if c := conditions.Find(got.Status.Conditions, api.ConditionStarted); !c.LastTransitionTime.Equal(started) {
		t.Fatalf("Started stayed False but its transition time moved: %v -> %v", started, c.LastTransitionTime)
	}
	vm.Status = got.Status

	vm.Spec.ActionState = api.ActionPowerOff
	vm.Meta.Generation = 2
	got = apply()
	expect(got, api.ConditionStarted, api.ConditionFalse, StateStopped)
	expect(got, api.ConditionReady, api.ConditionTrue, StateStopped)
}
