package storage

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/agent/downloadapi"
	"github.com/humstack/humstack/internal/host/qcow2"
	"github.com/humstack/humstack/internal/testenv"
)

// TestReceiveStaleCopy: a disk file on the target that an earlier
// migration left (deleted before its switch, forgotten in a restart of
// the target's agent) is not taken for this migration's copy: it is
// replaced by a fresh copy from the source, which is then found complete
// for this migration only. A disk placed on the target is never replaced.
func TestReceiveStaleCopy(t *testing.T) {
	env := testenv.Start(t)
	seedObjects(t, env)
	ctx := context.Background()
	var n1 node
	srv := httptest.NewServer(downloadapi.Handler(testSecret, dirOf{&n1}, slog.New(slog.DiscardHandler)))
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	n1 = newNode(t, env, "n1", testSecret, u.Host)
	n2 := newNode(t, env, "n2", testSecret, "")
	for _, n := range []node{n1, n2} {
		p := n.Path("g", "ns", "d")
		if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
			t.Fatal(err)
		}
	}
	// The source's current disk: 64 MiB. The stale copy on the target of
	// an earlier migration m0: 16 MiB.
	if err := qcow2.Create(ctx, n1.Path("g", "ns", "d"), 64<<20, ""); err != nil {
		t.Fatal(err)
	}
	stale := n2.Path("g", "ns", "d")
	if err := qcow2.Create(ctx, stale, 16<<20, ""); err != nil {
		t.Fatal(err)
	}
	size := func() int64 {
		t.Helper()
		info, err := qcow2.Info(ctx, stale)
		if err != nil {
			t.Fatal(err)
		}
		return info.VirtualSize
	}
	mig := func(id, uid string) *api.Migration {
		return &api.Migration{Meta: api.Meta{Group: "g", Namespace: "ns", ID: id, UID: uid},
			Status: api.MigrationStatus{SourceNode: "n1", TargetNode: "n2"}}
	}
	disk := api.MigrationDisk{ID: "d", SourceHost: u.Host}
	if err := os.WriteFile(markPath(stale), []byte(migrationMark(mig("m0", "u0"))), 0o640); err != nil {
		t.Fatal(err)
	}
	// Unmarked, or marked for another migration (also one of the same id,
	// made again): copied afresh.
	for i, m := range []*api.Migration{mig("m0", "u1"), mig("m1", "u2")} {
		got := receiveUntil(t, n2.Driver, m, disk)
		if got.State != api.MigrationDiskCopied {
			t.Fatalf("migration %d: %+v", i, got)
		}
		if s := size(); s != 64<<20 {
			t.Fatalf("migration %d: the target's copy has %d bytes, want the source's 64 MiB: the stale copy was kept", i, s)
		}
		if err := qcow2.Create(ctx, stale, 16<<20, ""); err != nil { // stale again for the next
			t.Fatal(err)
		}
	}
	os.Remove(markPath(stale))
	if got := receiveUntil(t, n2.Driver, mig("m2", "u3"), disk); got.State != api.MigrationDiskCopied || size() != 64<<20 {
		t.Fatalf("unmarked stale copy: %+v, %d bytes", got, size())
	}
	// The copy of this migration is found complete, and kept.
	if err := qcow2.Create(ctx, n1.Path("g", "ns", "d"), 32<<20, ""); err != nil {
		t.Fatal(err)
	}
	if got := n2.Receive(ctx, mig("m2", "u3"), disk); got.State != api.MigrationDiskCopied || size() != 64<<20 {
		t.Fatalf("this migration's own copy: %+v, %d bytes", got, size())
	}
	// A disk placed on n2: its file is its data, never replaced.
	env.Create(t, "meta: {apiType: systemv0/blockstorage, id: d, group: g, namespace: ns, annotations: {blockstoragev0/node_name: n2}}\nspec: {requestSize: 1G, limitSize: 1G, from: {type: Empty}}")
	if got := n2.Receive(ctx, mig("m3", "u4"), disk); got.State != api.MigrationDiskFailed || size() != 64<<20 {
		t.Fatalf("a disk placed on the target: %+v, %d bytes", got, size())
	}
}
