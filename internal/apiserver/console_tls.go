package apiserver

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"time"

	"github.com/coder/websocket"

	"github.com/humstack/humstack/internal/agent/console"
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

// dialConsole dials the console websocket of t: over mutual TLS when the
// server has its certificate, falling back once to plain HTTP with the
// secret (when the server has one) for a node listener that does not
// speak TLS, an agent that has not joined.
func (s *Server) dialConsole(ctx context.Context, t *consoleTarget, path func(console.Key) string) (*websocket.Conn, *http.Response, error) {
	dial := func() (*websocket.Conn, *http.Response, error) {
		return websocket.Dial(ctx, t.url(path), &websocket.DialOptions{
			HTTPClient: s.consoles.client(*t), HTTPHeader: s.consoles.header(*t), Subprotocols: []string{console.Subprotocol},
		})
	}
	up, resp, err := dial()
	if s.fallBack(t, resp, err) {
		up, resp, err = dial()
	}
	return up, resp, err
}

// getConsoleLog requests t's serial log, with dialConsole's fallback.
func (s *Server) getConsoleLog(ctx context.Context, t *consoleTarget) (*http.Response, error) {
	get := func() (*http.Response, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.url(console.LogPath), nil)
		if err != nil {
			return nil, err
		}
		req.Header = s.consoles.header(*t)
		return s.consoles.client(*t).Do(req)
	}
	resp, err := get()
	if s.fallBack(t, resp, err) {
		resp, err = get()
	}
	return resp, err
}

// fallBack switches t to plain HTTP with the secret after a TLS attempt
// that got no answer at all, when there is a secret to fall back on.
func (s *Server) fallBack(t *consoleTarget, resp *http.Response, err error) bool {
	if err == nil || resp != nil || !t.tls || s.consoles.secret == "" {
		return false
	}
	s.log.Warn("console: node listener did not answer over TLS; trying plain HTTP with the shared secret", "node", t.node, "err", err)
	t.tls = false
	return true
}
