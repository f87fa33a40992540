package cli

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/apiserver"
	"github.com/humstack/humstack/internal/storage/bolt"
)

// An address another VM holds is a conflict no retry resolves: apply
// writes once and reports it (api.ErrHeld), where a stale
// resourceVersion is retried.
func TestApplyDoesNotRetryHeldAddress(t *testing.T) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	st, err := bolt.Open(filepath.Join(t.TempDir(), "db"), bolt.Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	h := apiserver.New(st, apiserver.Options{Log: quiet}).Handler()
	var writes atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost || r.Method == http.MethodPut {
			writes.Add(1)
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	c, err := client.New(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, f := range []string{"01-group", "02-namespace", "05-network", "11-virtualmachine"} {
		for _, m := range loadManifests(t, "../../examples/seed/"+f+".yaml") {
			if _, err := apply(ctx, c, m); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
		}
	}
	vm2 := strings.Replace(readFile(t, "../../examples/seed/11-virtualmachine.yaml"), "id: vm1", "id: vm2", 1)
	ms := loadManifests(t, writeFile(t, "vm2.yaml", vm2))
	writes.Store(0)
	_, err = apply(ctx, c, ms[0])
	if !errors.Is(err, api.ErrHeld) || !strings.Contains(err.Error(), "is held by virtualmachine ns1/vm1") {
		t.Fatalf("vm2 at vm1's address: %v, want ErrHeld naming vm1", err)
	}
	if n := writes.Load(); n != 1 {
		t.Errorf("apply wrote %d times, want 1 (a held address is not retried)", n)
	}
}

// loadManifests decodes the one-document file path.
func loadManifests(t *testing.T, path string) []manifest {
	t.Helper()
	obj, err := api.Decode([]byte(readFile(t, path)))
	if err != nil {
		t.Fatal(err)
	}
	k, err := api.KindOf(obj)
	if err != nil {
		t.Fatal(err)
	}
	return []manifest{{obj: obj, kind: k, origin: path}}
}
