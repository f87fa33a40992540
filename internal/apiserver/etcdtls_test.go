package apiserver_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"

	"github.com/humstack/humstack/internal/apiserver"
	"github.com/humstack/humstack/internal/storage/etcd/etcdtest"
)

// TestEtcdTLS: --etcd-cafile/--etcd-certfile/--etcd-keyfile reach an etcd
// that serves TLS only and requires client certificates.
func TestEtcdTLS(t *testing.T) {
	dir := t.TempDir()
	ca, caKey := writeCert(t, dir, "ca", nil, nil)
	writeCert(t, dir, "server", ca, caKey)
	writeCert(t, dir, "client", ca, caKey)
	f := func(name string) string { return filepath.Join(dir, name) }
	cl := etcdtest.Start(t, etcdtest.Options{NoFsync: true, ClientTLS: transport.TLSInfo{
		CertFile: f("server.crt"), KeyFile: f("server.key"), TrustedCAFile: f("ca.crt"), ClientCertAuth: true,
	}})
	cfg := apiserver.Config{Store: "etcd", Log: slog.New(slog.DiscardHandler), Etcd: apiserver.EtcdConfig{
		Endpoints: cl.Endpoints(), CAFile: f("ca.crt"), CertFile: f("client.crt"), KeyFile: f("client.key"),
	}}
	var out bytes.Buffer
	if err := apiserver.Export(ctx(t), cfg, &out); err != nil {
		t.Fatalf("export over TLS: %v", err)
	}
	cfg.Etcd.KeyFile = ""
	if err := apiserver.Export(ctx(t), cfg, &out); err == nil {
		t.Fatal("a certificate without its key was accepted")
	}
}

// writeCert writes name.crt and name.key under dir: a self-signed CA when
// parent is nil, else a certificate for 127.0.0.1 signed by it.
func writeCert(t *testing.T, dir, name string, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
	}
	signer, signerKey := tmpl, key
	if parent == nil {
		tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
	} else {
		signer, signerKey = parent, parentKey
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signer, &key.PublicKey, signerKey)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	for file, block := range map[string]*pem.Block{
		name + ".crt": {Type: "CERTIFICATE", Bytes: der},
		name + ".key": {Type: "EC PRIVATE KEY", Bytes: kb},
	} {
		if err := os.WriteFile(filepath.Join(dir, file), pem.EncodeToMemory(block), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}
