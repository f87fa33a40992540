package scenario_test

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/testenv"
)

// groupDeleteBound is how long deleting the whole seed-shaped group may
// take; it is measured and logged. (VMs get an ACPI shutdown first.)
const groupDeleteBound = 2 * time.Minute

// overlayOnB is a second disk from the image, on node-b where the entity
// is: the entity is then the backing file of disks on two nodes.
const overlayOnB = `meta:
  apiType: systemv0/blockstorage
  id: bs3
  group: group1
  namespace: ns1
  annotations: {blockstoragev0/node_name: node-b, blockstoragev0/type: Local}
spec:
  requestSize: 1G
  limitSize: 2G
  from: {type: BaseImage, baseImage: {imageName: tiny, tag: v1}}
`

// copyOfOverlay is an entity made from bs3, created just before the group
// is deleted, so it is still copying (or queued) when the group goes.
const copyOfOverlay = `meta:
  apiType: systemv0/imageentity
  id: ientity2
  group: group1
spec:
  source: {namespace: ns1, blockStorageID: bs3}
`

// waitLine is what `humcli get group` must show while the deletion waits:
// the kind, the object and a reason.
var waitLine = regexp.MustCompile(`waiting for [a-z]+ [a-z0-9-]+/[a-z0-9-]+( \([A-Za-z]+\))?: \S`)

// TestGroupDeletionLab builds the seed-shaped scenario (disk over HTTP ->
// image entity -> image -> disk from the image on the other node, VMs
// running on both disks, router, external IP), adds a second disk from the
// image on the entity's own node and an entity still copying from it, and
// deletes only the group: everything goes within groupDeleteBound, `humcli
// get group` says meanwhile what the deletion waits for, and no link,
// namespace, rule, file or process is left on any node.
func TestGroupDeletionLab(t *testing.T) {
	r := newRun(t)
	before, beforeFiles := r.snapshot(), r.agentFiles()

	r.apply("01-tenancy.yaml", "02-external.yaml", "03-network.yaml", "04-disk.yaml", "05-image.yaml")
	r.wait("imageentity", g1, "ientity1", "Available", 2*time.Minute)
	r.apply("06-disk-from-image.yaml", "07-virtualmachines.yaml", "08-virtualrouter.yaml")
	r.applyDoc("bs3.yaml", overlayOnB)
	r.wait("virtualmachine", ns1, "vm1", "Running", 2*time.Minute)
	r.wait("virtualmachine", ns1, "vm2", "Running", 2*time.Minute)
	r.wait("virtualrouter", ns1, "vrouter1", "Running", time.Minute)
	r.wait("blockstorage", ns1, "bs3", "Active", time.Minute)
	r.step("scenario up: VMs running on bs1 and on bs2 (from the image, node-c), bs3 from the image on node-b")

	r.applyDoc("ientity2.yaml", copyOfOverlay)
	r.untilCopying("ientity2", 10*time.Second)
	start := time.Now()
	r.humcli("delete", "group", "group1")
	r.logEntity("ientity2")
	seen := r.watchGroup(start)
	r.step("group gone")
	t.Logf("deleting group group1 took %v (bound %v); humcli get group showed %d waiting messages", time.Since(start).Round(time.Millisecond), groupDeleteBound, len(seen))
	for _, m := range seen {
		t.Logf("  %s", m)
	}
	if !slices.ContainsFunc(seen, waitLine.MatchString) {
		t.Errorf("humcli get group never said what the deletion waits for (kind, object, reason); it showed %q", seen)
	}
	if left := r.objects(); !slices.Equal(left, []string{"externalippool eippool"}) {
		t.Fatalf("after the group's deletion, left: %v (want only the cluster's pool)", left)
	}
	r.humcli("delete", "externalippool", "eippool")
	testenv.Eventually(t, 30*time.Second, func() (bool, string) {
		left := r.objects()
		return len(left) == 0, fmt.Sprintf("objects left: %v", left)
	})
	testenv.Eventually(t, 30*time.Second, func() (bool, string) {
		after := r.snapshot()
		return after == before, fmt.Sprintf("left behind:\nbefore:\n%s\nafter:\n%s", before, after)
	})
	if after := r.agentFiles(); !slices.Equal(after, beforeFiles) {
		t.Fatalf("files left under the agents' directories (image caches included):\nbefore %v\nafter  %v", beforeFiles, after)
	}
	r.step("pool deleted; nothing left on any node")
}

// agentFiles lists every file and directory, hidden ones (the image
// cache) included, under each node's disk, image, VM and DHCP server
// directories.
func (r *run) agentFiles() []string {
	var out []string
	for _, n := range r.l.Nodes() {
		for _, d := range agentDirs {
			root := filepath.Join(r.l.Dir(), n.Name, d)
			filepath.WalkDir(root, func(p string, _ fs.DirEntry, err error) error {
				if err == nil && p != root {
					out = append(out, p)
				}
				return nil
			})
		}
	}
	return out
}

// watchGroup polls `humcli get group group1` until the group is gone
// (failing after groupDeleteBound) and returns the distinct status
// messages it showed.
func (r *run) watchGroup(start time.Time) []string {
	r.t.Helper()
	var seen []string
	for time.Since(start) < groupDeleteBound {
		out, err := r.l.Humcli(context.Background(), "get", "group", "group1")
		if err != nil {
			if strings.Contains(out+err.Error(), "not found") {
				return seen
			}
			r.t.Fatalf("humcli get group group1: %v\n%s", err, out)
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		msg := lines[len(lines)-1] // the group's row; its MESSAGE column:
		if i := strings.Index(msg, "waiting for "); i >= 0 {
			msg = msg[i:]
		}
		if i := strings.Index(msg, "   "); i > 0 { // the next column
			msg = msg[:i]
		}
		if !slices.Contains(seen, msg) {
			seen = append(seen, msg)
		}
		time.Sleep(250 * time.Millisecond)
	}
	r.t.Fatalf("group group1 still there after %v; humcli get group showed:\n%s\nobjects left: %v",
		groupDeleteBound, strings.Join(seen, "\n"), r.objects())
	return nil
}

// untilCopying waits (briefly) until entity id is copying, so the group
// goes while it does; a copy too quick to catch is logged, not failed.
func (r *run) untilCopying(id string, timeout time.Duration) {
	c := client.For[*api.ImageEntity](r.l.Client())
	for end := time.Now().Add(timeout); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if e, err := c.Get(context.Background(), g1, id); err == nil && e.Status.State != "Pending" && e.Status.State != "" {
			return
		}
	}
}

// logEntity logs the state entity id had when the group's deletion began.
func (r *run) logEntity(id string) {
	e, err := client.For[*api.ImageEntity](r.l.Client()).Get(context.Background(), g1, id)
	if err != nil {
		r.t.Logf("%s when the group's deletion began: %v", id, err)
		return
	}
	r.t.Logf("%s when the group's deletion began: %s %s", id, e.Status.State, e.Status.Message)
}

// applyDoc applies one YAML document through humcli.
func (r *run) applyDoc(name, doc string) {
	p := filepath.Join(r.t.TempDir(), name)
	if err := os.WriteFile(p, []byte(doc), 0o600); err != nil {
		r.t.Fatal(err)
	}
	r.humcli("apply", "-f", p)
}
