package nodecred_test

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/agent/downloadapi"
	"github.com/humstack/humstack/internal/agent/nodecred"
	"github.com/humstack/humstack/internal/apiserver"
	"github.com/humstack/humstack/internal/pki"
	"github.com/humstack/humstack/internal/storage/bolt"
)

type cluster struct {
	url   string
	ca    *pki.CA
	store *bolt.Store
}

// newCluster serves the API over HTTPS as apiserver --tls auto does, with
// node certificates valid for an hour.
func newCluster(t *testing.T) *cluster {
	t.Helper()
	quiet := slog.New(slog.DiscardHandler)
	st, err := bolt.Open(filepath.Join(t.TempDir(), "db"), bolt.Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ca, err := pki.NewCA(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	sv, err := pki.NewServing(ca, t.TempDir(), []string{"127.0.0.1"}, time.Now(), quiet)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(apiserver.New(st, apiserver.Options{Log: quiet,
		TLS: &apiserver.TLSOptions{CA: ca, NodeCertValidity: time.Hour}}).Handler())
	cert, _ := sv.GetCertificate(nil)
	// Certificates, not GetCertificate: httptest fills in its own otherwise.
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{*cert}, ClientAuth: tls.VerifyClientCertIfGiven, ClientCAs: ca.Pool()}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return &cluster{url: srv.URL, ca: ca, store: st}
}

func (c *cluster) token(t *testing.T, uses int) string {
	t.Helper()
	tok, _, err := pki.CreateJoinToken(context.Background(), c.store, pki.TokenOptions{TTL: time.Hour, MaxUses: uses}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestJoinLoadRenew: an agent with a join token and the CA's fingerprint
// joins, stores key, certificate and CA (0600), loads them on its next
// start without a token, talks to the API with them, and renews before
// expiry with the certificate alone.
func TestJoinLoadRenew(t *testing.T) {
	c := newCluster(t)
	dir := filepath.Join(t.TempDir(), "pki")
	cfg := nodecred.Config{Dir: dir, Node: "node-a", Servers: c.url, Token: c.token(t, 1),
		CAFingerprint: c.ca.Fingerprint(), Log: slog.New(slog.DiscardHandler)}
	ctx := context.Background()
	cred, err := nodecred.Setup(ctx, cfg)
	if err != nil {
		t.Fatalf("join: %v", err)
	}
	for _, f := range []string{nodecred.KeyFile, nodecred.CertFile, nodecred.CAFile} {
		fi, err := os.Stat(filepath.Join(dir, f))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v, mode %v; want 0600", f, err, fi.Mode().Perm())
		}
	}
	first := cred.Certificate().Leaf
	if name, ok := pki.NodeName(first); !ok || name != "node-a" {
		t.Fatalf("certificate for %s", first.Subject)
	}

	cfg.Token = "" // the token was single-use: the next start must not need it
	again, err := nodecred.Setup(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !again.Certificate().Leaf.Equal(first) {
		t.Fatal("second start did not load the stored certificate")
	}
	tc, err := again.TLSConfig()
	if err != nil {
		t.Fatal(err)
	}
	cl, _ := client.New(c.url, client.WithTLS(tc))
	if _, _, err := cl.List(ctx, api.NodeKind, client.Scope{}); err != nil {
		t.Fatalf("API call with the node credential: %v", err)
	}
	if err := again.RenewIfDue(ctx, time.Now()); err != nil || !again.Certificate().Leaf.Equal(first) {
		t.Fatalf("renewed a fresh certificate: %v", err)
	}
	if err := again.RenewIfDue(ctx, time.Now().Add(50*time.Minute)); err != nil {
		t.Fatalf("renewal: %v", err)
	}
	renewed := again.Certificate().Leaf
	if renewed.Equal(first) || renewed.NotAfter.Before(first.NotAfter) {
		t.Fatal("renewal kept the old certificate")
	}
	stored, _ := os.ReadFile(filepath.Join(dir, nodecred.CertFile))
	if sc, _ := pki.ParseCert(stored); sc == nil || !sc.Equal(renewed) {
		t.Error("the renewed certificate was not stored")
	}
}

func TestJoinRefused(t *testing.T) {
	c := newCluster(t)
	log := slog.New(slog.DiscardHandler)
	dir := filepath.Join(t.TempDir(), "pki")
	_, err := nodecred.Setup(context.Background(), nodecred.Config{Dir: dir, Node: "node-a", Servers: c.url,
		Token: "0123456789ab.0123456789abcdef0123456789abcdef", CAFingerprint: c.ca.Fingerprint(), Log: log})
	if !errors.Is(err, api.ErrUnauthorized) {
		t.Fatalf("unknown token: err = %v, want 401", err)
	}
	if _, err := os.Stat(filepath.Join(dir, nodecred.KeyFile)); !os.IsNotExist(err) {
		t.Error("a refused join left a key behind")
	}
	other, _ := pki.NewCA(time.Now())
	_, err = nodecred.Setup(context.Background(), nodecred.Config{Dir: dir, Node: "node-a", Servers: c.url,
		Token: c.token(t, 1), CAFingerprint: other.Fingerprint(), Log: log})
	if err == nil {
		t.Fatal("joined a server whose CA does not match the pin")
	}
}

// TestPeerListener: two joined nodes reach each other's node listener over
// mutual TLS with their credentials alone.
func TestPeerListener(t *testing.T) {
	c := newCluster(t)
	log := slog.New(slog.DiscardHandler)
	join := func(node string) *nodecred.Credential {
		cred, err := nodecred.Setup(context.Background(), nodecred.Config{Dir: t.TempDir(), Node: node, Servers: c.url,
			Token: c.token(t, 1), CAFingerprint: c.ca.Fingerprint(), Log: log})
		if err != nil || !cred.Joined() {
			t.Fatalf("join %s: %v", node, err)
		}
		return cred
	}
	a, b := join("node-a"), join("node-b")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "e1"), []byte("hello from node-a"), 0o600); err != nil {
		t.Fatal(err)
	}
	h := downloadapi.Handler("", oneFile(filepath.Join(dir, "e1")), log)
	go func() { done <- downloadapi.ServeMTLS(ctx, addr, h, a.ListenerTLS(), log) }()
	t.Cleanup(func() { cancel(); <-done })
	var resp *http.Response
	for start := time.Now(); ; time.Sleep(20 * time.Millisecond) {
		if resp, err = b.PeerClient("node-a").Get("https://" + addr + downloadapi.ImageEntityPath("g", "e1")); err == nil || time.Since(start) > 5*time.Second {
			break
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "hello from node-a" {
		t.Fatalf("%d %q", resp.StatusCode, body)
	}
	if _, err := b.PeerClient("node-c").Get("https://" + addr + downloadapi.ImageEntityPath("g", "e1")); err == nil {
		t.Fatal("node-a's listener was taken for node-c's")
	}
}

// oneFile serves the one file as every disk and image entity.
type oneFile string

func (f oneFile) BlockStorageFile(string, string, string) string { return string(f) }
func (f oneFile) ImageEntityFile(string, string) string          { return string(f) }
