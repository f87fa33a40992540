package pki

import (
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"time"
)

// The node listener (download API and consoles) speaks mutual TLS with
// these certificates: each node presents its node certificate as server
// and as client; an API server presents an API server client certificate.
// Clients check that the listener is the node they meant, by name, not by
// host name: node certificates name no hosts.

// APIServerOrganization marks an API server's client certificate.
const APIServerOrganization = "humstack:apiservers"

// IssueAPIServerClient issues an API server's client certificate (and its
// key) for the node listeners.
func (ca *CA) IssueAPIServerClient(name string, now time.Time, validity time.Duration) (*tls.Certificate, error) {
	key, err := NewKey()
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: "apiserver:" + name, Organization: []string{APIServerOrganization}},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	certPEM, err := ca.sign(tmpl, &key.PublicKey, now, validity)
	if err != nil {
		return nil, err
	}
	keyPEM, err := EncodeKey(key)
	if err != nil {
		return nil, err
	}
	c, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, err
	}
	return &c, nil
}

// IsAPIServer reports whether cert is an API server's client certificate
// (the chain must already be verified).
func IsAPIServer(cert *x509.Certificate) bool {
	for _, o := range cert.Subject.Organization {
		if o == APIServerOrganization {
			return true
		}
	}
	return false
}

// PeerClientConfig is the TLS configuration for calling node's listener:
// present getCert's certificate, and accept only the node certificate of
// node from roots.
func PeerClientConfig(roots *x509.CertPool, getCert func() *tls.Certificate, node string) *tls.Config {
	return &tls.Config{
		MinVersion:         tls.VersionTLS12,
		InsecureSkipVerify: true, // verified below: by node name, not host name
		VerifyConnection: func(cs tls.ConnectionState) error {
			return verifyNodePeer(cs, roots, node)
		},
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			if c := getCert(); c != nil {
				return c, nil
			}
			return &tls.Certificate{}, nil
		},
	}
}

func verifyNodePeer(cs tls.ConnectionState, roots *x509.CertPool, node string) error {
	if len(cs.PeerCertificates) == 0 {
		return fmt.Errorf("node %s presented no certificate", node)
	}
	inter := x509.NewCertPool()
	for _, c := range cs.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	leaf := cs.PeerCertificates[0]
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		return fmt.Errorf("node %s's certificate: %w", node, err)
	}
	if name, ok := NodeName(leaf); !ok || name != node {
		return fmt.Errorf("the listener is %q, not node %s", leaf.Subject.CommonName, node)
	}
	return nil
}
