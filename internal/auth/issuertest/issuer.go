// Package issuertest runs a real OpenID Connect issuer in-process for
// tests: an HTTPS server with discovery (/.well-known/openid-configuration)
// and a JWKS, whose ID tokens are signed with go-jose (through go-oidc's
// oidctest). It can be switched down (connections dropped) and up again.
package issuertest

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/coreos/go-oidc/v3/oidc/oidctest"
)

// ClientID is the audience of the issuer's tokens unless a test says otherwise.
const ClientID = "humstack"

// KeyID is the id of the issuer's signing key in its JWKS.
const KeyID = "test-key"

// Issuer is a running test issuer.
type Issuer struct {
	URL    string
	Server *httptest.Server // its TLS server: Server.Client() trusts it
	Key    *rsa.PrivateKey
	down   atomic.Bool
}

// New starts an issuer, stopped at the test's end.
func New(t testing.TB) *Issuer {
	t.Helper()
	key := NewKey(t)
	is := &Issuer{Key: key}
	o := &oidctest.Server{PublicKeys: []oidctest.PublicKey{{PublicKey: key.Public(), KeyID: KeyID, Algorithm: oidc.RS256}}}
	is.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if is.down.Load() {
			drop(w)
			return
		}
		o.ServeHTTP(w, r)
	}))
	t.Cleanup(is.Server.Close)
	is.URL = is.Server.URL
	o.SetIssuer(is.URL)
	return is
}

// NewKey makes an RSA signing key (2048 bits: what issuers use).
func NewKey(t testing.TB) *rsa.PrivateKey {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// drop closes the connection without an answer, as an unreachable issuer
// would look to its client.
func drop(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if c, _, err := hj.Hijack(); err == nil {
			_ = c.Close()
			return
		}
	}
	w.WriteHeader(http.StatusServiceUnavailable)
}

// SetDown makes the issuer drop every connection (true) or answer (false).
func (is *Issuer) SetDown(down bool) {
	is.down.Store(down)
	is.Server.CloseClientConnections()
}

// Claims are the standard claims of a valid token for sub, expiring in an
// hour; a test changes or adds what it needs.
func (is *Issuer) Claims(sub string) map[string]any {
	now := time.Now()
	return map[string]any{
		"iss": is.URL, "aud": ClientID, "sub": sub,
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	}
}

// Token signs claims with the issuer's key.
func (is *Issuer) Token(t testing.TB, claims map[string]any) string {
	t.Helper()
	return Sign(t, is.Key, KeyID, claims)
}

// Sign signs claims with key under kid (RS256).
func Sign(t testing.TB, key *rsa.PrivateKey, kid string, claims map[string]any) string {
	t.Helper()
	b, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	return oidctest.SignIDToken(key, kid, oidc.RS256, string(b))
}

// Unsigned is claims as a JWT with alg "none" and no signature.
func Unsigned(t testing.TB, claims map[string]any) string {
	t.Helper()
	b, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + enc(b) + "."
}
