package apiserver_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/humstack/humstack/internal/testenv"
	"github.com/humstack/humstack/internal/testenv/apiservertest"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/apiserver"
	"github.com/humstack/humstack/internal/pki"
)

// tlsServer is an apiserver started by Run with --tls auto.
type tlsServer struct {
	url, dataDir string
	out          *testenv.SyncBuffer
	stop         func()
}

// startTLS runs the apiserver on dataDir over HTTPS and waits until it
// answers.
func startTLS(t *testing.T, dataDir string) *tlsServer {
	t.Helper()
	return startTLSWith(t, apiserver.Config{DataDir: dataDir, Authorization: apiserver.AuthorizationOff})
}

// startTLSWith is startTLS with more of the configuration (the store,
// authorization: rbac unless cfg says otherwise, the default).
func startTLSWith(t *testing.T, cfg apiserver.Config) *tlsServer {
	t.Helper()
	dataDir := cfg.DataDir
	port := apiservertest.FreePort(t)
	s := &tlsServer{url: "https://127.0.0.1:" + strconv.Itoa(port), dataDir: dataDir, out: &testenv.SyncBuffer{}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		cfg.ListenAddress, cfg.ListenPort, cfg.Out = "127.0.0.1", port, s.out
		cfg.TLS.Mode, cfg.Log = apiserver.TLSAuto, slog.New(slog.DiscardHandler)
		done <- apiserver.Run(ctx, cfg)
	}()
	var once sync.Once
	s.stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("apiserver: %v", err)
			}
		})
	}
	t.Cleanup(s.stop)
	for start := time.Now(); ; time.Sleep(20 * time.Millisecond) {
		if c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port)); err == nil && s.out.String() != "" {
			c.Close()
			return s
		}
		if time.Since(start) > 10*time.Second {
			t.Fatal("apiserver did not start listening")
		}
	}
}

func (s *tlsServer) caFile() string { return filepath.Join(s.dataDir, "pki", pki.CACertFile) }

func (s *tlsServer) fingerprint(t *testing.T) string {
	t.Helper()
	_, fp, ok := strings.Cut(strings.TrimSpace(s.out.String()), "cluster CA fingerprint: ")
	if !ok {
		t.Fatalf("no fingerprint printed; output %q", s.out.String())
	}
	return fp
}

// trusting is a client of s that trusts caFile, with an optional client
// certificate.
func trusting(t *testing.T, url, caFile string, cert *tls.Certificate) *client.Client {
	t.Helper()
	tc, err := client.TrustCAFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	if cert != nil {
		tc.Certificates = []tls.Certificate{*cert}
	}
	c, err := client.New(url, client.WithTLS(tc))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestHTTPSAutoCA: --tls auto makes a CA and prints its fingerprint; a
// client trusting it gets answers; a second start reuses the CA and the
// serving certificate.
func TestHTTPSAutoCA(t *testing.T) {
	dir := t.TempDir()
	s := startTLS(t, dir)
	fp := s.fingerprint(t)
	ca, err := os.ReadFile(s.caFile())
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := pki.ParseCert(ca)
	if pki.Fingerprint(cert) != fp {
		t.Fatalf("printed fingerprint %s is not the CA's %s", fp, pki.Fingerprint(cert))
	}
	c := trusting(t, s.url, s.caFile(), nil)
	if _, _, err := c.List(ctx(t), api.GroupKind, client.Scope{}); err != nil {
		t.Fatalf("list over HTTPS: %v", err)
	}
	served, _ := os.ReadFile(filepath.Join(dir, "pki", pki.ServingCertFile))
	s.stop()

	s2 := startTLS(t, dir)
	if got := s2.fingerprint(t); got != fp {
		t.Fatalf("second start: CA %s, first %s", got, fp)
	}
	again, _ := os.ReadFile(filepath.Join(dir, "pki", pki.ServingCertFile))
	if !bytes.Equal(served, again) {
		t.Error("second start reissued a serving certificate that was still good")
	}
	if _, _, err := trusting(t, s2.url, s.caFile(), nil).List(ctx(t), api.GroupKind, client.Scope{}); err != nil {
		t.Fatalf("list after restart: %v", err)
	}
}

// TestClientRefusesForeignCA: a client configured with another CA refuses
// the server, with an error that says so.
func TestClientRefusesForeignCA(t *testing.T) {
	s := startTLS(t, t.TempDir())
	other := filepath.Join(t.TempDir(), "other")
	if _, _, err := pki.LoadOrCreateFileCA(other, time.Now()); err != nil {
		t.Fatal(err)
	}
	_, _, err := trusting(t, s.url, filepath.Join(other, pki.CACertFile), nil).List(ctx(t), api.GroupKind, client.Scope{})
	if err == nil || !strings.Contains(err.Error(), "does not chain to the configured CA") {
		t.Fatalf("err = %v, want a refusal naming the CA", err)
	}
	pinned, _ := client.PinCA("sha256:" + strings.Repeat("ab", 32))
	c, _ := client.New(s.url, client.WithTLS(pinned))
	if _, _, err := c.List(ctx(t), api.GroupKind, client.Scope{}); err == nil {
		t.Fatal("a wrong fingerprint pin was accepted")
	}
	good, _ := client.PinCA(s.fingerprint(t))
	c, _ = client.New(s.url, client.WithTLS(good))
	if _, _, err := c.List(ctx(t), api.GroupKind, client.Scope{}); err != nil {
		t.Fatalf("the right fingerprint pin: %v", err)
	}
}

func TestTLSFlagsChecked(t *testing.T) {
	for name, tc := range map[string]apiserver.TLSConfig{
		"unknown mode":           {Mode: "on"},
		"insecure and auto":      {Mode: apiserver.TLSAuto, InsecureHTTP: true},
		"cert without key":       {Mode: apiserver.TLSAuto, CertFile: "x.crt"},
		"cert file with tls off": {Mode: apiserver.TLSOff, CertFile: "x.crt", KeyFile: "x.key"},
	} {
		err := apiserver.Run(context.Background(), apiserver.Config{ListenAddress: "127.0.0.1", ListenPort: 1,
			DataDir: t.TempDir(), TLS: tc, Log: slog.New(slog.DiscardHandler)})
		if err == nil || !strings.Contains(err.Error(), "--") {
			t.Errorf("%s: err = %v, want the flags named", name, err)
		}
	}
}
