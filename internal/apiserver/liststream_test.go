package apiserver

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/storage"
	"github.com/humstack/humstack/internal/storage/bolt"
	"github.com/humstack/humstack/internal/storage/etcd"
	"github.com/humstack/humstack/internal/storage/etcd/etcdtest"
)

// listEnv is a server over HTTP on a bolt store (wrapped by wrap, if set)
// and a client of it.
func listEnv(t *testing.T, wrap func(storage.Store) storage.Store) (*bolt.Store, *httptest.Server, *client.Client) {
	t.Helper()
	st := openTestBolt(t)
	var served storage.Store = st
	if wrap != nil {
		served = wrap(st)
	}
	srv, c := serveStore(t, served)
	return st, srv, c
}

// serveStore serves the API from st over HTTP and returns a client of it.
func serveStore(t *testing.T, st storage.Store) (*httptest.Server, *client.Client) {
	s := New(st, Options{Log: slog.New(slog.DiscardHandler)})
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(func() { srv.CloseClientConnections(); srv.Close(); s.Close() })
	c, err := client.New(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	return srv, c
}

// openTestBolt opens a store in a temp dir, closed after the test.
func openTestBolt(t *testing.T) *bolt.Store {
	t.Helper()
	st, err := bolt.Open(filepath.Join(t.TempDir(), "db"), bolt.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

var gns = client.Scope{Group: "g", Namespace: "ns"}

// TestListPages walks 2,500 objects in pages of 1,000 while the collection
// changes between pages: 3 pages at one revision, each object once, and
// the pages plus a watch from their revision give the current state; on
// bolt and on etcd.
func TestListPages(t *testing.T) {
	t.Run("bolt", func(t *testing.T) { walkPages(t, openTestBolt(t), false) })
	t.Run("etcd", func(t *testing.T) {
		cl := etcdtest.Start(t, etcdtest.Options{NoFsync: true})
		st, err := etcd.Open(t.Context(), etcd.Config{Endpoints: cl.Endpoints()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		walkPages(t, st, true)
	})
}

// walkPages is TestListPages on st; exact says later pages are read
// exactly at the first page's revision (etcd), not from the current state.
func walkPages(t *testing.T, st storage.Store, exact bool) {
	_, c := serveStore(t, st)
	seedStore(t, st, api.VirtualMachineKind, 2500, seededVM)
	vms := client.For[*api.VirtualMachine](c)
	seen := map[string]*api.VirtualMachine{}
	var (
		cont  string
		rev0  int64
		sizes []int
	)
	for page := 0; page == 0 || cont != ""; page++ {
		items, rev, next, err := vms.ListPage(t.Context(), gns, 1000, cont)
		if err != nil {
			t.Fatalf("page %d: %v", page, err)
		}
		if page == 0 {
			rev0 = rev
			// Between pages: a creation and an update after the
			// first page, a deletion in a page still to come.
			storeOK(t)(st.Create(t.Context(), "/virtualmachines/g/ns/vm99999", encoded(t, seededVM(99999))))
			storeOK(t)(st.Update(t.Context(), "/virtualmachines/g/ns/vm01500", encoded(t, seededVM(1500)), 0))
			storeOK(t)(st.Delete(t.Context(), "/virtualmachines/g/ns/vm02000", 0))
		}
		if rev != rev0 {
			t.Fatalf("page %d at revision %d, the first at %d", page, rev, rev0)
		}
		for _, vm := range items {
			if seen[vm.Meta.ID] != nil {
				t.Fatalf("page %d gives %s again", page, vm.Meta.ID)
			}
			seen[vm.Meta.ID] = vm
		}
		sizes = append(sizes, len(items))
		cont = next
	}
	updated, _ := api.ParseRevision(seen["vm01500"].Meta.ResourceVersion)
	if deleted := seen["vm02000"] != nil; deleted != exact || (updated <= rev0) != exact {
		t.Fatalf("exact %v: the object deleted after the first page is in a later one: %v; the one updated is at %d, the pages at %d",
			exact, deleted, updated, rev0)
	}
	// bolt: the deletion after the revision is not in the pages (etcd
	// gives it; either way the watch below settles it).
	if len(sizes) != 3 || sizes[0] != 1000 || sizes[1] != 1000 || len(seen) < 2499 {
		t.Fatalf("pages of %v, %d objects; want 1000, 1000, ~500 of 2,500", sizes, len(seen))
	}
	if seen["vm99999"] != nil {
		t.Fatal("an object created after the first page's revision is in a later page")
	}
	for i := range 2500 {
		if id := seededVM(i).GetMeta().ID; seen[id] == nil && i != 2000 {
			t.Fatalf("%s missing from the pages", id)
		}
	}
	// Watch from the pages' revision to now: the result is the list now.
	now, err := st.Revision(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	events, err := vms.Watch(ctx, gns, rev0)
	if err != nil {
		t.Fatal(err)
	}
	for at := rev0; at < now; {
		ev, ok := <-events
		if !ok || ev.Err != nil {
			t.Fatalf("watch from %d ended at %d (%v)", rev0, at, ev.Err)
		}
		vm := ev.Object.(*api.VirtualMachine)
		if ev.Type == client.Deleted {
			delete(seen, vm.Meta.ID)
		} else {
			seen[vm.Meta.ID] = vm
		}
		at = ev.Revision
	}
	all, _, err := vms.List(t.Context(), gns)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != len(seen) {
		t.Fatalf("pages + watch: %d objects, list now: %d", len(seen), len(all))
	}
	for _, vm := range all {
		if got := seen[vm.Meta.ID]; got == nil || got.Meta.ResourceVersion != vm.Meta.ResourceVersion {
			t.Fatalf("%s: pages + watch give %v, the list now %s", vm.Meta.ID, got, vm.Meta.ResourceVersion)
		}
	}
}

func encoded(t *testing.T, o api.Object) []byte {
	data, err := api.Encode(o)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// storeOK returns a check of a store write's results.
func storeOK(t *testing.T) func(int64, error) {
	return func(_ int64, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
}

// TestListPageEdges: a limit as large as the list gives no token, a
// limit of 1 walks every object, and a full list carries no token.
func TestListPageEdges(t *testing.T) {
	st, srv, c := listEnv(t, nil)
	seedStore(t, st, api.VirtualMachineKind, 7, seededVM)
	vms := client.For[*api.VirtualMachine](c)
	items, _, next, err := vms.ListPage(t.Context(), gns, 7, "")
	if err != nil || len(items) != 7 || next != "" {
		t.Fatalf("limit 7 of 7: %d items, next %q, %v", len(items), next, err)
	}
	var ids []string
	for cont := ""; ; {
		items, _, next, err := vms.ListPage(t.Context(), gns, 1, cont)
		if err != nil || len(items) != 1 {
			t.Fatalf("limit 1 after %v: %d items, %v", ids, len(items), err)
		}
		ids = append(ids, items[0].Meta.ID)
		if cont = next; cont == "" {
			break
		}
	}
	if strings.Join(ids, ",") != "vm00000,vm00001,vm00002,vm00003,vm00004,vm00005,vm00006" {
		t.Fatalf("pages of 1 walked %v", ids)
	}
	body := getBody(t, srv.URL+"/api/v0/groups/g/namespaces/ns/virtualmachines", http.StatusOK)
	if strings.Contains(body, `"continue"`) {
		t.Fatalf("a full list carries a continue token: %.200s", body)
	}
}

func getBody(t *testing.T, url string, status int) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != status {
		t.Fatalf("GET %s: %d %s, want %d", url, resp.StatusCode, b, status)
	}
	return string(b)
}

// TestListPageBadQueries: a bad limit or token is a 400 naming the
// parameter; a token of another list too; a token older than the store's
// history is 410, as a watch from it would be.
func TestListPageBadQueries(t *testing.T) {
	st, srv, c := listEnv(t, nil)
	seedStore(t, st, api.VirtualMachineKind, 3, seededVM)
	_, _, tok, err := client.For[*api.VirtualMachine](c).ListPage(t.Context(), gns, 1, "")
	if err != nil || tok == "" {
		t.Fatalf("first page: token %q, %v", tok, err)
	}
	b64 := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	base := srv.URL + "/api/v0/groups/g/namespaces/ns/virtualmachines"
	for _, c := range []struct{ query, field string }{
		{"limit=0", "limit"},
		{"limit=10001", "limit"},
		{"limit=-1", "limit"},
		{"limit=ten", "limit"},
		{"limit=", "limit"},
		{"continue=!!!", "continue"},
		{"continue=", "continue"},
		{"continue=" + b64("not json"), "continue"},
		{"continue=" + b64(`{"rev":0,"prefix":"/virtualmachines/g/ns/","key":"/virtualmachines/g/ns/vm1"}`), "continue"},
		{"continue=" + b64(`{"rev":5,"prefix":"/virtualmachines/g/ns/","key":"/tokens/x"}`), "continue"},
		{"continue=" + b64(`{"rev":99999,"prefix":"/virtualmachines/g/ns/","key":"/virtualmachines/g/ns/vm1"}`), "continue"},
		{"continue=" + b64(`{"rev":5,"prefix":"/virtualmachines/g/ns2/","key":"/virtualmachines/g/ns2/vm1"}`), "continue"},
	} {
		body := getBody(t, base+"?"+c.query, http.StatusBadRequest)
		var e struct{ Fields []api.FieldError }
		if err := json.Unmarshal([]byte(body), &e); err != nil || len(e.Fields) != 1 || e.Fields[0].Field != c.field {
			t.Errorf("?%s: %s, want an error naming %s", c.query, body, c.field)
		}
	}
	// Another namespace's list refuses this one's token.
	getBody(t, srv.URL+"/api/v0/groups/g/namespaces/other/virtualmachines?limit=1&continue="+tok, http.StatusBadRequest)
	// History compacted past the token's revision: 410.
	var t0 continueToken
	raw, _ := base64.RawURLEncoding.DecodeString(tok)
	_ = json.Unmarshal(raw, &t0)
	storeOK(t)(st.Update(t.Context(), "/virtualmachines/g/ns/vm00000", encoded(t, seededVM(0)), 0))
	now, _ := st.Revision(t.Context())
	if err := st.Compact(t.Context(), now); err != nil {
		t.Fatal(err)
	}
	getBody(t, base+"?limit=1&continue="+tok, http.StatusGone)
	_, _, _, err = client.For[*api.VirtualMachine](c).ListPage(t.Context(), gns, 1, tok)
	if !errors.Is(err, api.ErrGone) || t0.Rev >= now {
		t.Fatalf("a token at %d after compaction to %d: %v, want ErrGone", t0.Rev, now, err)
	}
}
