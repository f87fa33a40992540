package auth

import (
	"fmt"
	"net/http"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/pki"
)

// X509 authenticates nodes by their client certificate. The TLS handshake
// has already verified the chain against the cluster CA
// (tls.VerifyClientCertIfGiven with the CA as ClientCAs); this only reads
// the verified leaf. A request without a verified certificate is not its
// kind of credential; a verified certificate that is not a node
// certificate is refused, since the CA issues nothing else to clients.
type X509 struct{}

// Authenticate implements the authenticator contract: (id, true, nil),
// (nil, false, nil) or (nil, true, err wrapping api.ErrUnauthorized).
func (X509) Authenticate(r *http.Request) (*Identity, bool, error) {
	if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 || len(r.TLS.VerifiedChains[0]) == 0 {
		return nil, false, nil
	}
	leaf := r.TLS.VerifiedChains[0][0]
	node, ok := pki.NodeName(leaf)
	if !ok {
		return nil, true, fmt.Errorf("client certificate %q is not a node certificate (want CN %q, O %q): %w",
			leaf.Subject.String(), pki.NodeCNPrefix+"<name>", pki.NodeOrganization, api.ErrUnauthorized)
	}
	return &Identity{Name: pki.NodeCNPrefix + node, Kind: KindNode, Node: node, Via: "x509"}, true, nil
}
