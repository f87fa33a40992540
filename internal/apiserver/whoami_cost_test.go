package apiserver_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/humstack/humstack/internal/apiserver"
	"github.com/humstack/humstack/internal/auth"
	"github.com/humstack/humstack/internal/storage"
	"github.com/humstack/humstack/internal/storage/bolt"
)

// countingStore counts the calls of a store that cost a round trip to
// etcd and that the authorizer makes: Revision and List.
type countingStore struct {
	storage.Store
	revisions, lists atomic.Int64
}

func (c *countingStore) Revision(ctx context.Context) (int64, error) {
	c.revisions.Add(1)
	return c.Store.Revision(ctx)
}

func (c *countingStore) List(ctx context.Context, prefix string) ([]storage.KV, int64, error) {
	c.lists.Add(1)
	return c.Store.List(ctx, prefix)
}

// TestWhoamiCost: whoami for a viewer of one namespace (most questions
// refused) while the cluster is busy with writes costs no Revision call
// and no policy reread: one snapshot answers every question.
func TestWhoamiCost(t *testing.T) {
	st, err := bolt.Open(filepath.Join(t.TempDir(), "db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cs := &countingStore{Store: st}
	s := apiserver.New(cs, apiserver.Options{Log: slog.New(slog.DiscardHandler), Authorization: apiserver.AuthorizationRBAC,
		Authenticator: &auth.TokenAuthenticator{Lookup: apiserver.TokenLookup(st)}})
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(func() { srv.Close(); s.Close(); st.Close() })
	tok := storeToken(t, st, "viewer")
	admin := storeToken(t, st, "admin", auth.GroupMasters)
	for _, c := range [][2]string{
		{"/api/v0/groups", `{"meta":{"id":"g1"}}`},
		{"/api/v0/groups/g1/namespaces", `{"meta":{"id":"ns1"}}`},
		{"/api/v0/groups/g1/rolebindings", `{"meta":{"id":"v"},"spec":{"role":"viewer","namespace":"ns1","subjects":[{"kind":"user","name":"viewer"}]}}`},
	} {
		req, _ := http.NewRequestWithContext(ctx(t), "POST", srv.URL+c[0], strings.NewReader(c[1]))
		req.Header.Set("Authorization", "Bearer "+admin)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != 201 {
			t.Fatalf("POST %s: %v %v", c[0], resp, err)
		}
		resp.Body.Close()
	}

	busy, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { // unrelated writes: the store's revision moves on
		defer close(done)
		for i := 0; busy.Err() == nil; i++ {
			_, _ = st.Create(busy, "/_test/busy/"+strconv.Itoa(i), []byte("{}"))
			time.Sleep(time.Millisecond)
		}
	}()
	defer func() { stop(); <-done }()

	whoami := func() {
		req, _ := http.NewRequestWithContext(ctx(t), "GET", srv.URL+"/api/v0/whoami", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("whoami: %v %v", resp, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(b), `"namespace":"ns1"`) {
			t.Fatalf("whoami: %s, want the viewer's scope", b)
		}
	}
	whoami() // the policy's first read
	time.Sleep(20 * time.Millisecond)
	revs, lists := cs.revisions.Load(), cs.lists.Load()
	whoami()
	if r, l := cs.revisions.Load()-revs, cs.lists.Load()-lists; r != 0 || l != 0 {
		t.Errorf("one whoami of a viewer: %d Revision calls, %d Lists; want 0 and 0", r, l)
	}
}
