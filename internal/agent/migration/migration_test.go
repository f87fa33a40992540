package migration_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/agent/migration"
	"github.com/humstack/humstack/internal/controller"
	"github.com/humstack/humstack/internal/testenv"
)

const wait = 15 * time.Second

// fakeHost records what the node controller asks of its drivers.
type fakeHost struct {
	mu    sync.Mutex
	calls []string
}

func (f *fakeHost) record(s string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, s)
}

func (f *fakeHost) has(s string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Contains(f.calls, s)
}

func (f *fakeHost) String() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return fmt.Sprint(f.calls)
}

func (f *fakeHost) Receive(_ context.Context, _ *api.Migration, d api.MigrationDisk) api.MigrationDisk {
	f.record("receive " + d.ID)
	d.State, d.Message, d.Copied, d.Total = api.MigrationDiskCopied, "copied", 10, 10
	return d
}

func (f *fakeHost) Drop(_ context.Context, _ *api.Migration, d api.MigrationDisk) error {
	f.record("drop " + d.ID)
	return nil
}

func (f *fakeHost) Apply(context.Context, api.Object) (controller.Result, error) {
	return controller.Result{}, nil
}

func (f *fakeHost) Remove(_ context.Context, o api.Object) error {
	f.record("remove " + o.GetMeta().ID)
	return nil
}

// TestNodeController: as the target, the node copies each disk and writes
// its progress, and drops its copies when the migration fails or is
// deleted before the switch; as the source, once the VM runs elsewhere, it
// removes the VM and its disks here and releases its finalizers.
func TestNodeController(t *testing.T) {
	e := testenv.Start(t)
	disks, vms := &fakeHost{}, &fakeHost{}
	e.Run(t, func(m *controller.Manager) error {
		migration.Setup(m, "node-b", disks, vms, controller.Options{})
		return nil
	})
	e.Create(t, "meta: {apiType: corev0/group, id: g}")
	e.Create(t, "meta: {apiType: corev0/namespace, id: ns, group: g}")
	sc := client.Scope{Group: "g", Namespace: "ns"}
	ctx := context.Background()
	migs := client.For[*api.Migration](e.Client)
	create := func(id string, st api.MigrationStatus) {
		m := e.Create(t, fmt.Sprintf("meta: {apiType: systemv0/migration, id: %s, group: g, namespace: ns}\nspec: {virtualMachineID: vm1}", id)).(*api.Migration)
		m.Status = st
		if _, err := migs.UpdateStatus(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	setPhase := func(id, phase string) {
		if _, err := controller.UpdateStatus(ctx, e.Client, mustGet(t, migs, sc, id), func(m *api.Migration) bool {
			m.Status.Phase = phase
			return true
		}); err != nil {
			t.Fatal(err)
		}
	}
	disk := []api.MigrationDisk{{ID: "bs1", State: api.MigrationDiskPending}}

	// Target: copy, then a failure drops the copy.
	create("in", api.MigrationStatus{Phase: api.MigrationCopying, SourceNode: "node-a", TargetNode: "node-b", Disks: disk})
	testenv.Eventually(t, wait, func() (bool, string) {
		m := mustGet(t, migs, sc, "in")
		return m.Status.Disks[0].State == api.MigrationDiskCopied && m.Status.Disks[0].Copied == 10, fmt.Sprintf("%+v", m.Status)
	})
	setPhase("in", api.MigrationFailed)
	testenv.Eventually(t, wait, func() (bool, string) {
		return mustGet(t, migs, sc, "in").Status.TargetCleaned && disks.has("drop bs1"), fmt.Sprintf("calls %v", disks.String())
	})

	// Target: a migration deleted while copying has its copies dropped.
	create("del", api.MigrationStatus{Phase: api.MigrationCopying, SourceNode: "node-a", TargetNode: "node-b",
		Disks: []api.MigrationDisk{{ID: "bs9", State: api.MigrationDiskPending}}})
	testenv.Eventually(t, wait, func() (bool, string) { return disks.has("receive bs9"), fmt.Sprintf("calls %v", disks.String()) })
	setPhase("del", api.MigrationFailed) // stop copying: the fake copies at once
	if _, err := e.Client.Delete(ctx, api.MigrationKind, sc, "del", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, wait, func() (bool, string) { return disks.has("drop bs9"), fmt.Sprintf("calls %v", disks.String()) })

	// Source: the VM and its disk moved to node-c; node-b cleans up.
	fin := api.FinalizerNodePrefix + "node-b"
	e.Create(t, "meta: {apiType: systemv0/blockstorage, id: bs1, group: g, namespace: ns, finalizers: [\""+fin+"\"], annotations: {blockstoragev0/node_name: node-c}}\nspec: {requestSize: 1G, limitSize: 1G, from: {type: Empty}}")
	e.Create(t, "meta: {apiType: systemv0/virtualmachine, id: vm1, group: g, namespace: ns, finalizers: [\""+fin+"\"], annotations: {virtualmachinev0/node_name: node-c}}\nspec: {requestVcpus: \"1\", limitVcpus: \"1\", requestMemory: 1G, limitMemory: 1G, blockStorageIDs: [bs1]}")
	create("out", api.MigrationStatus{Phase: api.MigrationCleaningUp, SourceNode: "node-b", TargetNode: "node-c", Disks: disk})
	testenv.Eventually(t, wait, func() (bool, string) {
		return mustGet(t, migs, sc, "out").Status.SourceCleaned && vms.has("remove vm1") && disks.has("remove bs1"), fmt.Sprintf("vm calls %v, disk calls %v", vms.String(), disks.String())
	})
	for _, k := range []*api.Kind{api.VirtualMachineKind, api.BlockStorageKind} {
		id := map[*api.Kind]string{api.VirtualMachineKind: "vm1", api.BlockStorageKind: "bs1"}[k]
		o, err := e.Client.Get(ctx, k, sc, id)
		if err != nil || slices.Contains(o.GetMeta().Finalizers, fin) {
			t.Fatalf("%s %s: %v, finalizers %v; want node-b's released", k.Name, id, err, o.GetMeta().Finalizers)
		}
	}
}

func mustGet(t *testing.T, c client.Resource[*api.Migration], sc client.Scope, id string) *api.Migration {
	t.Helper()
	m, err := c.Get(context.Background(), sc, id)
	if err != nil {
		t.Fatal(err)
	}
	return m
}
