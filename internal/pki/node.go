package pki

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"strings"
	"time"

	"github.com/humstack/humstack/api"
)

// Subject of node certificates.
const (
	NodeCNPrefix     = "node:"
	NodeOrganization = "humstack:nodes"
)

// NewNodeCSR makes a node's key and a CSR for its certificate.
func NewNodeCSR(node string) (csrPEM []byte, key *ecdsa.PrivateKey, err error) {
	key, err = NewKey()
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.CertificateRequest{Subject: nodeSubject(node)}
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		return nil, nil, fmt.Errorf("create certificate request: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}), key, nil
}

func nodeSubject(node string) pkix.Name {
	return pkix.Name{CommonName: NodeCNPrefix + node, Organization: []string{NodeOrganization}}
}

// SignNodeCSR issues node's client certificate for the key of csrPEM. The
// subject is set here from node, whatever the CSR asks for; a CSR asking
// for another node's name is refused, since it is either a mistake or an
// attempt to pass as that node.
func (ca *CA) SignNodeCSR(csrPEM []byte, node string, now time.Time, validity time.Duration) ([]byte, error) {
	if !api.IsID(node) {
		return nil, api.Invalid("meta.id", "%q is not a node name", node)
	}
	csr, err := ParseCSR(csrPEM)
	if err != nil {
		return nil, err
	}
	if cn := csr.Subject.CommonName; cn != "" && cn != NodeCNPrefix+node {
		return nil, api.Invalid("csr", "the request is for %q, not %q", cn, NodeCNPrefix+node)
	}
	if _, ok := csr.PublicKey.(*ecdsa.PublicKey); !ok {
		return nil, api.Invalid("csr", "key type %T: want ECDSA", csr.PublicKey)
	}
	tmpl := &x509.Certificate{
		Subject:     nodeSubject(node),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	return ca.sign(tmpl, csr.PublicKey, now, validity)
}

// NodeName returns the node a node certificate names, or false when cert is
// not one (the subject is the only thing checked: the chain must already
// have been verified against the cluster CA).
func NodeName(cert *x509.Certificate) (string, bool) {
	name, ok := strings.CutPrefix(cert.Subject.CommonName, NodeCNPrefix)
	if !ok || !api.IsID(name) {
		return "", false
	}
	for _, o := range cert.Subject.Organization {
		if o == NodeOrganization {
			return name, true
		}
	}
	return "", false
}

// IssueServing issues a serving certificate (and its fresh key) for hosts:
// DNS names and IP addresses alike.
func (ca *CA) IssueServing(hosts []string, now time.Time, validity time.Duration) (certPEM, keyPEM []byte, err error) {
	key, err := NewKey()
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: "humstack apiserver", Organization: []string{"humstack"}},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	addSANs(tmpl, hosts)
	certPEM, err = ca.sign(tmpl, &key.PublicKey, now, validity)
	if err != nil {
		return nil, nil, err
	}
	keyPEM, err = EncodeKey(key)
	return certPEM, keyPEM, err
}
