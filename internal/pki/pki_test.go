package pki

import (
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/humstack/humstack/api"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func mustCA(t testing.TB) *CA {
	t.Helper()
	ca, err := NewCA(t0)
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

func mustNodeCert(t testing.TB, ca *CA, node string) *x509.Certificate {
	t.Helper()
	csr, _, err := NewNodeCSR(node)
	if err != nil {
		t.Fatal(err)
	}
	certPEM, err := ca.SignNodeCSR(csr, node, t0, NodeValidity)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := ParseCert(certPEM)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// profile renders what matters of a certificate, for golden comparison:
// the random parts (keys, serials, signatures) are left out.
func profile(c *x509.Certificate) string {
	var b strings.Builder
	fmt.Fprintf(&b, "subject: %s\nissuer: %s\nisCA: %v\nmaxPathLenZero: %v\n", c.Subject, c.Issuer, c.IsCA, c.MaxPathLenZero)
	fmt.Fprintf(&b, "keyUsage: %d\nextKeyUsage: %v\n", c.KeyUsage, c.ExtKeyUsage)
	fmt.Fprintf(&b, "notBefore: %s\nnotAfter: %s\n", c.NotBefore.UTC().Format(time.RFC3339), c.NotAfter.UTC().Format(time.RFC3339))
	fmt.Fprintf(&b, "dns: %v\nips: %v\nkey: %s\nsignature: %s\n", c.DNSNames, c.IPAddresses, c.PublicKeyAlgorithm, c.SignatureAlgorithm)
	return b.String()
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("%s differs from %s (go test -update rewrites it):\n%s", name, path, got)
	}
}

func TestCertificateProfiles(t *testing.T) {
	ca := mustCA(t)
	golden(t, "ca", profile(ca.Cert))
	golden(t, "node", profile(mustNodeCert(t, ca, "node-a")))
	certPEM, _, err := ca.IssueServing([]string{"localhost", "127.0.0.1", "api.example"}, t0, ServingValidity)
	if err != nil {
		t.Fatal(err)
	}
	sc, err := ParseCert(certPEM)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "serving", profile(sc))
}

func TestNodeCertificate(t *testing.T) {
	ca := mustCA(t)
	cert := mustNodeCert(t, ca, "node-a")
	if _, err := cert.Verify(x509.VerifyOptions{Roots: ca.Pool(), CurrentTime: t0,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Fatalf("node certificate does not verify as a client certificate: %v", err)
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: ca.Pool(), CurrentTime: t0,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err == nil {
		t.Error("a node certificate verifies as a serving certificate")
	}
	if name, ok := NodeName(cert); !ok || name != "node-a" {
		t.Errorf("NodeName = %q, %v; want node-a", name, ok)
	}
	if _, err := mustCA(t).Cert.Verify(x509.VerifyOptions{}); err == nil {
		t.Error("a CA verifies without roots")
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: mustCA(t).Pool(), CurrentTime: t0,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err == nil {
		t.Error("a node certificate verifies against another CA")
	}
}

func TestSignNodeCSRRefuses(t *testing.T) {
	ca := mustCA(t)
	csrB, _, err := NewNodeCSR("node-b")
	if err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		csr  []byte
		node string
	}{
		"another node's name": {csrB, "node-a"},
		"bad node name":       {csrB, "Node_B"},
		"not PEM":             {[]byte("hello"), "node-b"},
		"a certificate":       {ca.CertPEM, "node-b"},
		"tampered":            {tamper(csrB), "node-b"},
	} {
		if _, err := ca.SignNodeCSR(tc.csr, tc.node, t0, NodeValidity); !errors.Is(err, api.ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", name, err)
		}
	}
}

// tamper flips a byte inside the CSR's signed part, so its signature no
// longer holds.
func tamper(csrPEM []byte) []byte {
	csr, _ := ParseCSR(csrPEM)
	der := append([]byte(nil), csr.Raw...)
	der[len(csr.RawTBSCertificateRequest)/2] ^= 0x01
	return []byte("-----BEGIN CERTIFICATE REQUEST-----\n" + b64(der) + "\n-----END CERTIFICATE REQUEST-----\n")
}

func TestNeedsRenewal(t *testing.T) {
	cert := mustNodeCert(t, mustCA(t), "node-a")
	life := cert.NotAfter.Sub(cert.NotBefore)
	for _, tc := range []struct {
		at   time.Time
		want bool
	}{
		{t0, false},
		{cert.NotBefore.Add(life / 2), false},
		{cert.NotAfter.Add(-life / 4), true},
		{cert.NotAfter.Add(time.Hour), true},
		{cert.NotBefore.Add(-time.Hour), true},
	} {
		if got := NeedsRenewal(cert, tc.at); got != tc.want {
			t.Errorf("NeedsRenewal at %s = %v, want %v", tc.at, got, tc.want)
		}
	}
}

func TestFingerprint(t *testing.T) {
	ca := mustCA(t)
	fp := ca.Fingerprint()
	if !strings.HasPrefix(fp, "sha256:") || len(fp) != len("sha256:")+64 {
		t.Fatalf("fingerprint %q: want sha256:<64 hex>", fp)
	}
	if other := mustCA(t).Fingerprint(); other == fp {
		t.Error("two CAs share a fingerprint")
	}
}
