package apiserver_test

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/auth"
)

// restoreField is the field's JSON path as it appears in a JSON answer.
var restoreField = strings.Trim(strconv.Quote(`meta.annotations[`+strconv.Quote(api.AnnotationRestore)+`]`), `"`)

// restoreVM is the JSON of VM id whose restore annotation is value.
func restoreVM(id, value string) string {
	return `{"meta":{"apiType":"systemv0/virtualmachine","id":"` + id + `","annotations":{"` + api.AnnotationRestore + `":"` + value + `"}},` +
		`"spec":{"requestVcpus":"100m","limitVcpus":"1","requestMemory":"64M","limitMemory":"64M","actionState":"PowerOn"}}`
}

func restoreDisk(id, value string) string {
	return `{"meta":{"apiType":"systemv0/blockstorage","id":"` + id + `","annotations":{"` + api.AnnotationRestore + `":"` + value + `"}},` +
		`"spec":{"requestSize":"1G","limitSize":"1G"}}`
}

// newRestoreEnv is newResetEnv with editor ed0 bound in e1-0, snapshot
// secret in e1-1 (another team's), own in e1-0, and going in e1-0 being
// deleted.
func newRestoreEnv(t *testing.T) *resetEnv {
	t.Helper()
	r := newResetEnv(t, 30*time.Second)
	r.token("ed0", "")
	r.bind("ed0", auth.RoleEditor, "g1", "e1-0")
	for _, s := range []struct{ ns, id string }{{"e1-1", "secret"}, {"e1-0", "own"}, {"e1-0", "going"}} {
		snap := api.SnapshotKind.New().(*api.Snapshot)
		snap.Meta.ID, snap.Meta.Group, snap.Meta.Namespace, snap.Spec.VirtualMachineID = s.id, "g1", s.ns, "vm0"
		if s.id == "going" {
			now := time.Now().UTC()
			snap.Meta.DeleteState, snap.Meta.DeletionTimestamp = api.DeleteStateDelete, &now
			snap.Meta.Finalizers = []string{api.FinalizerNodePrefix + "node-a"}
		}
		r.put("/snapshots/g1/"+s.ns+"/"+s.id, snap)
	}
	return r
}

// TestReviewEditorRestoresFromAnotherNamespace: an editor bound in its own
// copy's namespace cannot point a VM's or disk's restore annotation at a
// snapshot of another namespace (its node would restore the other team's
// disks and memory into it); the answer names the field and does not say
// whether the snapshot exists.
func TestReviewEditorRestoresFromAnotherNamespace(t *testing.T) {
	r := newRestoreEnv(t)
	if code, _ := r.call("ed0", "GET", "/api/v0/groups/g1/namespaces/e1-1/snapshots/secret", ""); code == http.StatusOK {
		t.Fatal("setup: ed0 reads e1-1")
	}
	vms, disks := "/api/v0/groups/g1/namespaces/e1-0/virtualmachines", "/api/v0/groups/g1/namespaces/e1-0/blockstorages"
	code, body := r.call("ed0", "POST", vms, restoreVM("vm0", "e1-1/secret@x1"))
	expect(t, "VM restoring from another namespace's snapshot", code, body, http.StatusForbidden, restoreField, "g1/e1-1/secret")
	code, missing := r.call("ed0", "POST", vms, restoreVM("vm0", "e1-1/nothing@x1"))
	expect(t, "VM restoring from a missing snapshot it may not see", code, missing, http.StatusForbidden, restoreField)
	if strings.Replace(missing, "nothing", "secret", 1) != body {
		t.Errorf("the answers tell an existing snapshot from a missing one:\n%s\n%s", body, missing)
	}
	code, body = r.call("ed0", "POST", disks, restoreDisk("d0", "e1-1/secret@x1"))
	expect(t, "disk restoring from another namespace's snapshot", code, body, http.StatusForbidden, restoreField)
}

// TestRestoreAdmission: a new or changed restore annotation must parse
// (400), name a snapshot that exists and is not being deleted (400), and
// one the writer may get; group admins and the Core agent may name any
// snapshot of the group, and an unchanged value is not judged again.
func TestRestoreAdmission(t *testing.T) {
	r := newRestoreEnv(t)
	r.bindNode("core-a", auth.RoleCoreAgent)
	vms := "/api/v0/groups/g1/namespaces/e1-0/virtualmachines"
	for _, tc := range []struct {
		name, value string
		want        int
		words       []string
	}{
		{"garbage", "not-a-restore", http.StatusBadRequest, []string{restoreField, "is not", "namespace"}},
		{"no token", "e1-0/own@", http.StatusBadRequest, []string{restoreField}},
		{"missing", "e1-0/nothing@t", http.StatusBadRequest, []string{restoreField, "snapshot g1/e1-0/nothing does not exist"}},
		{"being deleted", "e1-0/going@t", http.StatusBadRequest, []string{restoreField, "snapshot g1/e1-0/going is being deleted"}},
		{"own namespace", "e1-0/own@t", http.StatusCreated, nil},
	} {
		code, body := r.call("ed0", "POST", vms, restoreVM("vm-"+strings.ReplaceAll(tc.name, " ", "-"), tc.value))
		expect(t, tc.name, code, body, tc.want, tc.words...)
	}
	code, body := r.call("teacher", "POST", vms, restoreVM("vm-teacher", "e1-1/secret@t"))
	expect(t, "group-admin, another copy's snapshot", code, body, http.StatusCreated)

	// Updates: a changed value is judged, an unchanged one is not.
	ed0, core := r.clientAs("ed0"), nodeClient(t, r.rbacEnv, "core-a")
	vmc := client.For[*api.VirtualMachine](ed0)
	sc := client.Scope{Group: "g1", Namespace: "e1-0"}
	vm, err := vmc.Get(context.Background(), sc, "vm-teacher")
	if err != nil {
		t.Fatal(err)
	}
	vm.Spec.LimitVcpus = "2"
	if vm, err = vmc.Update(context.Background(), vm); err != nil {
		t.Fatalf("ed0 changes the spec of a VM restoring from e1-1/secret (annotation unchanged): %v", err)
	}
	vm.Meta.Annotations[api.AnnotationRestore] = "e1-1/secret@t2"
	if _, err := vmc.Update(context.Background(), vm); !errors.Is(err, api.ErrForbidden) || !strings.Contains(err.Error(), api.AnnotationRestore) {
		t.Errorf("ed0 asks again for a restore from e1-1/secret: %v, want 403 naming %s", err, restoreField)
	}
	vm.Meta.Annotations[api.AnnotationRestore] = "e1-0/own@t2"
	if vm, err = vmc.Update(context.Background(), vm); err != nil {
		t.Fatalf("ed0 restores from e1-0/own: %v", err)
	}
	// The Core agent (a reset) asks for a restore from the golden copy.
	vm.Meta.Annotations[api.AnnotationRestore] = "e1-1/secret@t3"
	if _, err := client.For[*api.VirtualMachine](core).Update(context.Background(), vm); err != nil {
		t.Errorf("the Core agent asks for a restore from e1-1/secret: %v", err)
	}
}

// clientAs is a client of the server with who's token.
func (r *resetEnv) clientAs(who string) *client.Client {
	r.t.Helper()
	c, err := client.New(r.srv.URL, client.WithToken(r.tokens[who]))
	if err != nil {
		r.t.Fatal(err)
	}
	return c
}
