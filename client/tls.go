package client

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"

	"github.com/humstack/humstack/api"
)

// WithTLS sets the TLS configuration of HTTPS connections: which CA the
// server's certificate must chain to (RootCAs, or a pin: see PinCA) and,
// optionally, the client certificate (Certificates or
// GetClientCertificate, which lets a renewed certificate take over without
// a new client). It has no effect on a client built WithHTTPClient after it.
func WithTLS(tc *tls.Config) Option {
	return func(c *Client) {
		tr := defaultTransport()
		tr.TLSClientConfig = tc.Clone() // the transport may change it (ALPN); the caller's stays theirs
		c.hc = &http.Client{Transport: tr}
	}
}

// TrustCAFile returns a TLS configuration trusting only the CA certificates
// in the PEM file at path (humcli --ca-file, an agent's apiServerCAFile).
func TrustCAFile(path string) (*tls.Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("CA file: %w", err)
	}
	tc, err := TrustCA(b)
	if err != nil {
		return nil, fmt.Errorf("CA file %s: %w", path, err)
	}
	return tc, nil
}

// TrustCA returns a TLS configuration trusting only the CA certificates of
// pemBytes.
func TrustCA(pemBytes []byte) (*tls.Config, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemBytes) {
		return nil, errors.New("no PEM certificate in it")
	}
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, nil
}

// PinCA returns a TLS configuration for a first contact in which only the
// CA's fingerprint ("sha256:<hex>" of its DER) is known: the server must
// present that CA in its chain (humstack's API servers do), and its leaf
// certificate must chain to it and name the host dialled.
func PinCA(fingerprint string) (*tls.Config, error) {
	want, ok := strings.CutPrefix(strings.ToLower(strings.TrimSpace(fingerprint)), "sha256:")
	if b, err := hex.DecodeString(want); !ok || err != nil || len(b) != sha256.Size {
		return nil, fmt.Errorf("CA fingerprint %q: want sha256:<64 hex digits>", fingerprint)
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: true} // verified below instead
	tc.VerifyConnection = func(cs tls.ConnectionState) error {
		return verifyPinned(cs, want)
	}
	return tc, nil
}

func verifyPinned(cs tls.ConnectionState, want string) error {
	if len(cs.PeerCertificates) == 0 {
		return errors.New("the server presented no certificate")
	}
	for _, c := range cs.PeerCertificates[1:] {
		sum := sha256.Sum256(c.Raw)
		if hex.EncodeToString(sum[:]) != want || !c.IsCA {
			continue
		}
		roots := x509.NewCertPool()
		roots.AddCert(c)
		if _, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{DNSName: cs.ServerName, Roots: roots}); err != nil {
			return certError("the server's certificate does not verify against the pinned CA: %v", err)
		}
		return nil
	}
	return certError("the server's chain holds no CA with fingerprint sha256:%s (check apiServerCAFingerprint)", want)
}

// ErrCertificate marks a failure to verify the server's certificate: a
// retry will not help, unlike the api.ErrUnavailable it also wraps.
var ErrCertificate = errors.New("server certificate not trusted")

// tlsHint adds what to check to a failed certificate verification, which
// Go reports in its own terms, and marks it with ErrCertificate.
func tlsHint(err error) error {
	var ua x509.UnknownAuthorityError
	var ve *tls.CertificateVerificationError
	var he x509.HostnameError
	switch {
	case errors.As(err, &ua):
		return certError("the server's certificate does not chain to the configured CA (check --ca-file or the context's CA): %v", err)
	case errors.As(err, &he):
		return certError("the server's certificate does not name this address (add it with apiserver --tls-san): %v", err)
	case errors.Is(err, ErrCertificate):
		return err
	case errors.As(err, &ve):
		return certError("the server's certificate cannot be verified: %v", err)
	case strings.Contains(err.Error(), "server gave HTTP response to HTTPS client"):
		return fmt.Errorf("the server speaks plain HTTP, not HTTPS (use an http:// address): %v", err)
	}
	return err
}

// certError is a message marked with ErrCertificate without showing it.
func certError(format string, args ...any) error {
	return &markedError{msg: fmt.Sprintf(format, args...), mark: ErrCertificate}
}

type markedError struct {
	msg  string
	mark error
}

func (e *markedError) Error() string { return e.msg }
func (e *markedError) Unwrap() error { return e.mark }

// ErrHTTPSRequired means a plain-HTTP request reached an API server that
// serves HTTPS (its default). It is also an api.ErrInvalid: resending the
// same request cannot help.
var ErrHTTPSRequired = fmt.Errorf("the API server serves HTTPS: %w", api.ErrInvalid)

// httpToHTTPS is the answer of Go's TLS server to a plain-HTTP request.
const httpToHTTPS = "Client sent an HTTP request to an HTTPS server"

// responseError turns a failed answer into an api error class, from the
// envelope's message when there is one.
func responseError(status int, body []byte) error {
	if status == http.StatusBadRequest && strings.Contains(string(body), httpToHTTPS) {
		return &markedError{mark: ErrHTTPSRequired,
			msg: "the API server serves HTTPS and this client speaks plain HTTP: use an https:// address and the cluster CA"}
	}
	var env envelope
	msg := http.StatusText(status)
	if json.Unmarshal(body, &env) == nil && env.Error != nil {
		msg = *env.Error
	}
	return api.ErrorFromHTTP(status, env.Reason, msg)
}
