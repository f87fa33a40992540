package apiserver

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/storage"
	"github.com/humstack/humstack/internal/storage/bolt"
)

// quotaFixture is a quota admitter over a real store, on a clock the test
// moves.
type quotaFixture struct {
	t     *testing.T
	store storage.Store
	a     *quotaAdmitter
	clock time.Time
}

func newQuotaFixture(t *testing.T) *quotaFixture {
	st, err := bolt.Open(filepath.Join(t.TempDir(), "db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f := &quotaFixture{t: t, store: st, clock: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	f.a = newQuotaAdmitter(st, slog.New(slog.DiscardHandler))
	f.a.now = func() time.Time { return f.clock }
	return f
}

func qctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

func count(n int64) *int64 { return &n }

// quota stores a quota as the handler would (status empty).
func (f *quotaFixture) quota(id, ns string, hard api.QuotaResources) {
	f.t.Helper()
	q := api.QuotaKind.New().(*api.Quota)
	q.Meta.ID, q.Meta.Group, q.Spec.Namespace, q.Spec.Hard = id, "g", ns, hard
	f.put(api.QuotaKind, q)
}

// put stores obj directly (an object that existed before a quota).
func (f *quotaFixture) put(k *api.Kind, obj api.Object) {
	f.t.Helper()
	data, err := api.Encode(obj)
	if err != nil {
		f.t.Fatal(err)
	}
	if _, err := f.store.Create(qctx(f.t), objectKey(k, obj.GetMeta()), data); err != nil {
		f.t.Fatal(err)
	}
}

func (f *quotaFixture) get(id string) *api.Quota {
	f.t.Helper()
	kv, err := f.store.Get(qctx(f.t), objectKey(api.QuotaKind, &api.Meta{Group: "g", ID: id}))
	if err != nil {
		f.t.Fatal(err)
	}
	q, err := decodeStored(api.QuotaKind, kv.Value)
	if err != nil {
		f.t.Fatal(err)
	}
	return q.(*api.Quota)
}

func testVM(ns, id, mem string) *api.VirtualMachine {
	vm := api.VirtualMachineKind.New().(*api.VirtualMachine)
	vm.Meta = api.Meta{APIType: vm.Meta.APIType, ID: id, Group: "g", Namespace: ns, UID: "uid-" + ns + "-" + id,
		Annotations: map[string]string{api.AnnotationVirtualMachineNode: "n1"}}
	vm.Spec.RequestVcpus, vm.Spec.LimitVcpus, vm.Spec.RequestMemory, vm.Spec.LimitMemory = "1", "1", mem, mem
	return vm
}

// create admits vm as a create and, when it is admitted, stores it.
func (f *quotaFixture) create(vm *api.VirtualMachine) error {
	f.t.Helper()
	if _, err := f.a.admit(qctx(f.t), api.VirtualMachineKind, nil, vm); err != nil {
		return err
	}
	f.put(api.VirtualMachineKind, vm)
	return nil
}

func TestQuotaRefusalNamesQuotaResourceUsedRequestedHard(t *testing.T) {
	f := newQuotaFixture(t)
	f.quota("q1", "ns1", api.QuotaResources{VirtualMachines: count(2), Memory: "1G"})
	for _, id := range []string{"vm1", "vm2"} {
		if err := f.create(testVM("ns1", id, "256M")); err != nil {
			t.Fatalf("create %s: %v", id, err)
		}
	}
	_, err := f.a.admit(qctx(t), api.VirtualMachineKind, nil, testVM("ns1", "vm3", "768M"))
	want := "quota g/q1 (namespace ns1): memory: used 512M, requested 768M, hard 1G; virtualmachines: used 2, requested 1, hard 2"
	if !errors.Is(err, api.ErrForbidden) || err.Error() != want {
		t.Fatalf("got %v, want 403 %q", err, want)
	}
	q := f.get("q1")
	if *q.Status.Used.VirtualMachines != 2 || q.Status.Used.Memory != "512M" || q.Status.State != api.QuotaActive {
		t.Fatalf("used after refusal: %+v state %s", q.Status.Used, q.Status.State)
	}
	// Another namespace is outside the quota.
	if err := f.create(testVM("ns2", "vm3", "768M")); err != nil {
		t.Fatalf("ns2 is not covered by q1: %v", err)
	}
}

func TestQuotaUpdateAdmitsTheDelta(t *testing.T) {
	f := newQuotaFixture(t)
	f.quota("q1", "", api.QuotaResources{Memory: "1G"})
	vm := testVM("ns1", "vm1", "512M")
	if err := f.create(vm); err != nil {
		t.Fatal(err)
	}
	bigger := testVM("ns1", "vm1", "1G")
	undo, err := f.a.admit(qctx(t), api.VirtualMachineKind, vm, bigger)
	if err != nil {
		t.Fatalf("512M -> 1G under 1G: %v", err)
	}
	if got := f.get("q1").Status.Used.Memory; got != "1G" {
		t.Fatalf("used memory %s after the update, want 1G", got)
	}
	undo() // the update's write failed
	if got := f.get("q1").Status.Used.Memory; got != "512M" {
		t.Fatalf("used memory %s after undo, want 512M", got)
	}
	_, err = f.a.admit(qctx(t), api.VirtualMachineKind, vm, testVM("ns1", "vm1", "2G"))
	if want := "quota g/q1 (group g): memory: used 512M, requested 1.5G, hard 1G"; err == nil || err.Error() != want {
		t.Fatalf("512M -> 2G: got %v, want %q", err, want)
	}
	// Same requests (a status write): no write to the quota at all.
	rev := f.get("q1")
	kv, _ := f.store.Get(qctx(t), objectKey(api.QuotaKind, &rev.Meta))
	if _, err := f.a.admit(qctx(t), api.VirtualMachineKind, vm, testVM("ns1", "vm1", "512M")); err != nil {
		t.Fatal(err)
	}
	if kv2, _ := f.store.Get(qctx(t), kv.Key); kv2.ModRevision != kv.ModRevision {
		t.Fatal("an update that changes no request wrote the quota")
	}
}

func TestQuotaUndoAndRelease(t *testing.T) {
	f := newQuotaFixture(t)
	f.quota("q1", "", api.QuotaResources{VirtualMachines: count(1)})
	vm := testVM("ns1", "vm1", "128M")
	undo, err := f.a.admit(qctx(t), api.VirtualMachineKind, nil, vm)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.a.admit(qctx(t), api.VirtualMachineKind, nil, testVM("ns1", "vm2", "128M")); !errors.Is(err, api.ErrForbidden) {
		t.Fatalf("the reservation of a create in flight holds the room: got %v", err)
	}
	undo()
	if q := f.get("q1"); *q.Status.Used.VirtualMachines != 0 || len(q.Status.Entries) != 0 {
		t.Fatalf("after undo: %+v", q.Status)
	}
	if err := f.create(vm); err != nil {
		t.Fatal(err)
	}
	f.a.release(qctx(t), api.VirtualMachineKind, vm)
	if q := f.get("q1"); *q.Status.Used.VirtualMachines != 0 {
		t.Fatalf("after release: %+v", q.Status)
	}
}

func TestQuotaGroupAndNamespaceQuotasBothApply(t *testing.T) {
	f := newQuotaFixture(t)
	f.quota("group", "", api.QuotaResources{VirtualMachines: count(3)})
	f.quota("team1", "ns1", api.QuotaResources{VirtualMachines: count(2)})
	for _, c := range []struct{ ns, id, refusedBy string }{
		{"ns1", "a", ""}, {"ns1", "b", ""},
		{"ns1", "c", "quota g/team1 (namespace ns1): virtualmachines: used 2, requested 1, hard 2"},
		{"ns2", "d", ""},
		{"ns2", "e", "quota g/group (group g): virtualmachines: used 3, requested 1, hard 3"},
	} {
		err := f.create(testVM(c.ns, c.id, "128M"))
		if got := ""; err != nil {
			got = err.Error()
			if got != c.refusedBy {
				t.Fatalf("%s/%s: got %q, want %q", c.ns, c.id, got, c.refusedBy)
			}
		} else if c.refusedBy != "" {
			t.Fatalf("%s/%s admitted, want %q", c.ns, c.id, c.refusedBy)
		}
	}
	// The namespace quota refused c after the group quota admitted it: the
	// group's reservation was given back.
	if g := f.get("group"); *g.Status.Used.VirtualMachines != 3 || len(g.Status.Entries) != 3 {
		t.Fatalf("group quota: %+v", g.Status)
	}
}

func TestQuotaStartsWithWhatExistsAndMayBeExceeded(t *testing.T) {
	f := newQuotaFixture(t)
	for _, id := range []string{"vm1", "vm2", "vm3"} {
		f.put(api.VirtualMachineKind, testVM("ns1", id, "1G"))
	}
	f.quota("q1", "", api.QuotaResources{VirtualMachines: count(2), Memory: "8G"})
	if err := f.a.repair(qctx(t), objectKey(api.QuotaKind, &api.Meta{Group: "g", ID: "q1"})); err != nil {
		t.Fatal(err)
	}
	q := f.get("q1")
	if q.Status.State != api.QuotaExceeded || *q.Status.Used.VirtualMachines != 3 || q.Status.Used.Memory != "3G" ||
		!strings.Contains(q.Status.Message, "virtualmachines: used 3, hard 2") {
		t.Fatalf("a quota below usage: %+v", q.Status)
	}
	if err := f.create(testVM("ns1", "vm4", "1G")); !errors.Is(err, api.ErrForbidden) {
		t.Fatalf("create above an exceeded quota: %v", err)
	}
}

// TestQuotaRepairWithFakeClock: what an API server that died between
// admitting and storing leaves behind is corrected after the grace, and
// not before (it could be a create in flight); an object stored without
// an entry gets one at once.
func TestQuotaRepairWithFakeClock(t *testing.T) {
	f := newQuotaFixture(t)
	f.quota("q1", "", api.QuotaResources{VirtualMachines: count(10), Memory: "10G"})
	qk := objectKey(api.QuotaKind, &api.Meta{Group: "g", ID: "q1"})
	kept := testVM("ns1", "kept", "1G")
	if err := f.create(kept); err != nil {
		t.Fatal(err)
	}
	// Died after reserving a create: the VM was never stored.
	if _, err := f.a.admit(qctx(t), api.VirtualMachineKind, nil, testVM("ns1", "ghost", "2G")); err != nil {
		t.Fatal(err)
	}
	// Died after admitting an update 1G -> 3G of kept: still 1G stored.
	if _, err := f.a.admit(qctx(t), api.VirtualMachineKind, kept, testVM("ns1", "kept", "3G")); err != nil {
		t.Fatal(err)
	}
	// Stored without an entry (while the quota was first counted).
	f.put(api.VirtualMachineKind, testVM("ns1", "unseen", "1G"))
	used := func() (int64, string) {
		q := f.get("q1")
		return *q.Status.Used.VirtualMachines, q.Status.Used.Memory
	}
	f.clock = f.clock.Add(time.Minute)
	if err := f.a.repair(qctx(t), qk); err != nil {
		t.Fatal(err)
	}
	if n, mem := used(); n != 3 || mem != "6G" {
		t.Fatalf("within the grace: %d VMs, %s; want 3 (ghost kept, unseen added), 6G", n, mem)
	}
	f.clock = f.clock.Add(2 * time.Minute)
	if err := f.a.repair(qctx(t), qk); err != nil {
		t.Fatal(err)
	}
	if n, mem := used(); n != 2 || mem != "2G" {
		t.Fatalf("after the grace: %d VMs, %s; want 2 (kept, unseen), 2G", n, mem)
	}
	// Idempotent: nothing more to do, nothing written.
	before, _ := f.store.Get(qctx(t), qk)
	if err := f.a.repair(qctx(t), qk); err != nil {
		t.Fatal(err)
	}
	if after, _ := f.store.Get(qctx(t), qk); after.ModRevision != before.ModRevision {
		t.Fatal("a repair with nothing to correct wrote the quota")
	}
}

// TestQuotaRepairTakesBackWhatADeleteRaced: an entry the repair added for
// an object deleted between its list and its write (its release ran
// before the entry existed) is taken back at once, not after the grace.
func TestQuotaRepairTakesBackWhatADeleteRaced(t *testing.T) {
	f := newQuotaFixture(t)
	f.quota("q1", "", api.QuotaResources{VirtualMachines: count(10)})
	qk := objectKey(api.QuotaKind, &api.Meta{Group: "g", ID: "q1"})
	if err := f.a.repair(qctx(t), qk); err != nil {
		t.Fatal(err)
	}
	vm := testVM("ns1", "gone", "1G")
	vm.Meta.UID = "uid-gone"
	ek := entryKey(api.VirtualMachineKind, &vm.Meta)
	// What the repair wrote from a list that still had the VM.
	added := map[string]api.QuotaEntry{}
	err := f.a.change(qctx(t), qk, nil, func(q *api.Quota) (bool, error) {
		if q.Status.Entries == nil {
			q.Status.Entries = map[string]api.QuotaEntry{}
		}
		q.Status.Entries[ek] = api.NewQuotaEntry(api.Amounts{Memory: 1 << 30}, stamp(f.clock))
		added[ek] = q.Status.Entries[ek]
		refreshQuota(q)
		return true, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.a.confirmAdded(qctx(t), qk, added); err != nil {
		t.Fatal(err)
	}
	if q := f.get("q1"); len(q.Status.Entries) != 0 || *q.Status.Used.VirtualMachines != 0 {
		t.Errorf("after the take-back: entries %v, used %d; want none", q.Status.Entries, *q.Status.Used.VirtualMachines)
	}
}
