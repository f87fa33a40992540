package e2e

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
)

func mustClient(t *testing.T, addr string) *client.Client {
	c, err := client.New(addr)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func newGroup(id string) *api.Group {
	g := api.GroupKind.New().(*api.Group)
	g.Meta.ID = id
	return g
}

func newNamespace(g, id string) *api.Namespace {
	ns := api.NamespaceKind.New().(*api.Namespace)
	ns.Meta.ID, ns.Meta.Group = id, g
	return ns
}

// TestAcknowledgedCreatesSurviveKill9: kill -9 during a burst of concurrent
// creates; after a restart every acknowledged create is there.
func TestAcknowledgedCreatesSurviveKill9(t *testing.T) {
	killDuringBurst(t, func(ctx context.Context, c *client.Client, id string) error {
		_, err := client.For[*api.Namespace](c).Create(ctx, newNamespace("g", id))
		return err
	}, func(ctx context.Context, c *client.Client) ([]string, error) {
		nss, _, err := client.For[*api.Namespace](c).List(ctx, client.Scope{Group: "g"})
		return idsOf(nss), err
	})
}

// TestAcknowledgedVMsSurviveKill9: the same for VMs with addresses, whose
// creates defer their address reservations to the VM's own commit
// (storage.DeferSync): an acknowledged VM is there after kill -9, with
// its address, and the address is still its own.
func TestAcknowledgedVMsSurviveKill9(t *testing.T) {
	addr := func(id string) string {
		var w, i int
		_, _ = fmt.Sscanf(id, "w%d-%d", &w, &i)
		return fmt.Sprintf("10.1.%d.%d", w, i%250+1)
	}
	vm := func(id, address string) *api.VirtualMachine {
		v := api.VirtualMachineKind.New().(*api.VirtualMachine)
		v.Meta.ID, v.Meta.Group, v.Meta.Namespace = id, "g", "ns"
		v.Spec = api.VirtualMachineSpec{RequestVcpus: "100m", LimitVcpus: "1", RequestMemory: "64M", LimitMemory: "64M",
			NICs: []api.VMNIC{{NetworkID: "net1", IPv4Address: address}}}
		return v
	}
	var c *client.Client
	killDuringBurst(t, func(ctx context.Context, cl *client.Client, id string) error {
		if _, err := client.For[*api.Namespace](cl).Create(ctx, newNamespace("g", "ns")); err != nil && !errors.Is(err, api.ErrAlreadyExists) {
			return err
		}
		_, err := client.For[*api.VirtualMachine](cl).Create(ctx, vm(id, addr(id)))
		return err
	}, func(ctx context.Context, cl *client.Client) ([]string, error) {
		c = cl
		vms, _, err := client.For[*api.VirtualMachine](cl).List(ctx, client.Scope{Group: "g", Namespace: "ns"})
		for _, v := range vms {
			if got := v.Spec.NICs[0].IPv4Address; got != addr(v.Meta.ID) {
				t.Errorf("%s has address %q after restart, want %s", v.Meta.ID, got, addr(v.Meta.ID))
			}
		}
		return idsOf(vms), err
	})
	// The first VM's address is still held: another VM cannot take it.
	_, err := client.For[*api.VirtualMachine](c).Create(testCtx(t, time.Minute), vm("intruder", addr("w0-0")))
	if !errors.Is(err, api.ErrHeld) {
		t.Fatalf("a VM on w0-0's address after the restart: %v, want Held", err)
	}
}

func idsOf[T api.Object](objs []T) []string {
	ids := make([]string, len(objs))
	for i, o := range objs {
		ids[i] = o.GetMeta().ID
	}
	return ids
}

// killDuringBurst creates objects from 16 workers (ids w<worker>-<n>),
// kills the API server with SIGKILL once 500 are acknowledged, restarts
// it and checks that list finds every acknowledged one.
func killDuringBurst(t *testing.T, create func(context.Context, *client.Client, string) error, list func(context.Context, *client.Client) ([]string, error)) {
	dataDir := filepath.Join(t.TempDir(), "database")
	port := freePort(t)
	srv := startAPIServer(t, dataDir, port)
	c := mustClient(t, srv.addr)
	ctx := testCtx(t, 2*time.Minute)
	if _, err := client.For[*api.Group](c).Create(ctx, newGroup("g")); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	acked := map[string]bool{}
	var wg sync.WaitGroup
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				id := fmt.Sprintf("w%d-%d", w, i)
				if err := create(ctx, c, id); err != nil {
					return // the server is gone
				}
				mu.Lock()
				acked[id] = true
				mu.Unlock()
			}
		}()
	}
	// Kill in the middle of the burst, once a good number is acknowledged.
	for {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= 500 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	srv.kill()
	wg.Wait()

	srv = startAPIServer(t, dataDir, port)
	ids, err := list(ctx, mustClient(t, srv.addr))
	if err != nil {
		t.Fatal(err)
	}
	present := map[string]bool{}
	for _, id := range ids {
		present[id] = true
	}
	lost := 0
	for id := range acked {
		if !present[id] {
			lost++
			t.Errorf("acknowledged create %s lost", id)
		}
	}
	t.Logf("%d creates acknowledged before kill -9, %d present after restart (unacknowledged in-flight ones may land), %d lost",
		len(acked), len(present), lost)
}

// TestWatchResumesAcrossRestart: a client watch from revision R sees every
// change exactly once, in order, though the apiserver restarts in between.
func TestWatchResumesAcrossRestart(t *testing.T) {
	dataDir := filepath.Join(t.TempDir(), "database")
	port := freePort(t)
	srv := startAPIServer(t, dataDir, port)
	c := mustClient(t, srv.addr)
	ctx := testCtx(t, 2*time.Minute)
	groups := client.For[*api.Group](c)
	_, from, err := groups.List(ctx, client.Scope{})
	if err != nil {
		t.Fatal(err)
	}
	ch, err := groups.Watch(ctx, client.Scope{}, from)
	if err != nil {
		t.Fatal(err)
	}
	create := func(first, n int) {
		for i := first; i < first+n; i++ {
			if _, err := groups.Create(ctx, newGroup(fmt.Sprintf("g%d", i))); err != nil {
				t.Fatal(err)
			}
		}
	}
	create(0, 10)
	srv.kill() // the hard way: no goodbye to the watch stream
	startAPIServer(t, dataDir, port)
	create(10, 10)
	last := from
	for i := 0; i < 20; i++ {
		select {
		case ev, ok := <-ch:
			if !ok || ev.Err != nil {
				t.Fatalf("watch ended after %d events: %v", i, ev.Err)
			}
			if want := fmt.Sprintf("g%d", i); ev.Object.GetMeta().ID != want || ev.Type != client.Added || ev.Revision <= last {
				t.Fatalf("event %d: %s %s rev %d (last %d), want ADDED %s", i, ev.Type, ev.Object.GetMeta().ID, ev.Revision, last, want)
			}
			last = ev.Revision
		case <-time.After(30 * time.Second):
			t.Fatalf("timed out after %d events", i)
		}
	}
	select {
	case ev := <-ch:
		t.Fatalf("extra event %+v", ev)
	case <-time.After(300 * time.Millisecond):
	}
}

// TestGracefulShutdown: SIGTERM ends the process promptly even with a watch open.
func TestGracefulShutdown(t *testing.T) {
	dataDir := filepath.Join(t.TempDir(), "database")
	srv := startAPIServer(t, dataDir, freePort(t))
	c := mustClient(t, srv.addr)
	ctx := testCtx(t, time.Minute)
	ch, err := c.Watch(ctx, api.GroupKind, client.Scope{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	srv.stop()
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("shutdown took %v with a watch open", d)
	}
	_ = ch
	if _, _, err := c.List(ctx, api.GroupKind, client.Scope{}); !errors.Is(err, api.ErrUnavailable) {
		t.Fatalf("after shutdown: %v, want ErrUnavailable", err)
	}
}
