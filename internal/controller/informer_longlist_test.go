package controller_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/apiserver"
	"github.com/humstack/humstack/internal/controller"
	"github.com/humstack/humstack/internal/storage"
	"github.com/humstack/humstack/internal/storage/bolt"
)

// writesMidList runs hook once, before the first read of a later chunk of
// a VM list: writes that land while a long list is streamed.
type writesMidList struct {
	storage.Store
	hook  func()
	fired atomic.Bool
}

func (w *writesMidList) Range(ctx context.Context, prefix string, opts storage.RangeOptions, fn func(storage.KV) error) (int64, string, error) {
	if strings.HasPrefix(prefix, "/virtualmachines/") && opts.Rev != 0 && w.fired.CompareAndSwap(false, true) {
		w.hook()
	}
	return w.Store.Range(ctx, prefix, opts, fn)
}

func storedVM(t *testing.T, id, label string) []byte {
	vm := api.VirtualMachineKind.New().(*api.VirtualMachine)
	vm.Meta.ID, vm.Meta.Group, vm.Meta.Namespace = id, "g", "ns"
	vm.Meta.Labels = map[string]string{"l": label}
	vm.Spec = api.VirtualMachineSpec{RequestVcpus: "1000m", LimitVcpus: "1000m", RequestMemory: "1G", LimitMemory: "1G",
		ActionState: api.ActionPowerOn}
	data, err := api.Encode(vm)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestInformerLongListNeverGoesBack: an object changed twice while a long
// list is streamed is listed as it is after both changes (bolt reads the
// later chunks from the current state); the watch from the list's revision
// then replays both changes, and the informer must not hand them on: its
// handlers never see an object go back to an older resourceVersion.
func TestInformerLongListNeverGoesBack(t *testing.T) {
	st, err := bolt.Open(filepath.Join(t.TempDir(), "db"), bolt.Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	const target = "/virtualmachines/g/ns/vm0550"
	w := &writesMidList{Store: st, hook: func() {
		for _, l := range []string{"one", "two"} {
			if _, err := st.Update(context.Background(), target, storedVM(t, "vm0550", l), 0); err != nil {
				t.Error(err)
			}
		}
	}}
	srv := httptest.NewServer(apiserver.New(w, apiserver.Options{Log: quiet, Heartbeat: time.Second}).Handler())
	t.Cleanup(func() { srv.CloseClientConnections(); srv.Close() })
	for i := range 600 { // more than the server reads at once (500)
		id := fmt.Sprintf("vm%04d", i)
		if _, err := st.Create(t.Context(), "/virtualmachines/g/ns/"+id, storedVM(t, id, "zero")); err != nil {
			t.Fatal(err)
		}
	}
	c := mustClient(t, srv.URL)
	inf := controller.NewInformer(c, api.VirtualMachineKind, client.Scope{Group: "g", Namespace: "ns"}, nil, quiet)
	var (
		mu   sync.Mutex
		seen []string // the target's resourceVersions as handed on
	)
	inf.AddHandler(func(_, o api.Object) {
		if o != nil && o.GetMeta().ID == "vm0550" {
			mu.Lock()
			seen = append(seen, o.GetMeta().ResourceVersion+"/"+o.GetMeta().Labels["l"])
			mu.Unlock()
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- inf.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	if !inf.WaitSynced(testCtx(t)) {
		t.Fatal("not synced")
	}
	if !w.fired.Load() {
		t.Fatal("the list was read at once: no later chunk")
	}
	// A third change, through the API: once the cache has it, the watch
	// has delivered the two before it.
	vms := client.For[*api.VirtualMachine](c)
	cur, err := vms.Get(t.Context(), client.Scope{Group: "g", Namespace: "ns"}, "vm0550")
	if err != nil {
		t.Fatal(err)
	}
	cur.Meta.Labels["l"] = "three"
	if _, err := vms.Update(t.Context(), cur); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the third change in the cache", func() bool {
		o, ok := inf.Get(controller.Key{Group: "g", Namespace: "ns", ID: "vm0550"})
		return ok && o.GetMeta().Labels["l"] == "three"
	})
	mu.Lock()
	defer mu.Unlock()
	var last int64
	for _, s := range seen {
		rv, _, _ := strings.Cut(s, "/")
		n, _ := api.ParseRevision(rv)
		if n < last {
			t.Fatalf("handlers saw vm0550 go back in time: %v", seen)
		}
		last = n
	}
	if len(seen) < 2 || !strings.HasSuffix(seen[0], "/two") {
		t.Fatalf("handlers saw %v; want the listed state (two) first, then three", seen)
	}
}
