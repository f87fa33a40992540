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
	"testing"
	"time"

	"github.com/humstack/humstack/internal/pki"
	"github.com/humstack/humstack/internal/pki/pkitest"
)

// TestMigrationTargetFetchesTheDisk: a disk is served to a node's
// certificate only while that node is the target of a migration copying
// that disk (SetMigrationTargets); any other node, or another disk, is
// refused.
func TestMigrationTargetFetchesTheDisk(t *testing.T) {
	ca, _ := pki.NewCA(time.Now())
	dir := t.TempDir()
	for _, id := range []string{"d1", "d2"} {
		p := filepath.Join(dir, "bs", "g", "ns", id+".qcow2")
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte("disk "+id), 0o600)
	}
	quiet := slog.New(slog.DiscardHandler)
	l := NodeListener("", dirFiles(dir), quiet)
	copying := true
	l.SetMigrationTargets(func(node, g, ns, id string) bool {
		return copying && node == "node-b" && g == "g" && ns == "ns" && id == "d1"
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cfg := &tls.Config{Certificates: []tls.Certificate{*pkitest.NodeCert(t, ca, "node-a")}, ClientAuth: tls.VerifyClientCertIfGiven, ClientCAs: ca.Pool()}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ServeMTLS(ctx, addr, l, cfg, quiet) }()
	t.Cleanup(func() { cancel(); <-done })
	waitListening(t, addr)
	fetch := func(node, id string) (int, string) {
		c := pkitest.NodeCert(t, ca, node)
		hc := &http.Client{Transport: &http.Transport{TLSClientConfig: pki.PeerClientConfig(ca.Pool(), func() *tls.Certificate { return c }, "node-a")}}
		resp, err := hc.Get("https://" + addr + BlockStoragePath("g", "ns", id))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := fetch("node-b", "d1"); code != 200 || body != "disk d1" {
		t.Errorf("the target fetches the disk: %d %q", code, body)
	}
	if code, _ := fetch("node-b", "d2"); code != 403 {
		t.Errorf("the target fetches another disk: %d, want 403", code)
	}
	if code, _ := fetch("node-c", "d1"); code != 403 {
		t.Errorf("another node fetches the disk: %d, want 403", code)
	}
	copying = false
	if code, _ := fetch("node-b", "d1"); code != 403 {
		t.Errorf("the target after the copy: %d, want 403", code)
	}
}
