package apiserver_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/apiserver"
	"github.com/humstack/humstack/internal/audit"
	"github.com/humstack/humstack/internal/pki"
	"github.com/humstack/humstack/internal/storage/bolt"
)

// clusterInfoEnv is an apiserver with a CA, RBAC and an audit log; the
// route's logic does not depend on the transport, so it is served over
// plain HTTP here (the agent's tests fetch it over HTTPS).
type clusterInfoEnv struct {
	ca    *pki.CA
	store *bolt.Store
	h     http.Handler
	sink  *auditSink
}

func newClusterInfoEnv(t *testing.T) *clusterInfoEnv {
	t.Helper()
	st, err := bolt.Open(filepath.Join(t.TempDir(), "db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ca, err := pki.NewCA(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	sink := &auditSink{}
	al := audit.New(sink, audit.Options{})
	s := apiserver.New(st, apiserver.Options{Log: slog.New(slog.DiscardHandler), Authorization: apiserver.AuthorizationRBAC,
		TLS: &apiserver.TLSOptions{CA: ca}, Audit: al})
	t.Cleanup(func() { s.Close(); al.Close(); st.Close() })
	return &clusterInfoEnv{ca: ca, store: st, h: s.Handler(), sink: sink}
}

// get asks for id's cluster info from source address from, with no
// credential.
func (e *clusterInfoEnv) get(id, from string) (int, string) {
	r := httptest.NewRequest(http.MethodGet, "/api/v0/jointokens/"+id+"/cluster-info", nil)
	r.RemoteAddr = from
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, r)
	b, _ := io.ReadAll(w.Result().Body)
	return w.Code, string(b)
}

func (e *clusterInfoEnv) token(t *testing.T, o pki.TokenOptions) (string, pki.JoinToken) {
	t.Helper()
	if o.TTL == 0 {
		o.TTL = time.Hour
	}
	tok, rec, err := pki.CreateJoinToken(context.Background(), e.store, o, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return tok, rec
}

// TestClusterInfoRoute: with RBAC on, an anonymous caller gets a valid
// token's cluster info, which verifies with the token and names the
// cluster CA, and holds neither the secret nor the hash; an unknown,
// expired, used-up or revoked token is the same 404. Both are audited,
// with the anonymous identity; the 404's line says the real reason.
func TestClusterInfoRoute(t *testing.T) {
	e := newClusterInfoEnv(t)
	ctx := context.Background()
	tok, rec := e.token(t, pki.TokenOptions{})
	const from = "192.0.2.7:40000"
	code, body := e.get(rec.ID, from)
	if code != http.StatusOK {
		t.Fatalf("valid token: %d %s", code, body)
	}
	_, secret, _ := pki.ParseJoinToken(tok)
	if strings.Contains(body, secret) || strings.Contains(body, rec.Hash) {
		t.Fatalf("cluster info carries the secret or the hash: %s", body)
	}
	var env struct {
		Data struct {
			ClusterInfo api.ClusterInfo `json:"clusterInfo"`
		} `json:"data"`
	}
	if err := json.Unmarshal([]byte(body), &env); err != nil {
		t.Fatal(err)
	}
	ca, err := pki.VerifyClusterInfo(tok, env.Data.ClusterInfo)
	if err != nil || !ca.Equal(e.ca.Cert) {
		t.Fatalf("cluster info does not verify with the token: %v", err)
	}
	if ev := e.sink.since(t, 0, 1)[0]; ev.Code != 200 || ev.Identity.Name != "system:anonymous" ||
		ev.Object.ID != rec.ID || ev.Object.Subresource != "cluster-info" || ev.SourceAddress != from {
		t.Errorf("audited %+v, want the anonymous 200 for %s from %s", ev, rec.ID, from)
	}

	_, expired := e.token(t, pki.TokenOptions{TTL: time.Nanosecond})
	used, urec := e.token(t, pki.TokenOptions{MaxUses: 1})
	if err := pki.UseJoinToken(ctx, e.store, used, "node-u", time.Now()); err != nil {
		t.Fatal(err)
	}
	_, revoked := e.token(t, pki.TokenOptions{})
	if _, err := pki.RevokeJoinToken(ctx, e.store, revoked.ID, "admin", time.Now()); err != nil {
		t.Fatal(err)
	}
	var answers []string
	for _, c := range []struct{ id, reason string }{
		{"0123456789ab", "not found"}, {expired.ID, "is expired"}, {urec.ID, "is used"}, {revoked.ID, "is revoked"},
	} {
		n := len(e.sink.events(t))
		code, body := e.get(c.id, from)
		if code != http.StatusNotFound {
			t.Errorf("%s (%s): %d %s, want 404", c.id, c.reason, code, body)
		}
		answers = append(answers, strings.ReplaceAll(body, c.id, "ID"))
		ev := e.sink.since(t, n, 1)[0]
		if ev.Code != 404 || ev.Identity.Name != "system:anonymous" || !strings.Contains(ev.Reason, c.reason) {
			t.Errorf("%s: audited %+v, want a 404 saying %q", c.id, ev, c.reason)
		}
	}
	for _, a := range answers[1:] {
		if a != answers[0] {
			t.Errorf("the 404s tell the reasons apart:\n%s\n%s", answers[0], a)
		}
	}
}

// TestClusterInfoMissLimit: one address gets 10 misses, then 503 for
// every cluster info request, a valid token's included, while another
// address is not held up; hits spend nothing.
func TestClusterInfoMissLimit(t *testing.T) {
	e := newClusterInfoEnv(t)
	_, rec := e.token(t, pki.TokenOptions{})
	const guesser, agent = "198.51.100.1:1000", "198.51.100.2:2000"
	for range 20 {
		if code, body := e.get(rec.ID, agent); code != http.StatusOK {
			t.Fatalf("hit: %d %s", code, body)
		}
	}
	for i := range 10 {
		if code, body := e.get("0123456789ab", guesser); code != http.StatusNotFound {
			t.Fatalf("miss %d: %d %s, want 404", i+1, code, body)
		}
	}
	for _, id := range []string{"0123456789ab", rec.ID} {
		if code, body := e.get(id, guesser); code != http.StatusServiceUnavailable {
			t.Errorf("%s after 10 misses: %d %s, want 503", id, code, body)
		}
	}
	if code, body := e.get(rec.ID, agent); code != http.StatusOK {
		t.Errorf("another address: %d %s", code, body)
	}
}

// TestClusterInfoNeedsTLS: without a CA (--tls off) there is nothing to
// vouch for: 503, as for a join.
func TestClusterInfoNeedsTLS(t *testing.T) {
	e := newEnv(t)
	resp, err := http.Get(e.srv.URL + "/api/v0/jointokens/0123456789ab/cluster-info")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("--tls off: %d, want 503", resp.StatusCode)
	}
}
