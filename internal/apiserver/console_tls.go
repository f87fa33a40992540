package apiserver

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"time"

	"github.com/humstack/humstack/internal/pki"
)

// consolePeer reaches node listeners over mutual TLS: the API server's
// client certificate, and each node's certificate checked by node name.
type consolePeer struct {
	roots *x509.CertPool
	cert  *tls.Certificate
}

func (p *consolePeer) client(node string) *http.Client {
	return &http.Client{Transport: &http.Transport{
		TLSClientConfig:       pki.PeerClientConfig(p.roots, func() *tls.Certificate { return p.cert }, node),
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		ResponseHeaderTimeout: consoleDialTimeout,
		IdleConnTimeout:       time.Minute,
	}}
}

// newConsolePeer is the console proxy's mutual TLS, or nil when the server
// has no node client certificate (TLS off).
func newConsolePeer(t *TLSOptions) *consolePeer {
	if t == nil || t.NodeClient == nil {
		return nil
	}
	return &consolePeer{roots: t.CA.Pool(), cert: t.NodeClient}
}
