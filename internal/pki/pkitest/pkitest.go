// Package pkitest issues credentials from a cluster CA for tests: a node's
// key pair and certificate, made the way an agent gets them (a CSR signed
// by the CA), ready for a tls.Config.
package pkitest

import (
	"crypto/tls"
	"testing"
	"time"

	"github.com/humstack/humstack/internal/pki"
)

// NodeCert returns a certificate for node signed by ca, valid for an hour.
func NodeCert(t testing.TB, ca *pki.CA, node string) *tls.Certificate {
	t.Helper()
	return NodeCertAt(t, ca, node, time.Now(), time.Hour)
}

// ExpiredNodeCert returns a certificate for node signed by ca that expired
// an hour ago.
func ExpiredNodeCert(t testing.TB, ca *pki.CA, node string) *tls.Certificate {
	t.Helper()
	return NodeCertAt(t, ca, node, time.Now().Add(-2*time.Hour), time.Hour)
}

// NodeCertAt returns a certificate for node signed by ca, issued at now
// and valid for validity.
func NodeCertAt(t testing.TB, ca *pki.CA, node string, now time.Time, validity time.Duration) *tls.Certificate {
	t.Helper()
	csr, key, err := pki.NewNodeCSR(node)
	if err != nil {
		t.Fatal(err)
	}
	certPEM, err := ca.SignNodeCSR(csr, node, now, validity)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM, err := pki.EncodeKey(key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return &c
}
