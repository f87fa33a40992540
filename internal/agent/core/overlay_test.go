package core_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/agent/core"
	"github.com/humstack/humstack/internal/agent/system"
	"github.com/humstack/humstack/internal/agent/system/systemtest"
	"github.com/humstack/humstack/internal/controller"
	"github.com/humstack/humstack/internal/testenv"
)

// holdingDriver is a fake whose Remove refuses while hold is set, like a
// VM that takes its time to shut down.
type holdingDriver struct {
	*systemtest.Fake
	hold atomic.Bool
}

func (d *holdingDriver) Remove(ctx context.Context, obj api.Object) error {
	if d.hold.Load() {
		return errors.New("held by the test")
	}
	return d.Fake.Remove(ctx, obj)
}

// entityHolder keeps an image entity, as the storage agent does, while a
// disk of its group is an overlay of it (status.imageEntity), saying so.
type entityHolder struct {
	c           *client.Client
	ents, disks *controller.Informer
}

const holderFinalizer = api.FinalizerNodePrefix + "w1"

func (h *entityHolder) Reconcile(ctx context.Context, key controller.Key) (controller.Result, error) {
	o, ok := h.ents.Get(key)
	if !ok {
		return controller.Result{}, nil
	}
	ent := o.(*api.ImageEntity)
	if !ent.Meta.Deleting() {
		_, err := controller.AddFinalizer(ctx, h.c, ent, holderFinalizer)
		return controller.Result{}, err
	}
	var users []string
	for _, d := range h.disks.List() {
		if bs := d.(*api.BlockStorage); bs.Meta.Group == key.Group && bs.Status.ImageEntity == key.ID {
			users = append(users, bs.Meta.Namespace+"/"+bs.Meta.ID)
		}
	}
	if len(users) == 0 {
		return controller.Result{}, controller.RemoveFinalizer(ctx, h.c, ent, holderFinalizer)
	}
	slices.Sort(users)
	_, err := controller.UpdateStatus(ctx, h.c, ent, func(e *api.ImageEntity) bool {
		e.Status.State, e.Status.Message = "Deleting", "in use as the backing file of disks "+strings.Join(users, ", ")
		return true
	})
	return controller.Result{}, err
}

// TestGroupDeletionWithOverlaysOnTwoNodes is issue 14's deadlock in
// process: the group's entity is the backing file of disks in two
// namespaces on two nodes, one attached to a VM whose teardown is held.
// Deleting only the group waits, its status naming the VM and why, and
// never removes the disk before the VM; once the VM may go, everything
// goes, the disks before the entity.
func TestGroupDeletionWithOverlaysOnTwoNodes(t *testing.T) {
	e := testenv.Start(t)
	vms := &holdingDriver{Fake: systemtest.NewFake()}
	disks := systemtest.NewFake()
	e.Run(t, func(m *controller.Manager) error {
		for _, node := range []string{"w1", "w2"} {
			drivers := map[*api.Kind]system.Driver{api.VirtualMachineKind: vms, api.BlockStorageKind: disks}
			if err := system.Setup(m, system.Options{Node: node, Drivers: drivers}); err != nil {
				return err
			}
		}
		h := &entityHolder{c: m.Client, ents: m.Informer(api.ImageEntityKind, "", nil), disks: m.Informer(api.BlockStorageKind, "", nil)}
		ctl := controller.New("entity-holder", h.ents, h, controller.Options{})
		ctl.Watch(h.disks, func(o api.Object) []controller.Key {
			return []controller.Key{{Group: o.GetMeta().Group, ID: o.(*api.BlockStorage).Status.ImageEntity}}
		})
		m.Add(ctl)
		return core.Setup(m, core.Options{})
	})
	e.Create(t, "meta: {apiType: corev0/group, id: g}")
	e.Create(t, "meta: {apiType: systemv0/imageentity, id: ie, group: g}\nspec: {source: {namespace: a, blockStorageID: src}}")
	e.Create(t, "meta: {apiType: systemv0/image, id: img, group: g}\nspec: {entityMap: {v1: ie}}")
	for i, ns := range []string{"a", "b"} {
		node := fmt.Sprintf("w%d", i+1)
		e.Create(t, "meta: {apiType: corev0/namespace, id: "+ns+", group: g}")
		e.Create(t, "meta: {apiType: systemv0/blockstorage, id: bs, group: g, namespace: "+ns+", annotations: {"+api.AnnotationBlockStorageNode+": "+node+"}}\n"+
			"spec: {requestSize: 1G, limitSize: 1G, from: {type: BaseImage, baseImage: {imageName: img, tag: v1}}}")
	}
	e.Create(t, "meta: {apiType: systemv0/virtualmachine, id: vm, group: g, namespace: a, annotations: {"+api.AnnotationVirtualMachineNode+": w1}}\n"+
		"spec: {requestVcpus: 1, limitVcpus: 1, requestMemory: 1G, limitMemory: 1G, blockStorageIDs: [bs]}")
	testenv.Eventually(t, wait, func() (bool, string) {
		return disks.Len() == 2 && vms.Len() == 1, fmt.Sprintf("%d disks, %d VMs realized", disks.Len(), vms.Len())
	})
	ctx := context.Background()
	for _, ns := range []string{"a", "b"} { // both disks are overlays of ie
		bs, err := client.For[*api.BlockStorage](e.Client).Get(ctx, client.Scope{Group: "g", Namespace: ns}, "bs")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := controller.UpdateStatus(ctx, e.Client, bs, func(b *api.BlockStorage) bool {
			b.Status.ImageEntity = "ie"
			return true
		}); err != nil {
			t.Fatal(err)
		}
	}
	vms.hold.Store(true)
	deleted := recordDeletions(t, e)
	if _, err := e.Client.Delete(ctx, api.GroupKind, client.Scope{}, "g", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	want := "waiting for namespace g/a (Deleting): waiting for virtualmachine a/vm (Deleting): waiting: held by the test"
	testenv.Eventually(t, wait, func() (bool, string) {
		g, err := client.For[*api.Group](e.Client).Get(ctx, client.Scope{}, "g")
		if err != nil {
			return false, err.Error()
		}
		return g.Status.State == api.ParentDeleting && g.Status.Message == want,
			fmt.Sprintf("group status %+v, want message %q", g.Status, want)
	})
	if !disks.Has(controller.Key{Group: "g", Namespace: "a", ID: "bs"}) {
		t.Fatal("the VM's disk was removed while the VM was still there")
	}
	if ev := e.WaitEvent(t, "g", "DeletionWaiting"); ev.Spec.InvolvedObject.APIType != api.GroupKind.APIType ||
		ev.Spec.Source.Component != "group-cascade" {
		t.Errorf("DeletionWaiting event: %+v", ev.Spec)
	}
	vms.hold.Store(false)
	testenv.Eventually(t, wait, func() (bool, string) {
		seen := slices.ContainsFunc(deleted(), func(d deletion) bool { return d.kind == "group" })
		return seen, fmt.Sprintf("group g not deleted; deleted so far %v", deleted())
	})
	if disks.Len() != 0 || vms.Len() != 0 {
		t.Fatalf("left on the hosts: %d disks, %d VMs", disks.Len(), vms.Len())
	}
	at := map[string]int64{}
	for _, d := range deleted() {
		at[d.kind+" "+d.key] = d.rev
	}
	for _, pair := range [][2]string{
		{"virtualmachine g/a/vm", "blockstorage g/a/bs"},
		{"blockstorage g/a/bs", "imageentity g/ie"},
		{"blockstorage g/b/bs", "imageentity g/ie"},
		{"imageentity g/ie", "group g"},
	} {
		if at[pair[0]] == 0 || at[pair[0]] >= at[pair[1]] {
			t.Errorf("%s (rev %d) must go before %s (rev %d)", pair[0], at[pair[0]], pair[1], at[pair[1]])
		}
	}
}
