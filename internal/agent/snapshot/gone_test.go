package snapshot

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/controller"
	"github.com/humstack/humstack/internal/testenv"
)

// TestFetchOfGoneSnapshotLeavesNoCache: a fetch that ends after its
// snapshot was deleted (here: asked for with an old copy after this
// node's informer saw the deletion and dropped the cache) removes what it
// fetched and says the snapshot is gone, instead of leaving a cache
// directory nothing would ever remove.
func TestFetchOfGoneSnapshotLeavesNoCache(t *testing.T) {
	env := testenv.Start(t)
	seed(t, env)
	n2 := startNode(t, env, "n2")
	content := []byte("the disk file of a snapshot held by node n9")
	holder := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(content) }))
	t.Cleanup(holder.Close)
	u, _ := url.Parse(holder.URL)
	ctx := context.Background()
	snapshotOf(t, env, "s1", "{blockStorageID: elsewhere}")
	snaps := client.For[*api.Snapshot](env.Client)
	s, err := snaps.Get(ctx, sc, "s1")
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(content)
	s, err = controller.UpdateStatus(ctx, env.Client, s, func(s *api.Snapshot) bool {
		s.Status.State, s.Status.Node, s.Status.DownloadHost = api.SnapshotReady, "n9", u.Host
		s.Status.Disks = []api.SnapshotFile{{File: "disk0.qcow2", BlockStorageID: "elsewhere", Size: int64(len(content)), SHA256: hex.EncodeToString(sum[:])}}
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 10*time.Second, func() (bool, string) {
		o, ok := n2.snaps.snaps.Get(controller.KeyOf(s))
		return ok && o.(*api.Snapshot).Status.State == api.SnapshotReady, "n2 does not see s1 Ready"
	})
	if _, err := snaps.Delete(ctx, sc, "s1", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 10*time.Second, func() (bool, string) {
		_, ok := n2.snaps.snaps.Get(controller.KeyOf(s))
		return !ok, "n2 still sees s1"
	})
	time.Sleep(200 * time.Millisecond) // its deletion reconciled (nothing to drop yet)
	_, _, err = n2.snaps.Local(ctx, s)
	if !errors.Is(err, api.ErrNotFound) {
		t.Errorf("Local of a deleted snapshot: %v, want ErrNotFound", err)
	}
	time.Sleep(time.Second) // a resync would not drop it either: the snapshot is unknown
	if _, err := os.Stat(n2.snaps.CacheDir(&s.Meta)); err == nil {
		t.Errorf("the cache of deleted snapshot s1 stays: %s", n2.snaps.CacheDir(&s.Meta))
	}
}
