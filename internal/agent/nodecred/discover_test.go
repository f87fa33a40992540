package nodecred_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/agent/nodecred"
	"github.com/humstack/humstack/internal/pki"
)

// TestJoinWithTokenOnly: an agent that has the join token and nothing
// else (no CA file, no pin) learns the CA from the token's cluster info,
// joins over a connection verified by it, stores that CA, and talks to the
// API with its certificate; the next start loads it all without the token.
func TestJoinWithTokenOnly(t *testing.T) {
	c := newCluster(t)
	dir := filepath.Join(t.TempDir(), "pki")
	cfg := nodecred.Config{Dir: dir, Node: "node-a", Servers: c.url, Token: c.token(t, 1), Log: slog.New(slog.DiscardHandler)}
	start := time.Now()
	cred, err := nodecred.Setup(context.Background(), cfg)
	if err != nil || !cred.Joined() {
		t.Fatalf("join with the token alone: %v", err)
	}
	t.Logf("cluster info + join took %v", time.Since(start))
	stored, _ := os.ReadFile(filepath.Join(dir, nodecred.CAFile))
	if !bytes.Equal(stored, c.ca.CertPEM) {
		t.Fatal("the stored CA is not the cluster CA")
	}
	cfg.Token = ""
	again, err := nodecred.Setup(context.Background(), cfg)
	if err != nil || !again.Certificate().Leaf.Equal(cred.Certificate().Leaf) {
		t.Fatalf("second start: %v", err)
	}
	tc, err := again.TLSConfig()
	if err != nil {
		t.Fatal(err)
	}
	cl, _ := client.New(c.url, client.WithTLS(tc))
	if _, _, err := cl.List(context.Background(), api.NodeKind, client.Scope{}); err != nil {
		t.Fatalf("API call with the node credential: %v", err)
	}
}

// impostor is a TLS server with a certificate of its own CA that records
// everything it is sent and answers cluster info with answer.
type impostor struct {
	srv    *httptest.Server
	mu     sync.Mutex
	got    []string // method, path, headers and body of each request
	answer func(id string) api.ClusterInfo
}

func newImpostor(t *testing.T, answer func(id string) api.ClusterInfo) *impostor {
	m := &impostor{answer: answer}
	m.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		m.mu.Lock()
		m.got = append(m.got, fmt.Sprintf("%s %s %v %s", r.Method, r.URL, r.Header, body))
		m.mu.Unlock()
		id, ok := strings.CutSuffix(strings.TrimPrefix(r.URL.Path, "/api/v0/jointokens/"), "/cluster-info")
		if r.Method != http.MethodGet || !ok {
			http.Error(w, `{"code":400,"error":"no"}`, http.StatusBadRequest)
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"code": 200, "error": nil, "data": map[string]any{"clusterInfo": m.answer(id)}})
	}))
	t.Cleanup(m.srv.Close)
	return m
}

func (m *impostor) requests() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.got...)
}

// TestJoinRefusesImpostor: a server with another CA, answering cluster
// info for that CA with a MAC it could not make right (it does not hold
// the token's hash), is refused at once, without retrying: it got one
// request, which holds the token's id and never its secret, and no key is
// left behind.
func TestJoinRefusesImpostor(t *testing.T) {
	c := newCluster(t)
	tok := c.token(t, 1)
	id, secret, _ := pki.ParseJoinToken(tok)
	other, _ := pki.NewCA(time.Now())
	m := newImpostor(t, func(string) api.ClusterInfo {
		salt := "00112233445566778899aabbccddeeff"
		key := sha256.Sum256([]byte(salt + ":" + strings.Repeat("0", len(secret)))) // a guess at the secret
		mac := hmac.New(sha256.New, key[:])
		mac.Write(other.CertPEM)
		return api.ClusterInfo{CA: string(other.CertPEM), Salt: salt, MAC: hex.EncodeToString(mac.Sum(nil))}
	})
	dir := filepath.Join(t.TempDir(), "pki")
	_, err := nodecred.Setup(context.Background(), nodecred.Config{Dir: dir, Node: "node-a", Servers: m.srv.URL,
		Token: tok, Log: slog.New(slog.DiscardHandler)})
	want := fmt.Sprintf("the API server at %s could not prove it knows join token %s: not joining", m.srv.URL, id)
	if !errors.Is(err, pki.ErrNotProven) || !strings.Contains(err.Error(), want) {
		t.Fatalf("err = %v, want %q", err, want)
	}
	got := m.requests()
	if len(got) != 1 || !strings.HasPrefix(got[0], "GET /api/v0/jointokens/"+id+"/cluster-info ") {
		t.Fatalf("the impostor got %q, want one cluster info request", got)
	}
	for _, g := range got {
		if strings.Contains(g, secret) {
			t.Fatalf("the secret was sent to the impostor: %s", g)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, nodecred.KeyFile)); !os.IsNotExist(err) {
		t.Error("a refused join left a key behind")
	}
}

// TestJoinRefusesRelay: an impostor that relays the real cluster info
// (right CA, right MAC) gets the agent to trust the real CA, and then
// cannot answer the join: its own certificate does not chain to that CA,
// so the handshake fails and the secret never reaches it.
func TestJoinRefusesRelay(t *testing.T) {
	c := newCluster(t)
	tok := c.token(t, 1)
	id, secret, _ := pki.ParseJoinToken(tok)
	real, err := pki.ClusterInfoFor(context.Background(), c.store, id, c.ca.CertPEM, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	m := newImpostor(t, func(string) api.ClusterInfo { return real })
	_, err = nodecred.Setup(context.Background(), nodecred.Config{Dir: t.TempDir(), Node: "node-a", Servers: m.srv.URL,
		Token: tok, Log: slog.New(slog.DiscardHandler)})
	if !errors.Is(err, client.ErrCertificate) {
		t.Fatalf("err = %v, want a certificate error", err)
	}
	got := m.requests()
	if len(got) != 1 {
		t.Errorf("the impostor got %q, want only the cluster info request", got)
	}
	for _, g := range got {
		if strings.Contains(g, secret) {
			t.Fatalf("the secret was sent to the impostor: %s", g)
		}
	}
}

// TestJoinTokenOnlyRefused: a token the server does not admit (revoked
// here) ends the join at the cluster info, with no retry.
func TestJoinTokenOnlyRefused(t *testing.T) {
	c := newCluster(t)
	tok := c.token(t, 1)
	id, _, _ := pki.ParseJoinToken(tok)
	if _, err := pki.RevokeJoinToken(context.Background(), c.store, id, "admin", time.Now()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := nodecred.Setup(ctx, nodecred.Config{Dir: t.TempDir(), Node: "node-a", Servers: c.url, Token: tok,
		Log: slog.New(slog.DiscardHandler)})
	if !errors.Is(err, api.ErrNotFound) || ctx.Err() != nil || !strings.Contains(err.Error(), id) {
		t.Fatalf("revoked token: err = %v, want a 404 naming %s at once", err, id)
	}
}
