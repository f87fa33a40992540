package storage

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/api/conditions"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/agent/downloadapi"
	"github.com/humstack/humstack/internal/agent/system"
	"github.com/humstack/humstack/internal/controller"
	"github.com/humstack/humstack/internal/host/qcow2"
	"github.com/humstack/humstack/internal/testenv"
)

const testSecret = "0123456789abcdef0123"

// node is one node's driver with its own directories.
type node struct {
	*Driver
	dir, imageDir string
}

func newNode(t testing.TB, env *testenv.Env, name, secret, host string) node {
	t.Helper()
	testenv.RequireCommands(t, qcow2.Binary)
	dir, img := t.TempDir(), t.TempDir()
	d := New(Config{Node: name, Dir: dir, ImageDir: img, Client: env.Client, Secret: secret, DownloadHost: host, RetryAfter: 200 * time.Millisecond})
	return node{d, dir, img}
}

func imageDisk(id, tag, limit string) *api.BlockStorage {
	bs := disk(id, api.BlockStorageFromBaseImage, "", limit)
	bs.Spec.From.BaseImage = &api.BlockStorageBaseImage{ImageName: "img", Tag: tag}
	return bs
}

// recordEntity records e1 as made on node holder with the sha256 of file.
// holdEntity makes image entity e1's file on n1 (a 32 MiB qcow2) and
// records n1, reachable at host, as its Available holder; it returns the
// file and its sha256.
func holdEntity(ctx context.Context, t testing.TB, env *testenv.Env, n1 node, host string) (file, sum string) {
	t.Helper()
	entFile := n1.EntityFile("g", "e1")
	if err := os.MkdirAll(filepath.Dir(entFile), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := qcow2.Create(ctx, entFile, 32<<20, ""); err != nil {
		t.Fatal(err)
	}
	sum, err := hashFile(entFile)
	if err != nil {
		t.Fatal(err)
	}
	recordEntity(t, env, "n1", host, sum)
	return entFile, sum
}

func recordEntity(t testing.TB, env *testenv.Env, holder, host, sum string) {
	t.Helper()
	ents := client.For[*api.ImageEntity](env.Client)
	e, err := ents.Get(context.Background(), client.Scope{Group: "g"}, "e1")
	if err != nil {
		t.Fatal(err)
	}
	e.Status = api.ImageEntityStatus{State: EntityAvailable, Node: holder, SHA256: sum, DownloadHost: host}
	if _, err := ents.UpdateStatus(context.Background(), e); err != nil {
		t.Fatal(err)
	}
}

func seedObjects(t testing.TB, env *testenv.Env) {
	env.Create(t, "meta: {apiType: corev0/group, id: g}")
	env.Create(t, "meta: {apiType: corev0/namespace, id: ns, group: g}")
}

// TestBaseImageDisks: a disk from an image is an overlay of the entity's
// file on the node that holds it, and of a cached copy fetched once through
// the holder's download API elsewhere; the cache goes with its last disk.
// It waits for a missing image, tag or entity, and fails on a wrong
// sha256, a missing secret or an image larger than the disk.
func TestBaseImageDisks(t *testing.T) {
	env := testenv.Start(t)
	seedObjects(t, env)
	ctx := context.Background()

	var served atomic.Int32
	var n1 node
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		downloadapi.Handler(testSecret, n1, slog.New(slog.DiscardHandler)).ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	n1 = newNode(t, env, "n1", testSecret, u.Host)
	n2 := newNode(t, env, "n2", testSecret, "")

	// Dependencies wait, naming what is missing.
	for _, step := range []struct{ create, want string }{
		{"", "waiting for image g/img"},
		{"meta: {apiType: systemv0/image, id: img, group: g}\nspec: {entityMap: {v0: other}}", `waiting for tag "v1"`},
		{"", ""},
	} {
		if step.create != "" {
			env.Create(t, step.create)
		}
		if step.want == "" {
			break
		}
		bs := imageDisk("wait", "v1", "64M")
		until(t, n1.Driver, bs, StatePending, nil)
		if !strings.Contains(bs.Status.Message, step.want) {
			t.Fatalf("message %q, want %q", bs.Status.Message, step.want)
		}
	}
	imgs := client.For[*api.Image](env.Client)
	im, _ := imgs.Get(ctx, client.Scope{Group: "g"}, "img")
	im.Spec.EntityMap = map[string]string{"v1": "e1"}
	if _, err := imgs.Update(ctx, im); err != nil {
		t.Fatal(err)
	}
	env.Create(t, "meta: {apiType: systemv0/imageentity, id: e1, group: g}\nspec: {source: {namespace: ns, blockStorageID: src}}")
	bs := imageDisk("wait", "v1", "64M")
	until(t, n1.Driver, bs, StatePending, nil)
	if !strings.Contains(bs.Status.Message, "waiting for image entity g/e1 to be Available") {
		t.Fatalf("message %q", bs.Status.Message)
	}

	// The entity's file, on n1: a 32 MiB qcow2 with some data.
	entFile, sum := holdEntity(ctx, t, env, n1, u.Host)

	// On the holder: an overlay of the entity's own file.
	local := imageDisk("local", "v1", "64M")
	until(t, n1.Driver, local, StateActive, nil)
	checkOverlay(t, n1.Path("g", "ns", "local"), 64<<20, entFile)
	if local.Status.ImageEntity != "e1" {
		t.Fatalf("status.imageEntity %q", local.Status.ImageEntity)
	}

	// Elsewhere: fetched once into the cache, shared by two disks.
	a, b := imageDisk("a", "v1", "64M"), imageDisk("b", "v1", "1G")
	until(t, n2.Driver, a, StateActive, nil)
	until(t, n2.Driver, b, StateActive, nil)
	cached := n2.cachedFile("g", "e1", sum)
	checkOverlay(t, n2.Path("g", "ns", "a"), 64<<20, cached)
	checkOverlay(t, n2.Path("g", "ns", "b"), 1<<30, cached)
	if got, _ := hashFile(cached); got != sum {
		t.Fatalf("cached copy sha256 %s, want %s", got, sum)
	}
	if n := served.Load(); n != 1 {
		t.Fatalf("the holder served %d requests, want 1 (one fetch per node)", n)
	}
	if err := n2.Remove(ctx, a); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(cached); err != nil {
		t.Fatalf("cache removed while disk b still uses it: %v", err)
	}
	if err := n2.Remove(ctx, b); err != nil {
		t.Fatal(err)
	}
	if f := append(files(t, n2.dir), files(t, n2.imageDir)...); len(f) != 0 {
		t.Fatalf("n2 left %v after its last disk went", f)
	}

	// Too small a disk for the image.
	small := imageDisk("small", "v1", "16M")
	until(t, n1.Driver, small, StateError, nil)
	if !strings.Contains(small.Status.Message, "larger than spec.limitSize") {
		t.Fatalf("message %q", small.Status.Message)
	}

	// A node without the secret cannot fetch.
	n3 := newNode(t, env, "n3", "", "")
	c := imageDisk("c", "v1", "64M")
	until(t, n3.Driver, c, StateError, nil)
	if !strings.Contains(c.Status.Message, "no downloadAPI secret") {
		t.Fatalf("message %q", c.Status.Message)
	}

	// A wrong sha256 in the API: the fetched copy is discarded.
	recordEntity(t, env, "n1", u.Host, strings.Repeat("ab", 32))
	d := imageDisk("d", "v1", "64M")
	until(t, n2.Driver, d, StateError, nil)
	if !strings.Contains(d.Status.Message, "sha256") {
		t.Fatalf("message %q", d.Status.Message)
	}
	if f := append(files(t, n2.dir), files(t, n2.imageDir)...); len(f) != 0 {
		t.Fatalf("a failed fetch left %v", f)
	}
}

func checkOverlay(t *testing.T, path string, size int64, backing string) {
	t.Helper()
	img, err := qcow2.Info(context.Background(), path)
	if err != nil || img.Format != qcow2.FormatQCOW2 || img.VirtualSize != size || img.BackingFile != backing {
		t.Fatalf("disk %s: %+v, %v; want a qcow2 of %d on %s", path, img, err, size, backing)
	}
}

// TestImageEntityLifecycle runs the real controllers of one node: an
// entity copies an Active disk and records its sha256; a disk made from it
// keeps the entity from being deleted (Deleting, naming the disk) until
// the disk is gone; then the entity's file goes too.
func TestImageEntityLifecycle(t *testing.T) {
	env := testenv.Start(t)
	seedObjects(t, env)
	n := newNode(t, env, "n1", "", "")
	stop := env.Run(t, func(m *controller.Manager) error {
		opts := controller.Options{Resync: time.Second}
		if err := system.Setup(m, system.Options{Node: "n1", Resync: time.Second, Drivers: map[*api.Kind]system.Driver{api.BlockStorageKind: n.Driver}}); err != nil {
			return err
		}
		SetupImageEntities(m, n.Driver, opts)
		return nil
	})
	defer stop()
	ctx := context.Background()
	on := "annotations: {blockstoragev0/type: Local, blockstoragev0/node_name: n1}"
	env.Create(t, "meta: {apiType: systemv0/imageentity, id: e1, group: g}\nspec: {source: {namespace: ns, blockStorageID: src}}")
	env.Create(t, "meta: {apiType: systemv0/image, id: img, group: g}\nspec: {entityMap: {v1: e1}}")
	env.Create(t, "meta: {apiType: systemv0/blockstorage, id: child, group: g, namespace: ns, "+on+"}\nspec: {requestSize: 1G, limitSize: 1G, from: {type: BaseImage, baseImage: {imageName: img, tag: v1}}}")
	env.Create(t, "meta: {apiType: systemv0/blockstorage, id: src, group: g, namespace: ns, "+on+"}\nspec: {requestSize: 256M, limitSize: 256M, from: {type: Empty}}")

	ents := client.For[*api.ImageEntity](env.Client)
	disks := client.For[*api.BlockStorage](env.Client)
	gs, sc := client.Scope{Group: "g"}, client.Scope{Group: "g", Namespace: "ns"}
	var ent *api.ImageEntity
	testenv.Eventually(t, 20*time.Second, func() (bool, string) {
		ent, _ = ents.Get(ctx, gs, "e1")
		return ent != nil && ent.Status.State == EntityAvailable, "entity not Available"
	})
	want, err := hashFile(n.EntityFile("g", "e1"))
	if err != nil || ent.Status.SHA256 != want || ent.Status.Node != "n1" || ent.Status.Size == 0 {
		t.Fatalf("entity status %+v; file sha256 %s, %v", ent.Status, want, err)
	}
	for typ, reason := range map[string]string{api.ConditionCopied: "Hashed", api.ConditionReady: EntityAvailable} {
		if c := conditions.Find(ent.Status.Conditions, typ); c == nil || c.Status != api.ConditionTrue || c.Reason != reason || c.ObservedGeneration != 1 {
			t.Fatalf("entity condition %s: %+v", typ, c)
		}
	}
	// The child waited for the entity and is made from it without any event
	// of its own.
	testenv.Eventually(t, 20*time.Second, func() (bool, string) {
		c, _ := disks.Get(ctx, sc, "child")
		return c != nil && c.Status.State == StateActive, "child disk not Active"
	})
	if c, _ := disks.Get(ctx, sc, "child"); !conditions.IsTrue(c.Status.Conditions, api.ConditionContentReady) ||
		conditions.Find(c.Status.Conditions, api.ConditionContentReady).Reason != "OverlayCreated" ||
		!conditions.IsTrue(c.Status.Conditions, api.ConditionReady) {
		t.Fatalf("child disk conditions %+v", c.Status.Conditions)
	}
	checkOverlay(t, n.Path("g", "ns", "child"), 1<<30, n.EntityFile("g", "e1"))
	if c, _ := disks.Get(ctx, sc, "child"); c.Status.ImageEntity != "e1" {
		t.Fatalf("child status %+v, want imageEntity e1", c.Status)
	}

	if _, err := ents.Delete(ctx, gs, "e1", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 20*time.Second, func() (bool, string) {
		e, _ := ents.Get(ctx, gs, "e1")
		return e != nil && e.Status.State == EntityDeleting && strings.Contains(e.Status.Message, "ns/child"), "entity not Deleting naming ns/child"
	})
	if _, err := os.Stat(n.EntityFile("g", "e1")); err != nil {
		t.Fatalf("entity file removed while a disk uses it: %v", err)
	}
	if _, err := disks.Delete(ctx, sc, "child", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 30*time.Second, func() (bool, string) {
		_, err := ents.Get(ctx, gs, "e1")
		return err != nil, "entity not gone after its last disk"
	})
	if f := files(t, n.imageDir); len(f) != 0 {
		t.Fatalf("image dir still has %v", f)
	}
}
