package apiserver_test

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/apiserver"
	"github.com/humstack/humstack/internal/auth"
	"github.com/humstack/humstack/internal/placement"
)

func quotaVM(id string, finalizers string) string {
	return "meta: {apiType: systemv0/virtualmachine, id: " + id + ", group: g, namespace: ns" + finalizers +
		", annotations: {virtualmachinev0/node_name: n1}}\n" +
		"spec: {requestVcpus: 500m, limitVcpus: \"1\", requestMemory: 256M, limitMemory: 256M}\n"
}

// TestQuotaFiftyConcurrentCreatesAdmitTen: the acceptance test of quotas.
// 50 creates at once against a quota of 10 VMs admit exactly 10; every
// other one is a 403 naming the quota; the ledger matches the store.
func TestQuotaFiftyConcurrentCreatesAdmitTen(t *testing.T) {
	e := newEnv(t)
	e.tenancy("g", "ns")
	e.mustCreate("meta: {apiType: corev0/quota, id: q1, group: g}\nspec: {hard: {virtualmachines: 10}}\n")
	var wg sync.WaitGroup
	errs := make([]error, 50)
	start := time.Now()
	for i := range errs {
		obj, err := api.Decode([]byte(quotaVM(fmt.Sprintf("vm%02d", i), "")))
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() { _, errs[i] = e.c.Create(ctx(t), obj) })
	}
	wg.Wait()
	took := time.Since(start)
	admitted := 0
	for _, err := range errs {
		switch {
		case err == nil:
			admitted++
		case !errors.Is(err, api.ErrForbidden) ||
			!strings.Contains(err.Error(), "quota g/q1 (group g): virtualmachines: used 10, requested 1, hard 10"):
			t.Errorf("refusal %v, want 403 naming quota g/q1", err)
		}
	}
	if admitted != 10 {
		t.Fatalf("admitted %d of 50, want exactly 10", admitted)
	}
	t.Logf("50 concurrent creates against a quota of 10 VMs: 10 admitted, 40 refused, in %v", took)
	checkQuotaMatchesStore(t, e, "q1")
}

// TestQuotaUsedMatchesReality recomputes what a quota uses from lists
// after creates, updates, failed creates (invalid, existing id, over the
// quota), deletes that wait on a finalizer and plain deletes.
func TestQuotaUsedMatchesReality(t *testing.T) {
	e := newEnv(t)
	e.tenancy("g", "ns", "other")
	e.mustCreate("meta: {apiType: corev0/quota, id: q1, group: g}\n" +
		"spec: {hard: {vcpus: \"4\", memory: 4G, disk: 100G, virtualmachines: 5, blockstorages: 5, networks: 2}}\n")
	e.mustCreate("meta: {apiType: corev0/quota, id: team, group: g}\nspec: {namespace: ns, hard: {virtualmachines: 3}}\n")
	step := func(what string) {
		t.Helper()
		checkQuotaMatchesStore(t, e, "q1")
		checkQuotaMatchesStore(t, e, "team")
		_ = what
	}
	e.mustCreate(quotaVM("vm1", ""))
	e.mustCreate(quotaVM("vm2", ", finalizers: [test/hold]"))
	e.mustCreate("meta: {apiType: systemv0/blockstorage, id: bs1, group: g, namespace: other, annotations: {blockstoragev0/node_name: n1}}\n" +
		"spec: {requestSize: 10G, limitSize: 10G, from: {type: Empty}}\n")
	e.mustCreate(network("g", "ns", "net1"))
	step("creates")
	vms := client.For[*api.VirtualMachine](e.c)
	sc := client.Scope{Group: "g", Namespace: "ns"}
	vm1, err := vms.Get(ctx(t), sc, "vm1")
	if err != nil {
		t.Fatal(err)
	}
	vm1.Spec.RequestMemory, vm1.Spec.LimitMemory = "1G", "1G"
	if _, err := vms.Update(ctx(t), vm1); err != nil {
		t.Fatal(err)
	}
	step("update")
	// Failed creates: invalid (refused before admission), an existing id
	// (admitted, then refused by the store: undone), over the namespace
	// quota, and in a namespace that does not exist.
	e.mustCreate(quotaVM("vm3", ""))
	for _, doc := range []string{
		strings.Replace(quotaVM("bad", ""), "requestMemory: 256M", "requestMemory: lots", 1),
		quotaVM("vm1", ""),
		quotaVM("vm4", ""),
		strings.Replace(quotaVM("vm5", ""), "namespace: ns", "namespace: nowhere", 1),
	} {
		obj, err := api.Decode([]byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.c.Create(ctx(t), obj); err == nil {
			t.Fatalf("create of %s succeeded, want a failure", obj.GetMeta().ID)
		}
	}
	step("failed creates")
	if q := getQuota(t, e, "team"); *q.Status.Used.VirtualMachines != 3 {
		t.Fatalf("team quota used %d VMs, want 3", *q.Status.Used.VirtualMachines)
	}
	// A deletion that waits on a finalizer: the VM still exists, and counts.
	if _, err := vms.Delete(ctx(t), sc, "vm2", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if q := getQuota(t, e, "q1"); *q.Status.Used.VirtualMachines != 3 {
		t.Fatalf("a VM waiting on its finalizer stopped counting: %d VMs", *q.Status.Used.VirtualMachines)
	}
	step("deleting")
	vm2, err := vms.Get(ctx(t), sc, "vm2")
	if err != nil {
		t.Fatal(err)
	}
	vm2.Meta.Finalizers = []string{}
	if _, err := vms.Update(ctx(t), vm2); err != nil {
		t.Fatal(err)
	}
	if _, err := vms.Delete(ctx(t), sc, "vm1", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	step("deletes")
	if q := getQuota(t, e, "q1"); *q.Status.Used.VirtualMachines != 1 || q.Status.Used.Memory != "256M" || q.Status.Used.Disk != "10G" {
		t.Fatalf("q1 after the deletes: %+v", q.Status.Used)
	}
}

func getQuota(t *testing.T, e *env, id string) *api.Quota {
	t.Helper()
	q, err := client.For[*api.Quota](e.c).Get(ctx(t), client.Scope{Group: "g"}, id)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

// checkQuotaMatchesStore recomputes quota id's use from lists of what
// exists in its scope and compares it with its ledger.
func checkQuotaMatchesStore(t *testing.T, e *env, id string) {
	t.Helper()
	q := getQuota(t, e, id)
	var sum api.Amounts
	counts := map[string]int{}
	want := map[string]bool{}
	for _, k := range []*api.Kind{api.VirtualMachineKind, api.BlockStorageKind, api.NetworkKind, api.VirtualRouterKind, api.ExternalIPKind} {
		objs, _, err := e.c.List(ctx(t), k, client.Scope{Group: "g", Namespace: q.Spec.Namespace})
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range objs {
			sum = placement.Add(sum, placement.Request(o))
			counts[k.Name]++
			want[placement.Key(k, o.GetMeta())+"@"+o.GetMeta().UID] = true
		}
	}
	got := map[string]bool{}
	for key := range q.Status.Entries {
		got[key] = true
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("quota %s ledger %v, objects %v", id, got, want)
	}
	u := q.Status.Used
	check := func(name string, hard bool, used string, want string) {
		t.Helper()
		if hard && used != want {
			t.Errorf("quota %s used %s %q, recomputed %q", id, name, used, want)
		}
	}
	check("vcpus", q.Spec.Hard.VCPUs != "", u.VCPUs, placement.FormatCPU(sum.MilliCPU))
	memory, _ := api.ParseSize(orZero(u.Memory))
	disk, _ := api.ParseSize(orZero(u.Disk))
	check("memory", q.Spec.Hard.Memory != "", fmt.Sprint(memory), fmt.Sprint(sum.Memory))
	check("disk", q.Spec.Hard.Disk != "", fmt.Sprint(disk), fmt.Sprint(sum.Storage))
	n := func(p *int64) string {
		if p == nil {
			return ""
		}
		return fmt.Sprint(*p)
	}
	check("virtualmachines", u.VirtualMachines != nil, n(u.VirtualMachines), fmt.Sprint(counts["virtualmachine"]))
	check("blockstorages", u.BlockStorages != nil, n(u.BlockStorages), fmt.Sprint(counts["blockstorage"]))
	check("networks", u.Networks != nil, n(u.Networks), fmt.Sprint(counts["network"]))
}

func orZero(s string) string {
	if s == "" {
		return "0"
	}
	return s
}

// TestQuotaWritesNeedAClusterGrant: a quota limits its group, so its
// group-admin (and any role bound inside the group) reads it but cannot
// write it; a cluster-admin can. Editors and viewers of the group read it.
// Clients never write its status: there is no status route.
func TestQuotaWritesNeedAClusterGrant(t *testing.T) {
	e := newRBACEnv(t)
	e.token("gadmin", "")
	e.token("carol", "")
	e.token("vera", "")
	e.bind("gadmin", auth.RoleGroupAdmin, "g", "")
	e.bind("carol", auth.RoleClusterAdmin, "g", "") // bound inside g only
	e.bind("vera", auth.RoleViewer, "g", "")
	e.put("/groups/g", &api.Group{Meta: api.Meta{ID: "g", APIType: api.GroupKind.APIType}})
	q := `{"meta":{"id":"q1"},"spec":{"hard":{"virtualmachines":2}}}`
	for _, who := range []string{"gadmin", "carol", "vera"} {
		if code, msg := e.call(who, "POST", "/api/v0/groups/g/quotas", q); code != 403 {
			t.Errorf("%s creates a quota of its group: %d %s, want 403", who, code, msg)
		}
	}
	if code, msg := e.call("admin", "POST", "/api/v0/groups/g/quotas", q); code != 201 {
		t.Fatalf("cluster-admin creates the quota: %d %s", code, msg)
	}
	raise := `{"meta":{"id":"q1"},"spec":{"hard":{"virtualmachines":100}}}`
	for _, who := range []string{"gadmin", "carol"} {
		if code, _ := e.call(who, "PUT", "/api/v0/groups/g/quotas/q1", raise); code != 403 {
			t.Errorf("%s raises its own quota: %d, want 403", who, code)
		}
		if code, _ := e.call(who, "DELETE", "/api/v0/groups/g/quotas/q1", ""); code != 403 {
			t.Errorf("%s deletes its own quota: %d, want 403", who, code)
		}
	}
	for _, who := range []string{"gadmin", "carol", "vera"} {
		if code, msg := e.call(who, "GET", "/api/v0/groups/g/quotas/q1", ""); code != 200 {
			t.Errorf("%s reads its group's quota: %d %s", who, code, msg)
		}
	}
	if code, _ := e.call("admin", "PUT", "/api/v0/groups/g/quotas/q1/status", `{"meta":{"id":"q1"},"status":{}}`); code != 404 && code != 405 {
		t.Errorf("a client wrote a quota's status: %d, want no such route", code)
	}
}

// TestQuotaCreatedOrLoweredBelowUsage: a quota created over what exists
// counts it at once (without waiting for a create or the periodic
// repair) and may be Exceeded; lowering a quota shows at once too.
func TestQuotaCreatedOrLoweredBelowUsage(t *testing.T) {
	e := newEnv(t)
	e.tenancy("g", "ns")
	for _, id := range []string{"vm1", "vm2", "vm3"} {
		e.mustCreate(quotaVM(id, ""))
	}
	e.mustCreate("meta: {apiType: corev0/quota, id: q1, group: g}\nspec: {hard: {virtualmachines: 5}}\n")
	waitQuota(t, e, "q1", func(q *api.Quota) bool {
		return q.Status.State == api.QuotaActive && *q.Status.Used.VirtualMachines == 3
	})
	checkQuotaMatchesStore(t, e, "q1")
	q := getQuota(t, e, "q1")
	q.Spec.Hard.VirtualMachines = new(int64(2))
	if _, err := client.For[*api.Quota](e.c).Update(ctx(t), q); err != nil {
		t.Fatal(err)
	}
	waitQuota(t, e, "q1", func(q *api.Quota) bool {
		return q.Status.State == api.QuotaExceeded &&
			strings.Contains(q.Status.Message, "virtualmachines: used 3, hard 2") && *q.Status.Used.VirtualMachines == 3
	})
	obj, _ := api.Decode([]byte(quotaVM("vm4", "")))
	if _, err := e.c.Create(ctx(t), obj); !errors.Is(err, api.ErrForbidden) {
		t.Fatalf("create over an exceeded quota: %v", err)
	}
	checkQuotaMatchesStore(t, e, "q1")
}

// waitQuota waits up to 5 s for quota id to satisfy ok.
func waitQuota(t *testing.T, e *env, id string, ok func(*api.Quota) bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		q := getQuota(t, e, id)
		if ok(q) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("quota %s: status %+v", id, q.Status)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestQuotaTwoAPIServersRacing: the ledger is the quota object itself,
// written under compare-and-swap, so two API servers over one store admit
// exactly the quota between them.
func TestQuotaTwoAPIServersRacing(t *testing.T) {
	e := newEnv(t)
	e.tenancy("g", "ns")
	e.mustCreate("meta: {apiType: corev0/quota, id: q1, group: g}\nspec: {hard: {virtualmachines: 7, memory: 2G}}\n")
	second := apiserver.New(e.store, apiserver.Options{Log: slog.New(slog.DiscardHandler), Heartbeat: time.Second})
	srv := httptest.NewServer(second.Handler())
	t.Cleanup(func() { srv.CloseClientConnections(); srv.Close(); second.Close() })
	other, err := client.New(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 40)
	for i := range errs {
		obj, err := api.Decode([]byte(quotaVM(fmt.Sprintf("vm%02d", i), "")))
		if err != nil {
			t.Fatal(err)
		}
		c := e.c
		if i%2 == 1 {
			c = other
		}
		wg.Go(func() { _, errs[i] = c.Create(ctx(t), obj) })
	}
	wg.Wait()
	admitted := 0
	for _, err := range errs {
		if err == nil {
			admitted++
		} else if !errors.Is(err, api.ErrForbidden) {
			t.Errorf("refusal %v, want 403", err)
		}
	}
	// 7 VMs, but 2G of memory holds 8 of 256M: the VM count binds first.
	if admitted != 7 {
		t.Fatalf("two API servers admitted %d, want 7", admitted)
	}
	checkQuotaMatchesStore(t, e, "q1")
}

// TestQuotaCreatesOfOneIDRacing: of ten creates of one id, one is stored;
// the nine others were admitted, then refused by the store, and each gave
// back its own entry (the uid in the key), never the winner's.
func TestQuotaCreatesOfOneIDRacing(t *testing.T) {
	e := newEnv(t)
	e.tenancy("g", "ns")
	e.mustCreate("meta: {apiType: corev0/quota, id: q1, group: g}\nspec: {hard: {virtualmachines: 20}}\n")
	var wg sync.WaitGroup
	errs := make([]error, 10)
	for i := range errs {
		obj, err := api.Decode([]byte(quotaVM("same", "")))
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() { _, errs[i] = e.c.Create(ctx(t), obj) })
	}
	wg.Wait()
	stored := 0
	for _, err := range errs {
		if err == nil {
			stored++
		} else if !errors.Is(err, api.ErrAlreadyExists) {
			t.Errorf("a losing create: %v, want 409 already exists", err)
		}
	}
	if stored != 1 {
		t.Fatalf("%d creates of one id stored", stored)
	}
	checkQuotaMatchesStore(t, e, "q1")
}
