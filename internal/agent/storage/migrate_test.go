package storage

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/agent/downloadapi"
	"github.com/humstack/humstack/internal/host/qcow2"
	"github.com/humstack/humstack/internal/testenv"
)

// receiveUntil calls Receive until the disk's copy is no longer under way.
func receiveUntil(t *testing.T, d *Driver, mig *api.Migration, disk api.MigrationDisk) api.MigrationDisk {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		got := d.Receive(context.Background(), mig, disk)
		if got.State != api.MigrationDiskCopying || time.Now().After(deadline) {
			return got
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestReceive: the target of a migration copies an overlay of an image
// entity from the source and rebases it onto its own cached copy of the
// entity (fetched, hash checked), or onto the entity's file where it holds
// the entity; a plain disk is copied as it is; a disk
// whose backing file the migration does not expect is refused; Drop
// removes a copy and the cached image only it used.
func TestReceive(t *testing.T) {
	env := testenv.Start(t)
	seedObjects(t, env)
	env.Create(t, "meta: {apiType: systemv0/imageentity, id: e1, group: g}\nspec: {source: {namespace: ns, blockStorageID: src}}")
	ctx := context.Background()
	var n1 node
	srv := httptest.NewServer(downloadapi.Handler(testSecret, dirOf{&n1}, slog.New(slog.DiscardHandler)))
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	n1 = newNode(t, env, "n1", testSecret, u.Host)
	n2 := newNode(t, env, "n2", testSecret, "")
	entFile, sum := holdEntity(ctx, t, env, n1, u.Host)
	for id, backing := range map[string]string{"over": entFile, "plain": ""} {
		p := n1.Path("g", "ns", id)
		if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
			t.Fatal(err)
		}
		if err := qcow2.Create(ctx, p, 64<<20, backing); err != nil {
			t.Fatal(err)
		}
	}
	mig := &api.Migration{Meta: api.Meta{Group: "g", Namespace: "ns", ID: "m1"},
		Status: api.MigrationStatus{SourceNode: "n1", TargetNode: "n2"}}

	got := receiveUntil(t, n2.Driver, mig, api.MigrationDisk{ID: "over", ImageEntity: "e1", SourceHost: u.Host})
	if got.State != api.MigrationDiskCopied {
		t.Fatalf("overlay: %+v", got)
	}
	cached := n2.cachedFile("g", "e1", sum)
	info, err := qcow2.Info(ctx, n2.Path("g", "ns", "over"))
	if err != nil || info.BackingFile != cached || info.VirtualSize != 64<<20 {
		t.Fatalf("the overlay's copy: %+v (%v); want an overlay of %s", info, err, cached)
	}
	// Back to the node that holds the entity: rebased onto the entity's
	// own file there (n2's copy, under another name, is the source).
	srv2 := httptest.NewServer(downloadapi.Handler(testSecret, dirOf{&n2}, slog.New(slog.DiscardHandler)))
	t.Cleanup(srv2.Close)
	u2, _ := url.Parse(srv2.URL)
	back := n2.Path("g", "ns2", "back")
	if err := os.MkdirAll(filepath.Dir(back), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(n2.Path("g", "ns", "over"), back); err != nil {
		t.Fatal(err)
	}
	mig2 := &api.Migration{Meta: api.Meta{Group: "g", Namespace: "ns2", ID: "m2"},
		Status: api.MigrationStatus{SourceNode: "n2", TargetNode: "n1"}}
	if got := receiveUntil(t, n1.Driver, mig2, api.MigrationDisk{ID: "back", ImageEntity: "e1", SourceHost: u2.Host}); got.State != api.MigrationDiskCopied {
		t.Fatalf("back to the holder: %+v", got)
	}
	if info, err := qcow2.Info(ctx, n1.Path("g", "ns2", "back")); err != nil || info.BackingFile != entFile {
		t.Fatalf("the copy on the holder: %+v (%v); want an overlay of %s", info, err, entFile)
	}
	os.Remove(back)
	if got := receiveUntil(t, n2.Driver, mig, api.MigrationDisk{ID: "plain", SourceHost: u.Host}); got.State != api.MigrationDiskCopied {
		t.Fatalf("plain: %+v", got)
	}
	if info, err := qcow2.Info(ctx, n2.Path("g", "ns", "plain")); err != nil || info.BackingFile != "" {
		t.Fatalf("the plain disk's copy: %+v (%v)", info, err)
	}
	// The overlay, claimed to be a plain disk: refused, nothing kept.
	odd := api.MigrationDisk{ID: "over", SourceHost: u.Host}
	os.Remove(n2.Path("g", "ns", "over"))
	if got := receiveUntil(t, n2.Driver, mig, odd); got.State != api.MigrationDiskFailed || !strings.Contains(got.Message, "backing file") {
		t.Fatalf("an unexpected backing file: %+v", got)
	}
	if _, err := os.Stat(n2.Path("g", "ns", "over")); err == nil {
		t.Fatal("a refused copy was kept")
	}
	// The overlay's copy is gone already (refused above): Drop still
	// releases the entity's cached copy that was fetched for it.
	for _, disk := range []api.MigrationDisk{{ID: "over", ImageEntity: "e1"}, {ID: "plain"}} {
		if err := n2.Drop(ctx, mig, disk); err != nil {
			t.Fatal(err)
		}
	}
	if left := filesUnder(t, n2.dir); len(left) != 0 {
		t.Fatalf("left after Drop: %v", left)
	}
	if _, err := os.Stat(cached); err == nil {
		t.Fatalf("cached image %s kept after its last disk was dropped", cached)
	}
}

// dirOf serves a node's files once the node is made.
type dirOf struct{ n *node }

func (d dirOf) BlockStorageFile(g, ns, id string) string { return d.n.Path(g, ns, id) }
func (d dirOf) ImageEntityFile(g, id string) string      { return d.n.EntityFile(g, id) }

func filesUnder(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(dir, func(p string, e os.DirEntry, err error) error {
		if err == nil && !e.IsDir() {
			out = append(out, p)
		}
		return nil
	})
	return out
}
