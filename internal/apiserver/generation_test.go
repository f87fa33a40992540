package apiserver_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
)

const genVM = `meta: {apiType: systemv0/virtualmachine, id: vm1, group: g, namespace: ns, generation: 7,
  annotations: {virtualmachinev0/node_name: n1}}
spec: {requestVcpus: "1", limitVcpus: "1", requestMemory: 256M, limitMemory: 256M, actionState: PowerOn}
`

// TestGenerationCountsSpecChangesOnly: meta.generation is 1 at create
// (whatever the client sent), and only a change of the spec bumps it:
// status writes, finalizers, labels, annotations, no-op updates and a
// deletion mark do not. The power subresource changes the spec and bumps it.
func TestGenerationCountsSpecChangesOnly(t *testing.T) {
	e := newEnv(t)
	e.tenancy("g", "ns")
	vms := client.For[*api.VirtualMachine](e.c)
	sc := client.Scope{Group: "g", Namespace: "ns"}
	vm := e.mustCreate(genVM).(*api.VirtualMachine)
	expect := func(step string, want int64) {
		t.Helper()
		got, err := vms.Get(ctx(t), sc, "vm1")
		if err != nil {
			t.Fatal(err)
		}
		if got.Meta.Generation != want {
			t.Fatalf("%s: generation %d, want %d", step, got.Meta.Generation, want)
		}
		vm = got
	}
	expect("create (client sent 7)", 1)

	steps := []struct {
		name   string
		mutate func(v *api.VirtualMachine)
		status bool
		want   int64
	}{
		{"status write", func(v *api.VirtualMachine) { v.Status.State = "Running" }, true, 1},
		{"status write of conditions", func(v *api.VirtualMachine) {
			v.Status.Conditions = []api.Condition{{Type: api.ConditionReady, Status: api.ConditionTrue, ObservedGeneration: 1}}
		}, true, 1},
		{"finalizer added", func(v *api.VirtualMachine) { v.Meta.Finalizers = []string{"x.test/f"} }, false, 1},
		{"annotation and label", func(v *api.VirtualMachine) {
			v.Meta.Annotations["a"] = "b"
			v.Meta.Labels = map[string]string{"l": "v"}
		}, false, 1},
		{"no-op update", func(*api.VirtualMachine) {}, false, 1},
		{"client sends generation 99 without a spec change", func(v *api.VirtualMachine) { v.Meta.Generation = 99 }, false, 1},
		{"spec change", func(v *api.VirtualMachine) { v.Spec.LimitMemory = "512M" }, false, 2},
		{"spec change with generation 1 sent", func(v *api.VirtualMachine) {
			v.Meta.Generation = 1
			v.Spec.LimitVcpus = "2"
		}, false, 3},
		{"status write after", func(v *api.VirtualMachine) { v.Status.Message = "m" }, true, 3},
	}
	for _, s := range steps {
		s.mutate(vm)
		var err error
		if s.status {
			_, err = vms.UpdateStatus(ctx(t), vm)
		} else {
			_, err = vms.Update(ctx(t), vm)
		}
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		expect(s.name, s.want)
	}

	if code, r := e.do(http.MethodPut, "/api/v0/groups/g/namespaces/ns/virtualmachines/vm1/power", "application/json",
		`{"actionState":"PowerOff"}`); code != http.StatusOK {
		t.Fatalf("power: %d %s", code, r.Error)
	}
	expect("power off", 4)
	if code, r := e.do(http.MethodPut, "/api/v0/groups/g/namespaces/ns/virtualmachines/vm1/power", "application/json",
		`{"actionState":"PowerOff"}`); code != http.StatusOK {
		t.Fatalf("power: %d %s", code, r.Error)
	}
	expect("power off again (no change)", 4)

	if _, err := vms.Delete(ctx(t), sc, "vm1", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	expect("deletion marked (finalizer holds it)", 4)
	if !vm.Meta.Deleting() {
		t.Fatalf("not marked for deletion: %+v", vm.Meta)
	}
}

// TestGenerationIsStored: the generation is in the stored object (it
// survives a round trip through the store, not computed on read), and an
// object stored before generations existed counts as 1: a meta change
// makes it 1, a spec change 2.
func TestGenerationIsStored(t *testing.T) {
	e := newEnv(t)
	e.tenancy("g", "ns")
	e.mustCreate(network("g", "ns", "net1"))
	kv, err := e.store.Get(ctx(t), "/networks/g/ns/net1")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(kv.Value), `"generation":1`) {
		t.Fatalf("stored object lacks generation 1: %s", kv.Value)
	}

	// An object written by an older server: no generation.
	var raw map[string]any
	if err := json.Unmarshal(kv.Value, &raw); err != nil {
		t.Fatal(err)
	}
	delete(raw["meta"].(map[string]any), "generation")
	old, _ := json.Marshal(raw)
	if _, err := e.store.Update(ctx(t), "/networks/g/ns/net1", old, kv.ModRevision); err != nil {
		t.Fatal(err)
	}
	nets := client.For[*api.Network](e.c)
	sc := client.Scope{Group: "g", Namespace: "ns"}
	n, err := nets.Get(ctx(t), sc, "net1")
	if err != nil || n.Meta.Generation != 0 {
		t.Fatalf("old object reads generation %d (err %v), want 0", n.Meta.Generation, err)
	}
	n.Meta.Labels = map[string]string{"a": "b"}
	if n, err = nets.Update(ctx(t), n); err != nil || n.Meta.Generation != 1 {
		t.Fatalf("meta change of an old object: generation %d (err %v), want 1", n.Meta.Generation, err)
	}
	n.Spec.DHCP = &api.NetworkDHCP{Disabled: true}
	if n, err = nets.Update(ctx(t), n); err != nil || n.Meta.Generation != 2 {
		t.Fatalf("spec change of an old object: generation %d (err %v), want 2", n.Meta.Generation, err)
	}
	kv, err = e.store.Get(ctx(t), "/networks/g/ns/net1")
	if err != nil || !strings.Contains(string(kv.Value), `"generation":2`) {
		t.Fatalf("stored: %s (err %v)", kv.Value, err)
	}
}
