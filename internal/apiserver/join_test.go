package apiserver_test

import (
	"crypto/ecdsa"
	"crypto/tls"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/apiserver"
	"github.com/humstack/humstack/internal/pki"
)

func nodeKeyPair(t *testing.T, certPEM string, key *ecdsa.PrivateKey) *tls.Certificate {
	t.Helper()
	keyPEM, err := pki.EncodeKey(key)
	if err != nil {
		t.Fatal(err)
	}
	kp, err := tls.X509KeyPair([]byte(certPEM), keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return &kp
}

// TestNodeJoin: a join token admits one node, which gets a certificate for
// its own key; with it the apiserver knows the caller as that node (it may
// renew its own certificate and no other node's); a reused, expired or
// wrong token is 401; a certificate from another CA is refused at the
// handshake.
func TestNodeJoin(t *testing.T) {
	s := startTLS(t, t.TempDir())
	admin := trusting(t, s.url, s.caFile(), nil)
	tok, err := admin.CreateJoinToken(ctx(t), api.JoinTokenRequest{TTL: "1h", MaxUses: 1})
	if err != nil {
		t.Fatal(err)
	}
	if tok.CAFingerprint != s.fingerprint(t) {
		t.Errorf("join token names CA %s, the server prints %s", tok.CAFingerprint, s.fingerprint(t))
	}
	// First contact: the node knows only the fingerprint.
	pin, err := client.PinCA(tok.CAFingerprint)
	if err != nil {
		t.Fatal(err)
	}
	first, _ := client.New(s.url, client.WithTLS(pin))
	csr, key, err := pki.NewNodeCSR("node-a")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	cred, err := first.Join(ctx(t), "node-a", tok.Token, csr)
	if err != nil {
		t.Fatalf("join: %v", err)
	}
	t.Logf("join took %v", time.Since(start))
	cert, err := pki.ParseCert([]byte(cred.Certificate))
	if err != nil {
		t.Fatal(err)
	}
	if name, ok := pki.NodeName(cert); !ok || name != "node-a" {
		t.Fatalf("issued certificate names %q", cert.Subject)
	}
	if _, err := first.Join(ctx(t), "node-b", tok.Token, csr); !errors.Is(err, api.ErrUnauthorized) {
		t.Errorf("reused single-use token: err = %v, want 401", err)
	}

	// With its certificate the node is node-a: it may renew its own
	// certificate, not node-b's, and without a certificate renewal is 401.
	asNode := trusting(t, s.url, s.caFile(), nodeKeyPair(t, cred.Certificate, key))
	csr2, _, _ := pki.NewNodeCSR("node-a")
	if _, err := asNode.Join(ctx(t), "node-a", "", csr2); err != nil {
		t.Errorf("renewal with the node's certificate: %v", err)
	}
	csrB, _, _ := pki.NewNodeCSR("node-b")
	if _, err := asNode.Join(ctx(t), "node-b", "", csrB); !errors.Is(err, api.ErrUnauthorized) {
		t.Errorf("node-a renewing node-b: err = %v, want 401", err)
	}
	if _, err := admin.Join(ctx(t), "node-a", "", csr2); !errors.Is(err, api.ErrUnauthorized) {
		t.Errorf("renewal without a certificate: err = %v, want 401", err)
	}

	short, err := admin.CreateJoinToken(ctx(t), api.JoinTokenRequest{TTL: "50ms"})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if _, err := first.Join(ctx(t), "node-c", short.Token, csr); !errors.Is(err, api.ErrUnauthorized) {
		t.Errorf("expired token: err = %v, want 401", err)
	}
	multi, err := admin.CreateJoinToken(ctx(t), api.JoinTokenRequest{TTL: "1h"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := first.Join(ctx(t), "node-c", multi.Token, []byte("not a CSR")); !errors.Is(err, api.ErrInvalid) {
		t.Errorf("garbage CSR: err = %v, want 400", err)
	}
	wrong := multi.Token[:len(multi.Token)-1] + "0"
	if wrong == multi.Token {
		wrong = multi.Token[:len(multi.Token)-1] + "1"
	}
	if _, err := first.Join(ctx(t), "node-c", wrong, csr); !errors.Is(err, api.ErrUnauthorized) {
		t.Errorf("wrong secret: err = %v, want 401", err)
	}
	bound, err := admin.CreateJoinToken(ctx(t), api.JoinTokenRequest{TTL: "1h", Node: "node-z"})
	if err != nil || bound.Node != "node-z" {
		t.Fatalf("bound token: %+v, %v", bound, err)
	}
	if _, err := first.Join(ctx(t), "node-c", bound.Token, csr); !errors.Is(err, api.ErrUnauthorized) {
		t.Errorf("token bound to node-z used by node-c: err = %v, want 401", err)
	}
	csrZ, _, _ := pki.NewNodeCSR("node-z")
	if _, err := first.Join(ctx(t), "node-z", bound.Token, csrZ); err != nil {
		t.Errorf("token bound to node-z used by node-z: %v", err)
	}
	if _, err := admin.CreateJoinToken(ctx(t), api.JoinTokenRequest{TTL: "soon"}); !errors.Is(err, api.ErrInvalid) {
		t.Errorf("bad ttl: err = %v, want 400", err)
	}

	// A node certificate from another CA does not get past the handshake.
	other, _, err := pki.LoadOrCreateFileCA(filepath.Join(t.TempDir(), "o"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	fcsr, fkey, _ := pki.NewNodeCSR("node-a")
	fcert, _ := other.SignNodeCSR(fcsr, "node-a", time.Now(), time.Hour)
	forged := trusting(t, s.url, s.caFile(), nodeKeyPair(t, string(fcert), fkey))
	if _, err := forged.Join(ctx(t), "node-a", "", csr2); err == nil {
		t.Error("a node certificate from another CA was accepted")
	}
}

// TestJoinNeedsTLS: with --tls off there is no CA to join with: 503.
func TestJoinNeedsTLS(t *testing.T) {
	e := newEnv(t)
	csr, _, _ := pki.NewNodeCSR("node-a")
	if _, err := e.c.Join(ctx(t), "node-a", "x.y", csr); !errors.Is(err, api.ErrUnavailable) {
		t.Errorf("join over plain HTTP: err = %v, want 503", err)
	}
	if _, err := e.c.CreateJoinToken(ctx(t), api.JoinTokenRequest{TTL: "1h"}); !errors.Is(err, api.ErrUnavailable) {
		t.Errorf("join token over plain HTTP: err = %v, want 503", err)
	}
}

// TestNodeIdentityUnderRBAC: with --authorization rbac and --tls auto, a
// joined node's certificate makes it Identity{Kind: node} to the
// authorizer: it may read nodes (the node role) and may not create a
// group ("node node-a may not ..."); the join itself needs no bearer
// token; making join tokens needs cluster-admin.
func TestNodeIdentityUnderRBAC(t *testing.T) {
	dir := t.TempDir()
	s := startTLSWith(t, apiserver.Config{DataDir: dir, Authorization: apiserver.AuthorizationRBAC})
	admToken, err := os.ReadFile(filepath.Join(dir, apiserver.BootstrapTokenFile))
	if err != nil {
		t.Fatal(err)
	}
	tc, _ := client.TrustCAFile(s.caFile())
	admin, _ := client.New(s.url, client.WithTLS(tc), client.WithToken(strings.TrimSpace(string(admToken))))
	anon := trusting(t, s.url, s.caFile(), nil)
	if _, err := anon.CreateJoinToken(ctx(t), api.JoinTokenRequest{TTL: "1h"}); !errors.Is(err, api.ErrUnauthorized) {
		t.Errorf("anonymous join token: err = %v, want 401", err)
	}
	tok, err := admin.CreateJoinToken(ctx(t), api.JoinTokenRequest{TTL: "1h"})
	if err != nil {
		t.Fatal(err)
	}
	csr, key, _ := pki.NewNodeCSR("node-a")
	cred, err := anon.Join(ctx(t), "node-a", tok.Token, csr)
	if err != nil {
		t.Fatalf("join without a bearer token: %v", err)
	}
	node := trusting(t, s.url, s.caFile(), nodeKeyPair(t, cred.Certificate, key))
	if _, _, err := node.List(ctx(t), api.NodeKind, client.Scope{}); err != nil {
		t.Errorf("node lists nodes: %v", err)
	}
	g := &api.Group{}
	g.Meta.ID = "from-node"
	_, err = node.Create(ctx(t), g)
	if !errors.Is(err, api.ErrForbidden) || !strings.Contains(err.Error(), "node node-a may not create") {
		t.Errorf("node creating a group: err = %v, want 403 naming node node-a", err)
	}
	if _, err := node.CreateJoinToken(ctx(t), api.JoinTokenRequest{TTL: "1h"}); !errors.Is(err, api.ErrForbidden) {
		t.Errorf("node making a join token: err = %v, want 403", err)
	}
}
