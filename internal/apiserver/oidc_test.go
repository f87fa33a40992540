package apiserver_test

import (
	"context"
	"encoding/pem"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/humstack/humstack/internal/apiserver"
	"github.com/humstack/humstack/internal/auth/issuertest"
	"github.com/humstack/humstack/internal/testenv/apiservertest"
)

// oidcServer is an apiserver started by Run with --authorization rbac and
// the --oidc-* flags of is (its CA in --oidc-ca-file).
type oidcServer struct {
	t     *testing.T
	base  string
	admin string
}

func startOIDC(t *testing.T, is *issuertest.Issuer, oc apiserver.OIDCConfig) *oidcServer {
	t.Helper()
	dir := t.TempDir()
	caFile := filepath.Join(dir, "issuer-ca.pem")
	pemCA := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: is.Server.Certificate().Raw})
	if err := os.WriteFile(caFile, pemCA, 0o600); err != nil {
		t.Fatal(err)
	}
	oc.IssuerURL, oc.ClientID, oc.CAFile = is.URL, issuertest.ClientID, caFile
	port := apiservertest.Run(t, apiserver.Config{DataDir: filepath.Join(dir, "db"),
		Authorization: apiserver.AuthorizationRBAC, TLS: apiserver.TLSConfig{InsecureHTTP: true}, OIDC: oc})
	s := &oidcServer{t: t, base: "http://127.0.0.1:" + strconv.Itoa(port)}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		resp, err := http.Get(s.base + "/healthz")
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, "db", apiserver.BootstrapTokenFile))
	if err != nil {
		t.Fatal(err)
	}
	s.admin = strings.TrimSpace(string(b))
	return s
}

// call sends a request with bearer and returns the status and body.
func (s *oidcServer) call(bearer, method, path, body string) (int, string) {
	s.t.Helper()
	req, _ := http.NewRequest(method, s.base+path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+bearer)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (s *oidcServer) mustCreate(path, body string) {
	s.t.Helper()
	if code, msg := s.call(s.admin, "POST", path, body); code != 201 {
		s.t.Fatalf("POST %s: %d %s", path, code, msg)
	}
}

// TestOIDCEndToEnd: the issuer is down when the apiserver starts (it starts
// anyway; ID tokens get 401 "OIDC issuer unavailable"); once it is up, an
// ID token of a member of "students", bound as viewer of g1/ns1 by a
// group binding, lists ns1 (200), cannot see ns2 (404) nor write (403);
// bad tokens are 401 with one line, and humstack's own token still works.
func TestOIDCEndToEnd(t *testing.T) {
	is := issuertest.New(t)
	is.SetDown(true)
	s := startOIDC(t, is, apiserver.OIDCConfig{UsernameClaim: "preferred_username", GroupsPrefix: "kc:"})
	claims := is.Claims("0f6c-uuid")
	claims["preferred_username"], claims["groups"] = "alice", []string{"students"}
	tok := is.Token(t, claims)
	const ns1 = "/api/v0/groups/g1/namespaces/ns1/virtualmachines"
	if code, msg := s.call(tok, "GET", ns1, ""); code != 401 || !strings.Contains(msg, "OIDC issuer unavailable") {
		t.Fatalf("issuer down: %d %s", code, msg)
	}
	is.SetDown(false)

	s.mustCreate("/api/v0/groups", `{"meta":{"id":"g1"}}`)
	s.mustCreate("/api/v0/groups/g1/namespaces", `{"meta":{"id":"ns1"}}`)
	s.mustCreate("/api/v0/groups/g1/namespaces", `{"meta":{"id":"ns2"}}`)
	s.mustCreate("/api/v0/groups/g1/rolebindings",
		`{"meta":{"id":"students-view"},"spec":{"role":"viewer","namespace":"ns1","subjects":[{"kind":"group","name":"kc:students"}]}}`)

	// Discovery is retried with a backoff (1 s first): wait for it.
	deadline := time.Now().Add(15 * time.Second)
	for {
		code, msg := s.call(tok, "GET", ns1, "")
		if code == 200 {
			break
		}
		if code != 401 || !strings.Contains(msg, "OIDC issuer unavailable") || time.Now().After(deadline) {
			t.Fatalf("issuer up again: %d %s", code, msg)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if code, msg := s.call(tok, "GET", "/api/v0/groups/g1/namespaces/ns2/virtualmachines", ""); code != 404 {
		t.Errorf("other namespace: %d %s, want 404", code, msg)
	}
	vm := `{"meta":{"id":"vm1"},"spec":{"requests":{"vcpus":"1","memory":"1G"}}}`
	if code, msg := s.call(tok, "POST", ns1, vm); code != 403 {
		t.Errorf("viewer creating a VM: %d %s, want 403", code, msg)
	}
	other := is.Claims("bob")
	other["aud"] = "another-client"
	expired := is.Claims("alice")
	expired["exp"] = time.Now().Add(-time.Hour).Unix()
	for name, bad := range map[string]string{
		"wrong audience": is.Token(t, other),
		"expired":        is.Token(t, expired),
		"alg none":       issuertest.Unsigned(t, claims),
		"wrong key":      issuertest.Sign(t, issuertest.NewKey(t), issuertest.KeyID, claims),
	} {
		code, msg := s.call(bad, "GET", ns1, "")
		if code != 401 || strings.Count(strings.TrimSpace(msg), "\n") != 0 {
			t.Errorf("%s: %d %q, want 401 with one line", name, code, msg)
		}
	}
	if code, msg := s.call(s.admin, "GET", "/api/v0/groups/g1/namespaces/ns2/virtualmachines", ""); code != 200 {
		t.Errorf("admin token next to OIDC: %d %s", code, msg)
	}
}

// OIDC flags are refused where they cannot work, naming the flag.
func TestOIDCFlagErrors(t *testing.T) {
	cases := []struct {
		authz string
		oc    apiserver.OIDCConfig
		want  string
	}{
		{apiserver.AuthorizationOff, apiserver.OIDCConfig{IssuerURL: "https://idp.example", ClientID: "x"}, "--oidc-issuer-url needs --authorization rbac"},
		{apiserver.AuthorizationRBAC, apiserver.OIDCConfig{ClientID: "x"}, "--oidc-client-id needs --oidc-issuer-url"},
		{apiserver.AuthorizationRBAC, apiserver.OIDCConfig{GroupsPrefix: "kc:"}, "--oidc-groups-prefix needs --oidc-issuer-url"},
		{apiserver.AuthorizationRBAC, apiserver.OIDCConfig{IssuerURL: "https://idp.example"}, "--oidc-client-id: required"},
		{apiserver.AuthorizationRBAC, apiserver.OIDCConfig{IssuerURL: "http://idp.example", ClientID: "x"}, "--oidc-issuer-url: want an https:// URL"},
		{apiserver.AuthorizationRBAC, apiserver.OIDCConfig{IssuerURL: "https://idp.example", ClientID: "x", CAFile: "/nonexistent"}, "--oidc-ca-file"},
		{apiserver.AuthorizationRBAC, apiserver.OIDCConfig{RedirectURL: "https://h/ui/oidc/callback"}, "--oidc-redirect-url needs --oidc-issuer-url"},
		{apiserver.AuthorizationRBAC, apiserver.OIDCConfig{ClientSecretFile: "/x"}, "--oidc-client-secret-file needs --oidc-issuer-url"},
		{apiserver.AuthorizationRBAC, apiserver.OIDCConfig{IssuerURL: "https://idp.example", ClientID: "x", RedirectURL: "/ui/oidc/callback"}, "--oidc-redirect-url \"/ui/oidc/callback\": want an absolute"},
		{apiserver.AuthorizationRBAC, apiserver.OIDCConfig{IssuerURL: "https://idp.example", ClientID: "x", ClientSecretFile: "/nonexistent"}, "--oidc-client-secret-file"},
	}
	for _, tc := range cases {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := apiserver.Run(ctx, apiserver.Config{ListenAddress: "127.0.0.1", ListenPort: apiservertest.FreePort(t), DataDir: filepath.Join(t.TempDir(), "db"),
			Authorization: tc.authz, TLS: apiserver.TLSConfig{InsecureHTTP: true}, OIDC: tc.oc, Log: slog.New(slog.DiscardHandler)})
		cancel()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.oc, err, tc.want)
		}
	}
}
