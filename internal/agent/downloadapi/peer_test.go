package downloadapi

import (
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/humstack/humstack/internal/pki/pkitest"

	"github.com/humstack/humstack/internal/pki"
)

// TestMutualTLS: node-a's listener serves TLS and plain HTTP on one port.
// Over TLS, node-b's certificate is admitted to an image entity without a
// secret (the API server's is not: TestNodeListenerMatrix has every route); a certificate of another CA is refused in the
// handshake; a client expecting another node refuses node-a. Plain HTTP
// still works with the (deprecated) secret, and nothing works without a
// credential.
func TestMutualTLS(t *testing.T) {
	ca, _ := pki.NewCA(time.Now())
	other, _ := pki.NewCA(time.Now())
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "img", "g"), 0o755)
	os.WriteFile(filepath.Join(dir, "img", "g", "e1.qcow2"), []byte("entity"), 0o600)
	self := pkitest.NodeCert(t, ca, "node-a")
	cfg := &tls.Config{Certificates: []tls.Certificate{*self}, ClientAuth: tls.VerifyClientCertIfGiven, ClientCAs: ca.Pool()}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	quiet := slog.New(slog.DiscardHandler)
	go func() {
		done <- ServeMTLS(ctx, addr, Handler("s3cret-s3cret-s3cret", dirFiles(dir), quiet), cfg, quiet)
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	waitListening(t, addr)
	apiCert, err := ca.IssueAPIServerClient("test", time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	path := ImageEntityPath("g", "e1")
	fetch := func(tc *tls.Config, scheme, secret string) (int, string, error) {
		hc := &http.Client{Transport: &http.Transport{TLSClientConfig: tc}}
		req, _ := http.NewRequest("GET", scheme+"://"+addr+path, nil)
		if secret != "" {
			Authorize(req, secret)
		}
		resp, err := hc.Do(req)
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), nil
	}
	as := func(c *tls.Certificate, expect string, roots *pki.CA) *tls.Config {
		return pki.PeerClientConfig(roots.Pool(), func() *tls.Certificate { return c }, expect)
	}
	for _, tc := range []struct {
		name   string
		tls    *tls.Config
		scheme string
		secret string
		code   int    // 0: the request fails before an answer
		errHas string // for code 0
	}{
		{"node-b's certificate", as(pkitest.NodeCert(t, ca, "node-b"), "node-a", ca), "https", "", 200, ""},
		// Image entities are for nodes (rules.go): the API server has no use for them.
		{"the API server's certificate", as(apiCert, "node-a", ca), "https", "", 403, ""},
		{"TLS without a certificate", as(nil, "node-a", ca), "https", "", 401, ""},
		{"TLS without a certificate, with the secret", as(nil, "node-a", ca), "https", "s3cret-s3cret-s3cret", 200, ""},
		{"a certificate of another CA", as(pkitest.NodeCert(t, other, "node-b"), "node-a", ca), "https", "", 0, "certificate"},
		{"expecting node-c", as(pkitest.NodeCert(t, ca, "node-b"), "node-c", ca), "https", "", 0, "not node node-c"},
		{"not trusting node-a's CA", as(pkitest.NodeCert(t, ca, "node-b"), "node-a", other), "https", "", 0, "unknown authority"},
		{"plain HTTP with the secret", nil, "http", "s3cret-s3cret-s3cret", 200, ""},
		{"plain HTTP without it", nil, "http", "", 401, ""},
	} {
		code, body, err := fetch(tc.tls, tc.scheme, tc.secret)
		switch {
		case tc.code == 0 && (err == nil || !strings.Contains(err.Error(), tc.errHas)):
			t.Errorf("%s: %d, %v; want a failure with %q", tc.name, code, err, tc.errHas)
		case tc.code != 0 && code != tc.code:
			t.Errorf("%s: %d %q %v, want %d", tc.name, code, body, err, tc.code)
		case tc.code == 200 && body != "entity":
			t.Errorf("%s: body %q", tc.name, body)
		}
	}
}

func waitListening(t *testing.T, addr string) {
	t.Helper()
	for start := time.Now(); time.Since(start) < 5*time.Second; time.Sleep(10 * time.Millisecond) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return
		}
	}
	t.Fatalf("%s is not listening", addr)
}
