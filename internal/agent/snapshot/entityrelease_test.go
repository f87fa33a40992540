package snapshot

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/host/qcow2"
	"github.com/humstack/humstack/internal/testenv"
)

// TestCachedEntityReleasedWithSnapshotCache: the image entity n2 fetched
// only to rebase a snapshot's cached disk file on goes when the snapshot's
// cache goes (no disk of n2 uses it).
func TestCachedEntityReleasedWithSnapshotCache(t *testing.T) {
	env := testenv.Start(t)
	seed(t, env)
	startNode(t, env, "n1")
	n2 := startNode(t, env, "n2")
	ctx := context.Background()
	makeDisk(t, env, "src", "n1")
	env.Create(t, "meta: {apiType: systemv0/imageentity, id: e1, group: g}\nspec: {source: {namespace: ns, blockStorageID: src}}")
	env.Create(t, "meta: {apiType: systemv0/image, id: img, group: g}\nspec: {entityMap: {v1: e1}}")
	env.Create(t, "meta: {apiType: systemv0/blockstorage, id: d1, group: g, namespace: ns, annotations: {blockstoragev0/type: Local, blockstoragev0/node_name: n1}}\n"+
		"spec: {requestSize: 64M, limitSize: 64M, from: {type: BaseImage, baseImage: {imageName: img, tag: v1}}}")
	waitDisk(t, env, "d1", func(bs *api.BlockStorage) bool { return bs.Status.State == "Active" })
	snapshotOf(t, env, "s1", "{blockStorageID: d1}")
	s1 := waitSnap(t, env, "s1", api.SnapshotReady)
	makeDisk(t, env, "d2", "n2")
	restore(t, env, api.BlockStorageKind, "d2", api.RestoreValue("ns", "s1", "t1"))
	waitDisk(t, env, "d2", func(bs *api.BlockStorage) bool { return bs.Status.Snapshot == "ns/s1" })
	cached := filepath.Join(n2.snaps.CacheDir(&s1.Meta), "disk0.qcow2")
	img, err := qcow2.Info(ctx, cached)
	if err != nil {
		t.Fatal(err)
	}
	client.For[*api.BlockStorage](env.Client).Delete(ctx, sc, "d2", client.DeleteOptions{})
	client.For[*api.Snapshot](env.Client).Delete(ctx, sc, "s1", client.DeleteOptions{})
	testenv.Eventually(t, 30*time.Second, func() (bool, string) {
		_, err := os.Stat(n2.snaps.CacheDir(&s1.Meta))
		return err != nil, "cache not gone"
	})
	if !strings.Contains(img.BackingFile, ".cache") {
		t.Fatalf("n2's cached snapshot file is an overlay of %s, not of a cached entity", img.BackingFile)
	}
	testenv.Eventually(t, 10*time.Second, func() (bool, string) {
		_, err := os.Stat(img.BackingFile)
		return err != nil, fmt.Sprintf("n2's cached entity %s stays after the snapshot's cache is gone (no disk uses it)", img.BackingFile)
	})
}
