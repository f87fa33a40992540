package cli

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/humstack/humstack/internal/apiserver"
	"github.com/humstack/humstack/internal/auth/issuertest"
	"github.com/humstack/humstack/internal/pki"
)

// oidcEnv is an apiserver with TLS, --authorization rbac and OIDC from a
// test issuer, where the issuer's group "students" is viewer of
// group1/ns1.
type oidcEnv struct {
	is                    *issuertest.Issuer
	url, caFile, issuerCA string
	admin                 string
}

func newOIDCEnv(t *testing.T, idTokenTTL time.Duration) *oidcEnv {
	t.Helper()
	is := issuertest.New(t)
	is.IDTokenTTL = idTokenTTL
	dir := t.TempDir()
	e := &oidcEnv{is: is, issuerCA: filepath.Join(dir, "issuer-ca.pem"), caFile: filepath.Join(dir, "db", "pki", pki.CACertFile)}
	if err := os.WriteFile(e.issuerCA, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: is.Server.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	e.url = "https://127.0.0.1:" + strconv.Itoa(port)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- apiserver.Run(ctx, apiserver.Config{ListenAddress: "127.0.0.1", ListenPort: port, DataDir: filepath.Join(dir, "db"),
			TLS: apiserver.TLSConfig{Mode: apiserver.TLSAuto}, Authorization: apiserver.AuthorizationRBAC,
			OIDC: apiserver.OIDCConfig{IssuerURL: is.URL, ClientID: issuertest.ClientID, CAFile: e.issuerCA,
				UsernameClaim: "preferred_username", GroupsPrefix: "kc:"},
			Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("apiserver: %v", err)
		}
	})
	tokenFile := filepath.Join(dir, "db", apiserver.BootstrapTokenFile)
	waitFor(t, "the apiserver", func() bool {
		c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err == nil {
			c.Close()
		}
		_, serr := os.Stat(tokenFile)
		return err == nil && serr == nil
	})
	e.admin = strings.TrimSpace(readFile(t, tokenFile))
	binding := writeFile(t, "rb.yaml", "meta: {apiType: corev0/rolebinding, id: students, group: group1}\n"+
		"spec: {role: viewer, namespace: ns1, subjects: [{kind: group, name: 'kc:students'}]}\n")
	for _, f := range []string{"../../examples/seed/01-group.yaml", "../../examples/seed/02-namespace.yaml", binding} {
		if r := e.run("create", "-f", f, "--token", e.admin); r.code != 0 {
			t.Fatalf("create %s: %v", f, r)
		}
	}
	return e
}

// run runs humcli against the apiserver, with its CA, outside any context.
func (e *oidcEnv) run(args ...string) result {
	return runRaw(context.Background(), "", append(args, "--api-server-address", e.url, "--ca-file", e.caFile)...)
}

// login runs `humcli login --oidc-issuer ...` while answer plays the user
// at the issuer with the user code humcli shows.
func (e *oidcEnv) login(t *testing.T, answer func(userCode string), extra ...string) result {
	t.Helper()
	args := append([]string{"login", "--server", e.url, "--ca-file", e.caFile, "--name", "uni",
		"--oidc-issuer", e.is.URL, "--oidc-client-id", issuertest.ClientID, "--oidc-ca-file", e.issuerCA}, extra...)
	done := make(chan result, 1)
	go func() { done <- runRaw(context.Background(), "", args...) }()
	code := e.is.WaitUserCode(t)
	answer(code)
	select {
	case r := <-done:
		return r
	case <-time.After(30 * time.Second):
		t.Fatal("login did not end")
		return result{}
	}
}

// idTokenExpiry reads the exp claim of the context's ID token.
func idTokenExpiry(t *testing.T, cfg string) (string, time.Time) {
	t.Helper()
	f, _, err := loadContexts()
	if err != nil || len(f.Contexts) != 1 || f.Contexts[0].OIDC == nil {
		t.Fatalf("contexts file %s: %v %+v", cfg, err, f)
	}
	tok := f.Contexts[0].Token
	payload, err := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[1])
	var c struct{ Exp int64 }
	if err != nil || json.Unmarshal(payload, &c) != nil {
		t.Fatalf("context token is not a JWT: %q", tok)
	}
	return tok, time.Unix(c.Exp, 0)
}

// TestOIDCDeviceLogin: humcli login runs the device flow against the issuer
// (pending, then approved by the user), writes a 0600 context holding the
// ID and refresh tokens; humcli get then works as the OIDC user (a viewer
// through its group); once the ID token has expired the next command
// renews it silently; once the refresh token is revoked, the next command
// after the expiry says "OIDC session expired" in one line.
// Commands running at once renew once.
func TestOIDCDeviceLogin(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "humstack", "config")
	t.Setenv(contextsEnv, cfg)
	e := newOIDCEnv(t, 3*time.Second)
	start := time.Now()
	r := e.login(t, func(code string) {
		waitFor(t, "a poll answered authorization_pending", func() bool { return e.is.PendingAnswers() > 0 })
		e.is.Approve(t, code, map[string]any{"sub": "0f6c-uuid", "preferred_username": "alice", "groups": []string{"students"}})
	})
	if r.code != 0 || !strings.Contains(r.stdout, "open "+e.is.URL+"/activate and enter the code ") ||
		!strings.Contains(r.stdout, `context "uni" written to `+cfg) {
		t.Fatalf("login: %v", r)
	}
	t.Logf("device login took %v", time.Since(start))
	if fi, err := os.Stat(cfg); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("contexts file: %v, mode %v; want 0600", err, fi.Mode().Perm())
	}
	if s := readFile(t, cfg); !strings.Contains(s, "refreshToken: ") || !strings.Contains(s, "issuer: "+e.is.URL) {
		t.Fatalf("contexts file without the OIDC session:\n%s", s)
	}
	if got := e.is.LastScope(); got != "openid offline_access" {
		t.Errorf("scope asked for: %q", got)
	}
	const empty = "No virtualmachines found in namespace group1/ns1.\n"
	get := func() result { return runRaw(context.Background(), "", "get", "vm", "--g", "group1", "--n", "ns1") }
	if r := get(); r.code != 0 || r.stderr != empty {
		t.Fatalf("get as the OIDC user: %v", r)
	}
	r = runRaw(context.Background(), "", "delete", "ns", "ns1", "--g", "group1")
	if r.code != 1 || r.stderr != "error: user oidc:alice may not delete namespace group1/ns1\n" {
		t.Errorf("viewer deleting: %v", r)
	}
	if n := e.is.Refreshes(); n != 0 {
		t.Fatalf("%d refreshes with a fresh ID token", n)
	}

	old, exp := idTokenExpiry(t, cfg)
	time.Sleep(time.Until(exp) + 100*time.Millisecond)
	if r := runRaw(context.Background(), "", "get", "vm", "--g", "group1", "--n", "ns1", "--token", old); r.stderr != "error: ID token expired\n" {
		t.Fatalf("the old ID token, given as --token: %v", r)
	}
	// Four commands at once after the expiry: each works and the token is
	// renewed once (the issuer rotates refresh tokens: a second use of the
	// old one would be refused).
	results := make(chan result, 4)
	for range 4 {
		go func() { results <- get() }()
	}
	for range 4 {
		if r := <-results; r.code != 0 || r.stderr != empty {
			t.Fatalf("get after the ID token expired: %v", r)
		}
	}
	renewed, exp := idTokenExpiry(t, cfg)
	if n := e.is.Refreshes(); n != 1 || renewed == old {
		t.Fatalf("%d refreshes, token renewed: %v; want 1 and true", n, renewed != old)
	}
	if r := get(); r.code != 0 || e.is.Refreshes() != 1 {
		t.Fatalf("get with the renewed token: %v, %d refreshes", r, e.is.Refreshes())
	}

	e.is.RevokeRefreshTokens()
	time.Sleep(time.Until(exp) + 100*time.Millisecond)
	want := "error: OIDC session expired: run humcli login --oidc-issuer " + e.is.URL + " --oidc-client-id " + issuertest.ClientID + " again\n"
	if r := get(); r.code != 1 || r.stderr != want {
		t.Fatalf("get after the refresh token was revoked: %v\nwant stderr %q", r, want)
	}
	// A token set by hand replaces the OIDC login: nothing is renewed over it.
	if r := runRaw(context.Background(), "", "config", "set-context", "uni", "--token", e.admin); r.code != 0 {
		t.Fatalf("set-context --token: %v", r)
	}
	if s := readFile(t, cfg); strings.Contains(s, "refreshToken") || strings.Contains(s, "oidc:") {
		t.Errorf("set-context --token kept the OIDC session:\n%s", s)
	}
	if r := get(); r.code != 0 {
		t.Errorf("get with the token set by hand: %v", r)
	}
}

// TestOIDCDeviceLoginRefused: a denied request, a code that expires, an
// issuer without the device grant and misused flags each end login with
// one line and write no context.
func TestOIDCDeviceLoginRefused(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "humstack", "config")
	t.Setenv(contextsEnv, cfg)
	e := newOIDCEnv(t, time.Hour)
	check := func(name string, r result, want string) {
		t.Helper()
		if r.code != 1 || len(lines(r.stderr)) != 1 || !strings.Contains(r.stderr, want) {
			t.Errorf("%s: %v\nwant one line with %q", name, r, want)
		}
		if _, err := os.Stat(cfg); !os.IsNotExist(err) {
			t.Errorf("%s: a failed login wrote %s", name, cfg)
		}
	}
	check("denied", e.login(t, func(code string) { e.is.Deny(t, code) }), "error: login: the request was denied at the issuer\n")
	var code string
	r := e.login(t, func(c string) { code = c; e.is.Expire(t, c) })
	check("expired", r, "error: login: the code "+code+" expired before it was approved; run humcli login again\n")

	base := []string{"login", "--server", e.url, "--ca-file", e.caFile}
	oidcArgs := append(append([]string(nil), base...), "--oidc-issuer", e.is.URL, "--oidc-ca-file", e.issuerCA)
	run := func(args ...string) result { return runRaw(context.Background(), "", args...) }
	check("no client id", run(oidcArgs...), "--oidc-issuer needs --oidc-client-id")
	check("token too", run(append(oidcArgs, "--oidc-client-id", "humstack", "--token", "x")...), "--token (or --token-file) and --oidc-issuer: give one of them")
	check("stray flag", run(append(base, "--oidc-client-id", "humstack")...), "--oidc-client-id needs --oidc-issuer")
	check("http issuer", run(append(base, "--oidc-issuer", "http://idp.example", "--oidc-client-id", "humstack")...), "--oidc-issuer: want an https:// URL")
	check("wrong client", run(append(oidcArgs, "--oidc-client-id", "nope")...), "refused the device login: invalid_client")
	e.is.SetDeviceFlow(false)
	check("no device endpoint", run(append(oidcArgs, "--oidc-client-id", "humstack")...), "offers no device login (no device_authorization_endpoint")
}
