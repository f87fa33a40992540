package apiserver

import (
	"log/slog"
	"testing"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/placement"
)

// TestRepairTakesBackWhatADeleteRaced: the repair lists a VM, the VM is
// deleted before the repair writes (its release finds no entry to take
// back), and the repair adds an entry for it. Reading the VM again after
// the write, the repair takes that entry back itself.
func TestRepairTakesBackWhatADeleteRaced(t *testing.T) {
	st := testBolt(t)
	l := &nodeLedger{store: st, ratios: placement.DefaultRatios, now: time.Now, log: slog.New(slog.DiscardHandler)}
	r := newRepairer(l, time.Hour, time.Minute)
	n := api.NodeKind.New().(*api.Node)
	n.Meta.ID, n.Meta.APIType = "n1", api.NodeKind.APIType
	n.Spec.LimitVcpus, n.Spec.LimitMemory = "2", "4G"
	placement.Settle(n, placement.DefaultRatios) // so that only the entry makes the repair write
	data, err := api.Encode(n)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Create(t.Context(), objectKey(api.NodeKind, &n.Meta), data); err != nil {
		t.Fatal(err)
	}
	// The list the repair took: a VM on n1 that is gone by the time it
	// writes (never stored here at all).
	vm := api.VirtualMachineKind.New().(*api.VirtualMachine)
	vm.Meta = api.Meta{APIType: api.VirtualMachineKind.APIType, ID: "deleted", Group: "g", Namespace: "ns",
		Annotations: map[string]string{api.AnnotationVirtualMachineNode: "n1"}}
	vm.Spec.RequestVcpus, vm.Spec.RequestMemory = "1", "1G"
	idx := &placedIndex{byKey: map[string]api.Object{placement.Key(api.VirtualMachineKind, &vm.Meta): vm},
		byNode: map[string][]api.Object{"n1": {vm}}}

	if err := r.repairNode(t.Context(), "n1", idx); err != nil {
		t.Fatal(err)
	}
	kv, err := st.Get(t.Context(), objectKey(api.NodeKind, &n.Meta))
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeStored(api.NodeKind, kv.Value)
	if err != nil {
		t.Fatal(err)
	}
	if res := got.(*api.Node).Status.Reservations; len(res) != 0 {
		t.Errorf("ledger %v, want the entry of the deleted VM taken back", res)
	}
	if kv.ModRevision == kv.CreateRevision {
		t.Error("the repair never wrote the entry: the test does not test the take-back")
	}
}
