package apiserver_test

import (
	"strings"
	"testing"

	"github.com/humstack/humstack/api"
)

// TestEntityUsersForItsNode: the node holding an image entity learns which
// disks (on any node) are overlays of it, names only, although it may not
// read those disks; another node may not ask.
func TestEntityUsersForItsNode(t *testing.T) {
	e, admin := newRBACEnvAsAdmin(t)
	e.tenancy("g", "ns")
	ent := api.ImageEntityKind.New().(*api.ImageEntity)
	ent.Meta.ID, ent.Meta.Group = "tiny", "g"
	ent.Spec.Source = api.ImageEntitySource{Namespace: "ns", BlockStorageID: "src"}
	if _, err := admin.Create(ctx(t), ent); err != nil {
		t.Fatal(err)
	}
	ent.Status.Node, ent.Status.State = "node-b", "Available"
	if _, err := admin.UpdateStatus(ctx(t), ent); err != nil {
		t.Fatal(err)
	}
	for id, node := range map[string]string{"child": "node-c", "other": "node-c"} {
		bs := api.BlockStorageKind.New().(*api.BlockStorage)
		bs.Meta.ID, bs.Meta.Group, bs.Meta.Namespace = id, "g", "ns"
		bs.Meta.Annotations = map[string]string{api.AnnotationBlockStorageNode: node}
		bs.Spec.RequestSize, bs.Spec.LimitSize = "1G", "1G"
		if _, err := admin.Create(ctx(t), bs); err != nil {
			t.Fatal(err)
		}
		if id == "child" {
			bs.Status.ImageEntity = "tiny"
			if _, err := admin.UpdateStatus(ctx(t), bs); err != nil {
				t.Fatal(err)
			}
		}
	}
	users := "/api/v0/groups/g/imageentities/tiny/users"
	if code, body := e.call("node:node-b", "GET", users, ""); code != 200 || !strings.Contains(body, `"users":["ns/child"]`) {
		t.Errorf("node-b (holds the entity) asks for its users: %d %s, want ns/child only", code, body)
	}
	if code, _ := e.call("node:node-b", "GET", "/api/v0/groups/g/namespaces/ns/blockstorages/child", ""); code != 404 {
		t.Errorf("node-b reads node-c's disk: %d, want 404", code)
	}
	// node-c may read the entity (disks depend on it), not ask this.
	if code, _ := e.call("node:node-c", "GET", users, ""); code != 403 {
		t.Errorf("node-c asks for the users of node-b's entity: %d, want 403", code)
	}
	if code, _ := e.call("node:node-b", "GET", "/api/v0/groups/g/imageentities/nope/users", ""); code != 404 {
		t.Errorf("users of a missing entity: %d, want 404", code)
	}
	got, err := admin.ImageEntityUsers(ctx(t), "g", "tiny")
	if err != nil || len(got) != 1 || got[0] != "ns/child" {
		t.Errorf("client: %v, %v", got, err)
	}
}

// TestSnapshotUsersForItsNode: the node holding a snapshot learns which
// disks (on any node) were restored from it and which image entities are
// being made from it, names only; another node may not ask. An entity's
// users include the snapshots whose files are overlays of it.
func TestSnapshotUsersForItsNode(t *testing.T) {
	e, admin := newRBACEnvAsAdmin(t)
	e.tenancy("g", "ns")
	snap := api.SnapshotKind.New().(*api.Snapshot)
	snap.Meta.ID, snap.Meta.Group, snap.Meta.Namespace = "s1", "g", "ns"
	snap.Spec.BlockStorageID = "src"
	if _, err := admin.Create(ctx(t), snap); err != nil {
		t.Fatal(err)
	}
	snap.Status.Node, snap.Status.State = "node-b", api.SnapshotReady
	snap.Status.Disks = []api.SnapshotFile{{File: "disk0.qcow2", ImageEntity: "g/tiny"}}
	if _, err := admin.UpdateStatus(ctx(t), snap); err != nil {
		t.Fatal(err)
	}
	bs := api.BlockStorageKind.New().(*api.BlockStorage)
	bs.Meta.ID, bs.Meta.Group, bs.Meta.Namespace = "child", "g", "ns"
	bs.Meta.Annotations = map[string]string{api.AnnotationBlockStorageNode: "node-c"}
	bs.Spec.RequestSize, bs.Spec.LimitSize = "1G", "1G"
	if _, err := admin.Create(ctx(t), bs); err != nil {
		t.Fatal(err)
	}
	bs.Status.Snapshot = "ns/s1"
	if _, err := admin.UpdateStatus(ctx(t), bs); err != nil {
		t.Fatal(err)
	}
	for id, state := range map[string]string{"making": "Copying", "made": "Available", "tiny": "Available"} {
		ent := api.ImageEntityKind.New().(*api.ImageEntity)
		ent.Meta.ID, ent.Meta.Group = id, "g"
		ent.Spec.Source = api.ImageEntitySource{Namespace: "ns", BlockStorageID: "src", SnapshotID: "s1"}
		if id == "tiny" {
			ent.Spec.Source.SnapshotID = ""
		}
		if _, err := admin.Create(ctx(t), ent); err != nil {
			t.Fatal(err)
		}
		ent.Status.Node, ent.Status.State = "node-b", state
		if _, err := admin.UpdateStatus(ctx(t), ent); err != nil {
			t.Fatal(err)
		}
	}
	users := "/api/v0/groups/g/namespaces/ns/snapshots/s1/users"
	if code, body := e.call("node:node-b", "GET", users, ""); code != 200 || !strings.Contains(body, `"users":["blockstorage ns/child","imageentity making"]`) {
		t.Errorf("node-b (holds the snapshot) asks for its users: %d %s", code, body)
	}
	if code, _ := e.call("node:node-c", "GET", users, ""); code != 403 {
		t.Errorf("node-c asks for the users of node-b's snapshot: %d, want 403", code)
	}
	if code, _ := e.call("node:node-b", "GET", "/api/v0/groups/g/namespaces/ns/snapshots/nope/users", ""); code != 404 {
		t.Errorf("users of a missing snapshot: %d, want 404", code)
	}
	got, err := admin.SnapshotUsers(ctx(t), "g", "ns", "s1")
	if err != nil || len(got) != 2 {
		t.Errorf("client: %v, %v", got, err)
	}
	if got, err := admin.ImageEntityUsers(ctx(t), "g", "tiny"); err != nil || len(got) != 1 || got[0] != "snapshot ns/s1" {
		t.Errorf("entity users: %v, %v; want the snapshot", got, err)
	}
}
