package client

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/humstack/humstack/api"
)

// TestTokenOnEveryPath: WithToken's bearer token goes with requests,
// watches and console dials alike; without it, none is sent.
func TestTokenOnEveryPath(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]string{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen[r.URL.Path+"?"+r.URL.RawQuery] = r.Header.Get("Authorization")
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"code":401,"error":"token expired","reason":"Unauthorized","data":null}`))
	}))
	defer srv.Close()
	sc := Scope{Group: "g", Namespace: "ns"}
	for _, tok := range []string{"hst_t.secret", ""} {
		mu.Lock()
		seen = map[string]string{}
		mu.Unlock()
		var opts []Option
		if tok != "" {
			opts = append(opts, WithToken(tok))
		}
		c, err := New(srv.URL, opts...)
		if err != nil {
			t.Fatal(err)
		}
		ctx := t.Context()
		if _, _, err := c.List(ctx, api.VirtualMachineKind, sc); err == nil || err.Error() != "token expired" {
			t.Errorf("list: %v, want the server's 401 line", err)
		}
		_, _ = c.Watch(ctx, api.VirtualMachineKind, sc, 0)
		_, _ = c.DialConsole(ctx, sc, "vm1")
		_, _ = c.ConsoleLog(ctx, sc, "vm1")
		want := ""
		if tok != "" {
			want = "Bearer " + tok
		}
		mu.Lock()
		if len(seen) < 4 {
			t.Errorf("token %q: only %d distinct requests: %v", tok, len(seen), seen)
		}
		for path, got := range seen {
			if got != want {
				t.Errorf("token %q: %s sent Authorization %q", tok, path, got)
			}
		}
		mu.Unlock()
	}
}
