package apiserver_test

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/apiserver"
	"github.com/humstack/humstack/internal/audit"
	"github.com/humstack/humstack/internal/pki"
)

// rawGet GETs path from s over HTTPS as bearer and returns the status and
// the body as sent.
func rawGet(t *testing.T, s *tlsServer, bearer, path string) (int, string) {
	t.Helper()
	pool := x509.NewCertPool()
	pem, err := os.ReadFile(s.caFile())
	if err != nil || !pool.AppendCertsFromPEM(pem) {
		t.Fatalf("CA file: %v", err)
	}
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	req, _ := http.NewRequestWithContext(ctx(t), "GET", s.url+path, nil)
	req.Header.Set("Authorization", "Bearer "+bearer)
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestJoinTokenListRevoke: cluster-admin lists join tokens (state, uses,
// who made them; never a secret, salt or hash), revokes one, after which
// it is refused at join with a 401 that says so; an unknown id is 404; a
// revoke is in the audit log; join tokens cannot be watched.
func TestJoinTokenListRevoke(t *testing.T) {
	dir := t.TempDir()
	auditLog := filepath.Join(dir, "audit.log")
	s := startTLSWith(t, apiserver.Config{DataDir: dir, Authorization: apiserver.AuthorizationRBAC,
		Audit: audit.SinkConfig{Path: auditLog}})
	bearer := readToken(t, dir)
	admin := tokenClient(t, s, bearer)
	multi, err := admin.CreateJoinToken(ctx(t), api.JoinTokenRequest{TTL: "1h", Description: "rack 2"})
	if err != nil {
		t.Fatal(err)
	}
	once, err := admin.CreateJoinToken(ctx(t), api.JoinTokenRequest{TTL: "1h", MaxUses: 1})
	if err != nil {
		t.Fatal(err)
	}
	node := trusting(t, s.url, s.caFile(), nil)
	csr, _, _ := pki.NewNodeCSR("node-a")
	if _, err := node.Join(ctx(t), "node-a", once.Token, csr); err != nil {
		t.Fatal(err)
	}
	rec, err := admin.RevokeJoinToken(ctx(t), multi.ID)
	if err != nil || rec.State != api.JoinTokenRevoked || rec.RevokedBy != "admin" || rec.Revoked.IsZero() {
		t.Fatalf("revoke: %+v, %v", rec, err)
	}
	_, err = node.Join(ctx(t), "node-b", multi.Token, csr)
	if !errors.Is(err, api.ErrUnauthorized) || !strings.Contains(err.Error(), "join token "+multi.ID+" was revoked at") ||
		!strings.Contains(err.Error(), "by admin") {
		t.Errorf("join with a revoked token: err = %v, want 401 saying it was revoked by admin", err)
	}
	if _, err := admin.RevokeJoinToken(ctx(t), "0123456789ab"); !errors.Is(err, api.ErrNotFound) {
		t.Errorf("revoke an unknown id: err = %v, want 404", err)
	}

	toks, err := admin.ListJoinTokens(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]api.JoinTokenRecord{}
	for _, r := range toks {
		got[r.ID] = r
	}
	if m := got[multi.ID]; len(toks) != 2 || m.State != api.JoinTokenRevoked || m.Description != "rack 2" || m.CreatedBy != "admin" {
		t.Errorf("listed %+v; want %s revoked, made by admin", toks, multi.ID)
	}
	if o := got[once.ID]; o.State != api.JoinTokenUsed || o.Uses != 1 || !slices.Equal(o.UsedBy, []string{"node-a"}) {
		t.Errorf("single-use token after its join: %+v", o)
	}
	code, raw := rawGet(t, s, bearer, "/api/v0/jointokens")
	if code != http.StatusOK || !strings.Contains(raw, multi.ID) {
		t.Fatalf("list: %d %s", code, raw)
	}
	for _, tok := range []string{multi.Token, once.Token} {
		_, secret, _ := strings.Cut(tok, ".")
		for _, leak := range []string{secret, `"hash"`, `"salt"`} {
			if strings.Contains(raw, leak) {
				t.Errorf("the list shows %s: %s", leak, raw)
			}
		}
	}
	if code, msg := rawGet(t, s, bearer, "/api/v0/jointokens?watch=true"); code != http.StatusBadRequest {
		t.Errorf("watch join tokens: %d %s, want 400", code, msg)
	}

	s.stop() // flushes the audit log
	f, err := os.Open(auditLog)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	evs, err := audit.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	revokes := map[int]audit.Event{}
	for _, ev := range evs {
		if ev.Verb == "delete" && strings.HasPrefix(ev.Path, "/api/v0/jointokens/") {
			revokes[ev.Code] = ev
		}
	}
	if ev := revokes[http.StatusOK]; ev.Object.ID != multi.ID || ev.Identity.Name != "admin" || ev.Method != http.MethodDelete {
		t.Errorf("audit of the revoke: %+v (all revokes: %+v)", ev, revokes)
	}
	if ev := revokes[http.StatusNotFound]; ev.Object.ID != "0123456789ab" {
		t.Errorf("audit of the revoke of an unknown id: %+v", ev)
	}
}
