package pki

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"time"
)

// File names of the serving certificate in a PKI directory.
const (
	ServingCertFile = "apiserver.crt"
	ServingKeyFile  = "apiserver.key"
)

// Serving is an API server's serving certificate from the cluster CA,
// kept in dir, reissued when it does not name every host, was signed by
// another CA, or nears its expiry. Handshakes take the current one, so a
// renewal needs no restart.
type Serving struct {
	ca    *CA
	dir   string
	hosts []string
	log   *slog.Logger

	mu   sync.Mutex
	cert *tls.Certificate
}

// NewServing loads the serving certificate in dir, or issues one.
func NewServing(ca *CA, dir string, hosts []string, now time.Time, log *slog.Logger) (*Serving, error) {
	s := &Serving{ca: ca, dir: dir, hosts: hosts, log: log}
	if c, err := s.load(); err == nil && s.good(c, now) {
		s.cert = c
		return s, nil
	}
	if err := s.issue(now); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Serving) load() (*tls.Certificate, error) {
	c, err := tls.LoadX509KeyPair(filepath.Join(s.dir, ServingCertFile), filepath.Join(s.dir, ServingKeyFile))
	if err != nil {
		return nil, err
	}
	return s.withCA(c), nil
}

// withCA appends the CA to the chain the server presents, so a client that
// knows only the CA's fingerprint (an agent's first contact) can find the
// CA in the handshake, pin it, and verify the leaf against it.
func (s *Serving) withCA(c tls.Certificate) *tls.Certificate {
	c.Certificate = append(c.Certificate, s.ca.Cert.Raw)
	return &c
}

// good reports whether c may go on serving at now.
func (s *Serving) good(c *tls.Certificate, now time.Time) bool {
	leaf := c.Leaf
	if leaf == nil {
		return false
	}
	_, err := leaf.Verify(x509.VerifyOptions{
		Roots: s.ca.Pool(), CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	return err == nil && Covers(leaf, s.hosts) && !NeedsRenewal(leaf, now)
}

func (s *Serving) issue(now time.Time) error {
	certPEM, keyPEM, err := s.ca.IssueServing(s.hosts, now, ServingValidity)
	if err != nil {
		return err
	}
	c, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return fmt.Errorf("serving certificate: %w", err)
	}
	if err := WriteFile(filepath.Join(s.dir, ServingKeyFile), keyPEM); err != nil {
		return err
	}
	if err := WriteFile(filepath.Join(s.dir, ServingCertFile), certPEM); err != nil {
		return err
	}
	s.mu.Lock()
	s.cert = s.withCA(c)
	s.mu.Unlock()
	s.log.Info("serving certificate issued", "hosts", s.hosts, "notAfter", c.Leaf.NotAfter,
		"path", filepath.Join(s.dir, ServingCertFile))
	return nil
}

// GetCertificate is tls.Config.GetCertificate.
func (s *Serving) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cert, nil
}

// Renew reissues the certificate if it needs it at now.
func (s *Serving) Renew(now time.Time) error {
	s.mu.Lock()
	c := s.cert
	s.mu.Unlock()
	if s.good(c, now) {
		return nil
	}
	return s.issue(now)
}

// Run checks every interval until ctx ends, renewing when due.
func (s *Serving) Run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			if err := s.Renew(now); err != nil {
				s.log.Error("serving certificate renewal failed", "err", err)
			}
		}
	}
}
