package apiserver_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/apiserver"
	"github.com/humstack/humstack/internal/storage/bolt"
	"github.com/humstack/humstack/internal/storage/etcd"
	"github.com/humstack/humstack/internal/storage/etcd/etcdtest"
)

// newEtcdEnv serves the API from an etcd store on the given members.
func newEtcdEnv(t testing.TB, endpoints []string) *env {
	t.Helper()
	st, err := etcd.Open(t.Context(), etcd.Config{Endpoints: endpoints})
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	srv := httptest.NewServer(apiserver.New(st, apiserver.Options{Log: log, Heartbeat: time.Second}).Handler())
	t.Cleanup(func() {
		srv.CloseClientConnections()
		srv.Close()
		st.Close()
	})
	c, err := client.New(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, store: st, srv: srv, c: c}
}

// TestEtcdSharedByTwoServers: two apiservers on one 3-member etcd cluster,
// each talking to a different member. A write through one is seen by a
// watch through the other at the same resourceVersion, and a watch resumes
// on either server from a resourceVersion the other reported.
func TestEtcdSharedByTwoServers(t *testing.T) {
	c := etcdtest.Start(t, etcdtest.Options{Members: 3, NoFsync: true})
	eps := c.Endpoints()
	a, b := newEtcdEnv(t, eps[:1]), newEtcdEnv(t, eps[1:2])
	groups := client.For[*api.Group](b.c)
	ch, err := groups.Watch(ctx(t), client.Scope{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	made := a.mustCreate("meta: {apiType: corev0/group, id: shared}")
	rv := made.GetMeta().ResourceVersion
	select {
	case ev := <-ch:
		if ev.Object.GetMeta().ID != "shared" || api.FormatRevision(ev.Revision) != rv {
			t.Fatalf("watch through b got %s at %d, want shared at %s", ev.Object.GetMeta().ID, ev.Revision, rv)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("watch through b saw nothing")
	}
	got, err := client.For[*api.Group](b.c).Get(ctx(t), client.Scope{}, "shared")
	if err != nil || got.Meta.ResourceVersion != rv {
		t.Fatalf("get through b = %v, %v; want resourceVersion %s", got, err, rv)
	}
	rev, _ := api.ParseRevision(rv)
	b.mustCreate("meta: {apiType: corev0/group, id: second}")
	resumed, err := client.For[*api.Group](a.c).Watch(ctx(t), client.Scope{}, rev)
	if err != nil {
		t.Fatal(err)
	}
	if ev := <-resumed; ev.Object.GetMeta().ID != "second" {
		t.Fatalf("watch resumed through a got %s, want second", ev.Object.GetMeta().ID)
	}
}

// TestExportImportBoltToEtcd moves a bolt installation onto etcd through
// a dump and checks every object arrived unchanged but for its
// resourceVersion.
func TestExportImportBoltToEtcd(t *testing.T) {
	dataDir := t.TempDir()
	st, err := bolt.Open(filepath.Join(dataDir, "humstack.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	srv := httptest.NewServer(apiserver.New(st, apiserver.Options{Log: log}).Handler())
	c, _ := client.New(srv.URL)
	old := &env{t: t, store: st, srv: srv, c: c}
	old.tenancy("g", "ns1", "ns2")
	old.mustCreate(network("g", "ns1", "net1"))
	before := listAll(t, c)
	srv.Close()
	st.Close()

	var dump bytes.Buffer
	if err := apiserver.Export(ctx(t), apiserver.Config{DataDir: dataDir, Log: log}, &dump); err != nil {
		t.Fatal(err)
	}
	cl := etcdtest.Start(t, etcdtest.Options{NoFsync: true})
	cfg := apiserver.Config{Store: "etcd", Etcd: apiserver.EtcdConfig{Endpoints: cl.Endpoints()}, Log: log}
	if err := apiserver.Import(ctx(t), cfg, bytes.NewReader(dump.Bytes()[:dump.Len()-10])); err == nil {
		t.Fatal("import of a truncated dump succeeded")
	}
	if err := apiserver.Import(ctx(t), cfg, bytes.NewReader(dump.Bytes())); err != nil {
		t.Fatal(err)
	}
	if err := apiserver.Import(ctx(t), cfg, bytes.NewReader(dump.Bytes())); err == nil {
		t.Fatal("import into a non-empty store succeeded")
	}
	imported := newEtcdEnv(t, cl.Endpoints())
	after := listAll(t, imported.c)
	// The address pools' ledger goes along (ipam.go): the network's DHCP
	// server keeps its address.
	if _, err := imported.store.Get(ctx(t), "/ipam/g/ns1/net1/10.0.0.253"); err != nil {
		t.Errorf("the imported store has no ledger key of net1's DHCP server: %v", err)
	}
	if len(after) != len(before) || len(before) != 4 {
		t.Fatalf("after import %d objects, before %d (want 4)", len(after), len(before))
	}
	for k, v := range before {
		if after[k] != v {
			t.Errorf("%s: before %s\nafter %s", k, v, after[k])
		}
	}
}

// listAll returns every object of every kind, as JSON without its
// resourceVersion, by kind and key.
func listAll(t *testing.T, c *client.Client) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, k := range api.Kinds() {
		objs, _, err := c.List(ctx(t), k, client.Scope{})
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range objs {
			m := o.GetMeta()
			m.ResourceVersion = ""
			b, err := json.Marshal(o)
			if err != nil {
				t.Fatal(err)
			}
			out[fmt.Sprintf("%s %s/%s/%s", k.Name, m.Group, m.Namespace, m.ID)] = string(b)
		}
	}
	return out
}

// etcdBenchEnv is benchEnv on a one-member etcd with fsync on, like bolt's.
func etcdBenchEnv(b *testing.B) (*env, client.Resource[*api.VirtualMachine]) {
	cl := etcdtest.Start(b, etcdtest.Options{})
	e := newEtcdEnv(b, cl.Endpoints())
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256, MaxConnsPerHost: 256}}
	c, err := client.New(e.srv.URL, client.WithHTTPClient(hc))
	if err != nil {
		b.Fatal(err)
	}
	e.c = c
	e.tenancy("g", "ns")
	return e, client.For[*api.VirtualMachine](c)
}

// BenchmarkCreateEtcd is BenchmarkCreate on etcd.
func BenchmarkCreateEtcd(b *testing.B) {
	for _, c := range concurrencies {
		b.Run(fmt.Sprintf("c=%d", c), func(b *testing.B) {
			_, vms := etcdBenchEnv(b)
			b.ResetTimer()
			report(b, runOps(b, c, func(i int) error {
				_, err := vms.Create(b.Context(), newVM(fmt.Sprintf("vm%d", i)))
				return err
			}))
		})
	}
}

// BenchmarkWatch100Etcd is BenchmarkWatch100 on etcd: delivery latency to
// 100 watchers, from the start of a create to each watcher holding it.
func BenchmarkWatch100Etcd(b *testing.B) {
	const watchers = 100
	_, vms := etcdBenchEnv(b)
	starts := make([]time.Time, b.N)
	var mu sync.Mutex
	var lat []time.Duration
	var wg sync.WaitGroup
	for range watchers {
		ch, err := vms.Watch(b.Context(), scopeGNS, 0)
		if err != nil {
			b.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := make([]time.Duration, 0, b.N)
			for range b.N {
				select {
				case ev := <-ch:
					var n int
					fmt.Sscanf(ev.Object.GetMeta().ID, "vm%d", &n)
					mu.Lock()
					local = append(local, time.Since(starts[n]))
					mu.Unlock()
				case <-time.After(30 * time.Second):
					b.Error("watcher timed out")
					return
				}
			}
			mu.Lock()
			lat = append(lat, local...)
			mu.Unlock()
		}()
	}
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		mu.Lock()
		starts[i] = time.Now()
		mu.Unlock()
		if _, err := vms.Create(b.Context(), newVM(fmt.Sprintf("vm%d", i))); err != nil {
			b.Fatal(err)
		}
	}
	wg.Wait()
	wall := time.Since(start)
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	report(b, result{lat, wall})
	b.ReportMetric(float64(len(lat)), "deliveries")
}

// TestEtcdOneCA: two apiservers on one etcd with --tls auto serve with one
// CA, kept in the store (under a key no API path reaches): both print its
// fingerprint, and a client pinning it is served by either. That two
// starting at once make one CA is pki's TestStoreCAOnce.
func TestEtcdOneCA(t *testing.T) {
	c := etcdtest.Start(t, etcdtest.Options{Members: 1, NoFsync: true})
	var servers []*tlsServer
	for range 2 {
		servers = append(servers, startTLSWith(t, apiserver.Config{
			Store: "etcd", Etcd: apiserver.EtcdConfig{Endpoints: c.Endpoints()}, DataDir: t.TempDir(),
			Authorization: apiserver.AuthorizationOff,
		}))
	}
	fp := servers[0].fingerprint(t)
	if other := servers[1].fingerprint(t); other != fp {
		t.Fatalf("two CAs: %s and %s", fp, other)
	}
	for _, s := range servers {
		pin, err := client.PinCA(fp)
		if err != nil {
			t.Fatal(err)
		}
		cl, _ := client.New(s.url, client.WithTLS(pin))
		if _, _, err := cl.List(ctx(t), api.GroupKind, client.Scope{}); err != nil {
			t.Errorf("%s: %v", s.url, err)
		}
	}
}
