package apiserver

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/storage"
	"github.com/humstack/humstack/internal/storage/bolt"
)

// oldWriteList is the list answer as it was built before lists streamed:
// the whole list in one buffer. The streamed answer must be the same bytes.
func oldWriteList(k *api.Kind, items [][]byte, rev int64) []byte {
	buf := append([]byte(`{"code":200,"error":null,"data":{"`), k.Plural...)
	buf = append(buf, `":[`...)
	for i, it := range items {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, it...)
	}
	buf = append(buf, `]},"resourceVersion":"`...)
	buf = strconv.AppendInt(buf, rev, 10)
	return append(buf, "\"}\n"...)
}

// oldList is what the list handler answered before: store.List, every
// item rendered, one write.
func oldList(t *testing.T, h *resource, prefix string) []byte {
	kvs, rev, err := h.s.store.List(t.Context(), prefix)
	if err != nil {
		t.Fatal(err)
	}
	var items [][]byte
	for _, kv := range kvs {
		item, err := h.render(kv.Value, kv.ModRevision)
		if err != nil {
			t.Fatal(err)
		}
		items = append(items, item)
	}
	return oldWriteList(h.kind, items, rev)
}

// seedStore creates n objects of kind k in g/ns directly in the store,
// made by mk(i), from 16 goroutines (bolt commits them in groups).
func seedStore(t testing.TB, st storage.Store, k *api.Kind, n int, mk func(i int) api.Object) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for w := range 16 {
		wg.Go(func() {
			for i := w; i < n; i += 16 {
				o := mk(i)
				data, err := api.Encode(o)
				if err == nil {
					_, err = st.Create(t.Context(), objectKey(k, o.GetMeta()), data)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func seededVM(i int) api.Object {
	vm := api.VirtualMachineKind.New().(*api.VirtualMachine)
	vm.Meta.ID, vm.Meta.Group, vm.Meta.Namespace = fmt.Sprintf("vm%05d", i), "g", "ns"
	vm.Meta.UID = fmt.Sprintf("uid-%d", i)
	vm.Spec = api.VirtualMachineSpec{
		RequestVcpus: "1000m", LimitVcpus: "1000m", RequestMemory: "1G", LimitMemory: "1G",
		BlockStorageIDs: []string{"bs1"}, ActionState: api.ActionPowerOn,
		NICs: []api.VMNIC{{NetworkID: "net1", IPv4Address: fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255),
			Nameservers: []string{"8.8.8.8"}, DefaultGateway: "10.0.0.254"}},
	}
	return vm
}

// TestStreamedListSameBytes: a streamed list answer is byte for byte the
// answer built in memory before, for an empty list, one item, a list of
// several chunks and buffers, and a kind rendered through a redactor.
func TestStreamedListSameBytes(t *testing.T) {
	st, err := bolt.Open(filepath.Join(t.TempDir(), "db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s := New(st, Options{Log: slog.New(slog.DiscardHandler)})
	t.Cleanup(func() { s.Close(); st.Close() })
	vms := &resource{s: s, kind: api.VirtualMachineKind}
	tokens := &resource{s: s, kind: api.TokenKind}
	get := func(path string) []byte {
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, httptest.NewRequestWithContext(t.Context(), http.MethodGet, path, nil))
		if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "application/json" {
			t.Fatalf("GET %s: %d %q %s", path, rec.Code, rec.Header().Get("Content-Type"), rec.Body)
		}
		return rec.Body.Bytes()
	}
	check := func(what string, h *resource, prefix, path string) {
		t.Helper()
		want, got := oldList(t, h, prefix), get(path)
		if string(got) != string(want) {
			t.Fatalf("%s: streamed answer (%d bytes) differs from the old one (%d bytes):\n got %.300s\nwant %.300s", what, len(got), len(want), got, want)
		}
	}
	vmPath := "/api/v0/groups/g/namespaces/ns/virtualmachines"
	check("empty", vms, "/virtualmachines/g/ns/", vmPath)
	seedStore(t, st, api.VirtualMachineKind, 1, seededVM)
	check("one item", vms, "/virtualmachines/g/ns/", vmPath)
	seedStore(t, st, api.VirtualMachineKind, 1233, func(i int) api.Object { return seededVM(i + 1) })
	if got := get(vmPath); len(got) < 4*listBuffer {
		t.Fatalf("the list is %d bytes, not several buffers", len(got))
	}
	check("1234 items", vms, "/virtualmachines/g/ns/", vmPath)
	seedStore(t, st, api.TokenKind, 3, func(i int) api.Object {
		tok := api.TokenKind.New().(*api.Token)
		tok.Meta.ID = fmt.Sprintf("t%d", i)
		tok.Spec.Owner = "someone"
		tok.Status = api.TokenStatus{Salt: "c2FsdA", Hash: "aGFzaA"}
		return tok
	})
	body := get("/api/v0/tokens")
	check("tokens, redacted", tokens, "/tokens/", "/api/v0/tokens")
	if strings.Contains(string(body), "aGFzaA") || !strings.Contains(string(body), `"t2"`) {
		t.Fatalf("token list carries the hash: %s", body)
	}
}
