// Package nodecred is an agent's node credential: the client certificate
// from the cluster CA with which it talks to the API servers. At first
// start the agent joins: it makes its key, sends a CSR with its join token
// (over a connection verified by the configured CA file or fingerprint
// pin or, with neither, by the CA that the API server proved with the
// token: discover.go) and stores key, certificate and CA (0600) in its PKI
// directory; on later starts it loads them. Before the certificate
// expires it renews it with the certificate itself, no token needed.
package nodecred

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/pki"
)

// Files in the PKI directory.
const (
	KeyFile  = "node.key"
	CertFile = "node.crt"
	CAFile   = "ca.crt"
)

// Config says where the credential lives and how to get one.
type Config struct {
	Dir  string // PKI directory
	Node string
	// Servers are the API servers' https URLs, comma-separated.
	Servers string
	// Token is the join token; only needed when Dir holds no credential.
	Token string
	// CAFile and CAFingerprint verify the API servers on first contact;
	// CAFile, when set, stays the trust anchor afterwards. With neither,
	// the join learns the CA from the token's cluster info (discover).
	CAFile, CAFingerprint string
	Log                   *slog.Logger
}

// Credential is the agent's current node certificate and trust anchor.
type Credential struct {
	cfg   Config
	roots *x509.CertPool
	// discovered is the fingerprint of the CA the token's cluster info
	// proved (discover); the join's answer must name the same CA.
	discovered string
	mu         sync.Mutex
	cert       *tls.Certificate // nil: no client certificate (not joined)
}

// Setup loads the stored credential or joins with the token. Without
// either it returns a credential that only verifies the servers.
func Setup(ctx context.Context, cfg Config) (*Credential, error) {
	c := &Credential{cfg: cfg}
	if err := c.load(); err == nil {
		cfg.Log.Info("node credential loaded", "node", cfg.Node, "notAfter", c.cert.Leaf.NotAfter, "dir", cfg.Dir)
		return c, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		cfg.Log.Warn("stored node credential unusable", "dir", cfg.Dir, "err", err)
	}
	if cfg.CAFile != "" {
		roots, err := readPool(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("apiServerCAFile: %w", err)
		}
		c.roots = roots
	}
	if cfg.Token == "" {
		cfg.Log.Warn("no node credential: the agent has no joinToken and none stored; it talks HTTPS without a client certificate", "dir", cfg.Dir)
		return c, nil
	}
	if err := c.join(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// load reads key, certificate and CA from Dir and checks that they fit.
func (c *Credential) load() error {
	d := c.cfg.Dir
	kp, err := tls.LoadX509KeyPair(filepath.Join(d, CertFile), filepath.Join(d, KeyFile))
	if err != nil {
		return err
	}
	caPath := filepath.Join(d, CAFile)
	if c.cfg.CAFile != "" {
		caPath = c.cfg.CAFile
	}
	roots, err := readPool(caPath)
	if err != nil {
		return err
	}
	if name, ok := pki.NodeName(kp.Leaf); !ok || name != c.cfg.Node {
		return fmt.Errorf("%s is for %q, this node is %q", CertFile, kp.Leaf.Subject.CommonName, c.cfg.Node)
	}
	if _, err := kp.Leaf.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		return fmt.Errorf("%s: %w", CertFile, err)
	}
	c.roots, c.cert = roots, &kp
	return nil
}

func readPool(path string) (*x509.CertPool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("%s: no PEM certificate in it", path)
	}
	return pool, nil
}

// TLSConfig is the agent's client TLS configuration: the servers must
// chain to the CA, and the current certificate is presented (a renewed
// one from the next connection on).
func (c *Credential) TLSConfig() (*tls.Config, error) {
	if c.roots == nil {
		return client.PinCA(c.cfg.CAFingerprint)
	}
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		RootCAs:    c.roots,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			c.mu.Lock()
			defer c.mu.Unlock()
			if c.cert == nil {
				return &tls.Certificate{}, nil // none: the server may still admit us
			}
			return c.cert, nil
		},
	}, nil
}

// Certificate returns the current node certificate, or nil.
func (c *Credential) Certificate() *tls.Certificate {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cert
}

// firstContact is the TLS configuration of the join: the CA file, or the
// fingerprint pin.
func (c *Credential) firstContact() (*tls.Config, error) {
	if c.roots != nil {
		return &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: c.roots}, nil
	}
	return client.PinCA(c.cfg.CAFingerprint)
}

// join sends a CSR with the token, retrying while the API server cannot be
// reached; a refused token is final.
func (c *Credential) join(ctx context.Context) error {
	var err error
	for attempt := 0; ; attempt++ {
		err = c.joinOnce(ctx)
		// An untrusted server certificate is a misconfiguration (or an
		// impostor): waiting will not change it.
		if err == nil || !errors.Is(err, api.ErrUnavailable) || errors.Is(err, client.ErrCertificate) || ctx.Err() != nil {
			break
		}
		c.cfg.Log.Warn("join: API server unavailable, retrying", "err", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(min(time.Second<<min(attempt, 5), 30*time.Second)):
		}
	}
	if err != nil {
		return fmt.Errorf("join as node %s: %w", c.cfg.Node, err)
	}
	c.cfg.Log.Info("node joined", "node", c.cfg.Node, "dir", c.cfg.Dir)
	return nil
}

// joinOnce learns the CA first if nothing says which it is (discover),
// then sends the CSR with the token over a connection verified by it.
func (c *Credential) joinOnce(ctx context.Context) error {
	if c.roots == nil && c.cfg.CAFingerprint == "" {
		if err := c.discover(ctx); err != nil {
			return err
		}
	}
	tc, err := c.firstContact()
	if err != nil {
		return err
	}
	cl, err := client.New(c.cfg.Servers, client.WithTLS(tc))
	if err != nil {
		return err
	}
	return c.request(ctx, cl, c.cfg.Token)
}

// request asks for a certificate (with token, or as renewal when token is
// empty), and stores and uses what comes back.
func (c *Credential) request(ctx context.Context, cl *client.Client, token string) error {
	csr, key, err := pki.NewNodeCSR(c.cfg.Node)
	if err != nil {
		return err
	}
	cred, err := cl.Join(ctx, c.cfg.Node, token, csr)
	if err != nil {
		return err
	}
	ca, err := pki.ParseCert([]byte(cred.CA))
	if err != nil {
		return fmt.Errorf("CA from the API server: %w", err)
	}
	if fp := c.cfg.CAFingerprint; fp != "" && c.cfg.CAFile == "" && pki.Fingerprint(ca) != fp {
		return fmt.Errorf("the API server's CA is %s, apiServerCAFingerprint pins %s", pki.Fingerprint(ca), fp)
	}
	if fp := c.discovered; fp != "" && pki.Fingerprint(ca) != fp {
		return fmt.Errorf("the API server's CA is %s, its cluster info proved %s", pki.Fingerprint(ca), fp)
	}
	keyPEM, err := pki.EncodeKey(key)
	if err != nil {
		return err
	}
	kp, err := tls.X509KeyPair([]byte(cred.Certificate), keyPEM)
	if err != nil {
		return fmt.Errorf("certificate from the API server: %w", err)
	}
	for _, f := range []struct {
		name string
		data []byte
	}{{KeyFile, keyPEM}, {CertFile, []byte(cred.Certificate)}, {CAFile, []byte(cred.CA)}} {
		if err := pki.WriteFile(filepath.Join(c.cfg.Dir, f.name), f.data); err != nil {
			return err
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.roots == nil {
		c.roots = x509.NewCertPool()
		c.roots.AddCert(ca)
	}
	c.cert = &kp
	return nil
}

// Joined reports whether the node has its certificate.
func (c *Credential) Joined() bool { return c != nil && c.Certificate() != nil }

// ListenerTLS is the node listener's TLS configuration: the node
// certificate as the server's, and client certificates verified against
// the cluster CA (node and API server certificates are admitted by
// downloadapi.Listener, by its rule table).
func (c *Credential) ListenerTLS() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return c.Certificate(), nil
		},
		ClientAuth: tls.VerifyClientCertIfGiven,
		ClientCAs:  c.roots,
	}
}

// PeerClient returns an HTTP client for node's listener over mutual TLS.
func (c *Credential) PeerClient(node string) *http.Client {
	return &http.Client{Transport: &http.Transport{
		TLSClientConfig: pki.PeerClientConfig(c.roots, c.Certificate, node),
		// Nodes are on the cluster network: no proxy from the environment.
		DialContext: (&net.Dialer{Timeout: 10 * time.Second}).DialContext,
	}}
}
