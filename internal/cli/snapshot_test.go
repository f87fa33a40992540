package cli

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/controller"
)

// playNode answers the restore annotation of VM vm1 (g/ns) the way a
// node does: status.restore with the annotation's token, step by step,
// ending in last. An annotation equal to old (a restore done before) is
// not a request.
func playNode(t *testing.T, c *client.Client, old string, last api.RestoreStatus) {
	t.Helper()
	sc := client.Scope{Group: "g", Namespace: "ns"}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		vm, err := client.For[*api.VirtualMachine](c).Get(context.Background(), sc, "vm1")
		if err != nil {
			t.Error(err)
			return
		}
		if v := vm.Meta.Annotations[api.AnnotationRestore]; v != "" && v != old {
			ns, snap, token, err := api.ParseRestore(v)
			if err != nil || ns != "ns" || snap != "s1" {
				t.Errorf("annotation %q: want ns/s1@token", v)
				return
			}
			for _, step := range []api.RestoreStatus{{Step: api.RestoreStopping}, {Step: api.RestoreDisks}, last} {
				step.Token, step.Snapshot = token, "ns/s1"
				if _, err := controller.UpdateStatus(context.Background(), c, vm, func(x *api.VirtualMachine) bool {
					x.Status.Restore = &step
					return true
				}); err != nil {
					t.Error(err)
					return
				}
				time.Sleep(300 * time.Millisecond)
			}
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Error("no restore annotation on vm1")
}

// TestSnapshotRestore: restore sets the VM's restore annotation (a new
// token; restore_cold with --cold) and prints each step until the end;
// a failed restore exits 1; --vm or --disk, one of them, is required.
func TestSnapshotRestore(t *testing.T) {
	e := newEnv(t)
	c, err := client.New("http://" + e.host + ":" + e.port)
	if err != nil {
		t.Fatal(err)
	}
	e.mustRun("apply", "-f", writeFile(t, "objs.yaml", `meta: {apiType: corev0/group, id: g}
---
meta: {apiType: corev0/namespace, id: ns, group: g}
---
meta: {apiType: systemv0/virtualmachine, id: vm1, group: g, namespace: ns}
spec: {requestVcpus: "1", limitVcpus: "1", requestMemory: 1G, limitMemory: 1G}
---
meta: {apiType: systemv0/snapshot, id: s1, group: g, namespace: ns}
spec: {virtualMachineID: vm1, memory: true}
`))
	go playNode(t, c, "", api.RestoreStatus{Step: api.RestoreDone, Mode: api.RestoreModeWarm})
	r := e.mustRun("snapshot", "restore", "s1", "--vm", "vm1", "-g", "g", "-n", "ns")
	for _, want := range []string{"virtualmachine g/ns/vm1: restoring from snapshot s1", "Stopping", "RestoringDisks", "Done (warm)", "restored (warm) in"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.stdout)
		}
	}
	vm, err := client.For[*api.VirtualMachine](c).Get(context.Background(), client.Scope{Group: "g", Namespace: "ns"}, "vm1")
	if err != nil {
		t.Fatal(err)
	}
	first := vm.Meta.Annotations[api.AnnotationRestore]

	go playNode(t, c, first, api.RestoreStatus{Step: api.RestoreFailed, Message: "disk count differs"})
	r = e.run("snapshot", "restore", "s1", "--vm", "vm1", "--cold", "-g", "g", "-n", "ns")
	if r.code != 1 || !strings.Contains(r.stderr, "restore failed: disk count differs") {
		t.Errorf("want exit 1 with the node's message: %s", r)
	}
	vm, _ = client.For[*api.VirtualMachine](c).Get(context.Background(), client.Scope{Group: "g", Namespace: "ns"}, "vm1")
	if a := vm.Meta.Annotations; a[api.AnnotationRestore] == first || a[api.AnnotationRestoreCold] != "true" {
		t.Errorf("second restore: annotations %v, want a new token and restore_cold", a)
	}
	for _, args := range [][]string{{"snapshot", "restore", "s1"}, {"snapshot", "restore", "s1", "--vm", "vm1", "--disk", "d1"}} {
		if r := e.run(append(args, "-g", "g", "-n", "ns")...); r.code != 1 || !strings.Contains(r.stderr, "needs --vm VM or --disk D") {
			t.Errorf("%v: %s", args, r)
		}
	}
	if r := e.run("snapshot", "restore", "nope", "--vm", "vm1", "-g", "g", "-n", "ns"); r.code != 1 || !strings.Contains(r.stderr, "not found") {
		t.Errorf("missing snapshot: %s", r)
	}
}
