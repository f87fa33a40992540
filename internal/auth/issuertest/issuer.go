// Package issuertest runs a real OpenID Connect issuer in-process for
// tests: an HTTPS server with discovery (/.well-known/openid-configuration),
// a JWKS that counts its fetches and can publish more keys (rotation), ID
// tokens signed with go-jose (through go-oidc's oidctest), and an OAuth 2.0
// token endpoint with the device authorization grant (RFC 8628) and
// refresh tokens (device.go), and the authorization code grant with PKCE
// (code.go). It can be switched down (connections dropped) and up again.
package issuertest

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/coreos/go-oidc/v3/oidc/oidctest"
)

// ClientID is the audience of the issuer's tokens unless a test says otherwise.
const ClientID = "humstack"

// KeyID is the id of the issuer's first signing key in its JWKS.
const KeyID = "test-key"

// Issuer is a running test issuer.
type Issuer struct {
	URL    string
	Server *httptest.Server // its TLS server: Server.Client() trusts it
	Key    *rsa.PrivateKey  // the key Token signs with (KeyID)
	down   atomic.Bool
	// noDevice leaves device_authorization_endpoint out of discovery.
	noDevice atomic.Bool
	// keyFetches counts GETs of the JWKS.
	keyFetches atomic.Int64

	mu   sync.Mutex
	keys []jose.JSONWebKey // published
	// IDTokenTTL is the lifetime of the ID tokens the token endpoint
	// issues; 0: an hour. Set it before the first token request.
	IDTokenTTL time.Duration
	dev        deviceState
	code       codeState
}

// New starts an issuer, stopped at the test's end.
func New(t testing.TB) *Issuer {
	t.Helper()
	key := NewKey(t)
	is := &Issuer{Key: key}
	is.Publish(KeyID, key)
	is.dev.init()
	is.code.codes = map[string]*codeReq{}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", is.serveDiscovery)
	mux.HandleFunc("GET /keys", is.serveKeys)
	mux.HandleFunc("POST /device", is.serveDeviceAuth)
	mux.HandleFunc("POST /token", is.serveToken)
	mux.HandleFunc("GET /auth", is.serveAuthorize)
	is.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if is.down.Load() {
			drop(w)
			return
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(is.Server.Close)
	is.URL = is.Server.URL
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

// Publish adds key's public half to the JWKS under kid: what an issuer
// does when it rotates its signing key.
func (is *Issuer) Publish(kid string, key *rsa.PrivateKey) {
	is.mu.Lock()
	defer is.mu.Unlock()
	is.keys = append(is.keys, jose.JSONWebKey{Key: key.Public(), KeyID: kid, Algorithm: oidc.RS256, Use: "sig"})
}

// KeyFetches is how many times the JWKS has been fetched.
func (is *Issuer) KeyFetches() int64 { return is.keyFetches.Load() }

// SetDeviceFlow publishes (true, the default) or leaves out (false) the
// device authorization endpoint in discovery.
func (is *Issuer) SetDeviceFlow(on bool) { is.noDevice.Store(!on) }

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

func (is *Issuer) serveDiscovery(w http.ResponseWriter, _ *http.Request) {
	d := map[string]any{
		"issuer":                                is.URL,
		"authorization_endpoint":                is.URL + "/auth",
		"token_endpoint":                        is.URL + "/token",
		"jwks_uri":                              is.URL + "/keys",
		"response_types_supported":              []string{"code", "id_token"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{oidc.RS256},
		"grant_types_supported":                 []string{"refresh_token", deviceGrant, codeGrant},
		"code_challenge_methods_supported":      []string{"S256"},
	}
	if !is.noDevice.Load() {
		d["device_authorization_endpoint"] = is.URL + "/device"
	}
	writeJSON(w, http.StatusOK, d)
}

func (is *Issuer) serveKeys(w http.ResponseWriter, _ *http.Request) {
	is.keyFetches.Add(1)
	is.mu.Lock()
	set := jose.JSONWebKeySet{Keys: append([]jose.JSONWebKey(nil), is.keys...)}
	is.mu.Unlock()
	writeJSON(w, http.StatusOK, set)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
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
