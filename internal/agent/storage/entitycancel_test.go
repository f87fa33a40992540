package storage

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/agent/system"
	"github.com/humstack/humstack/internal/controller"
	"github.com/humstack/humstack/internal/testenv"
)

// TestEntityInTheMakingDoesNotHoldItsSourceDisk: an image entity whose copy
// from a disk has not finished (here queued behind a download holding the
// node's only transfer slot) does not hold the disk up: deleting the disk
// cancels the copy, the entity says its source went, and it can still be
// deleted, leaving no file. (Before, the entity was nobody's once its
// source disk had gone and its deletion never finished: a group deletion
// that removes its namespaces first would wait forever on it.)
func TestEntityInTheMakingDoesNotHoldItsSourceDisk(t *testing.T) {
	env := testenv.Start(t)
	seedObjects(t, env)
	n := newNode(t, env, "n1", "", "")
	srv, release, _ := gated(1 << 20)
	defer srv.Close()
	defer close(release)
	env.Run(t, func(m *controller.Manager) error {
		if err := system.Setup(m, system.Options{Node: "n1", Drivers: map[*api.Kind]system.Driver{api.BlockStorageKind: n.Driver}}); err != nil {
			return err
		}
		SetupImageEntities(m, n.Driver, controller.Options{})
		return nil
	})
	ctx := context.Background()
	on := "annotations: {blockstoragev0/type: Local, blockstoragev0/node_name: n1}"
	env.Create(t, "meta: {apiType: systemv0/blockstorage, id: src, group: g, namespace: ns, "+on+"}\nspec: {requestSize: 64M, limitSize: 64M, from: {type: Empty}}")
	disks := client.For[*api.BlockStorage](env.Client)
	ents := client.For[*api.ImageEntity](env.Client)
	gs, sc := client.Scope{Group: "g"}, client.Scope{Group: "g", Namespace: "ns"}
	testenv.Eventually(t, 20*time.Second, func() (bool, string) {
		bs, _ := disks.Get(ctx, sc, "src")
		return bs != nil && bs.Status.State == StateActive, "src not Active"
	})
	// The download takes the node's one transfer slot and keeps it.
	env.Create(t, "meta: {apiType: systemv0/blockstorage, id: dl, group: g, namespace: ns, "+on+"}\nspec: {requestSize: 64M, limitSize: 64M, from: {type: HTTP, http: {url: '"+srv.URL+"'}}}")
	testenv.Eventually(t, 20*time.Second, func() (bool, string) {
		bs, _ := disks.Get(ctx, sc, "dl")
		return bs != nil && bs.Status.State == StateDownloading, "dl not Downloading"
	})
	env.Create(t, "meta: {apiType: systemv0/imageentity, id: e2, group: g}\nspec: {source: {namespace: ns, blockStorageID: src}}")
	testenv.Eventually(t, 20*time.Second, func() (bool, string) {
		e, _ := ents.Get(ctx, gs, "e2")
		return e != nil && strings.Contains(e.Status.Message, "transfer slot"), "e2 not queued for its copy"
	})

	if _, err := disks.Delete(ctx, sc, "src", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 20*time.Second, func() (bool, string) {
		_, err := disks.Get(ctx, sc, "src")
		e, _ := ents.Get(ctx, gs, "e2")
		return err != nil && e != nil && e.Status.State == EntityError && strings.Contains(e.Status.Message, "is gone"),
			"src not gone, or e2 not saying its source went"
	})
	if _, err := ents.Delete(ctx, gs, "e2", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 20*time.Second, func() (bool, string) {
		_, err := ents.Get(ctx, gs, "e2")
		return err != nil, "e2 not gone"
	})
	if f := files(t, n.imageDir); len(f) != 0 {
		t.Fatalf("image dir still has %v", f)
	}
}
