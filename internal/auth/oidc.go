package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// OIDCVia is Identity.Via of an identity from an OIDC ID token.
const OIDCVia = "oidc"

// Defaults of OIDCConfig.
const (
	DefaultOIDCUsernameClaim  = "sub"
	DefaultOIDCUsernamePrefix = "oidc:"
	DefaultOIDCGroupsClaim    = "groups"
)

// ReservedGroupPrefix starts the names of humstack's own groups
// (GroupMasters); OIDC group names never do.
const ReservedGroupPrefix = "system:"

// oidcDiscoveryTimeout bounds one discovery attempt, which runs while
// requests presenting ID tokens wait.
const oidcDiscoveryTimeout = 5 * time.Second

// OIDCConfig configures an OIDCAuthenticator.
type OIDCConfig struct {
	// IssuerURL is the issuer (https), as in its tokens' "iss" claim; its
	// /.well-known/openid-configuration names the signing keys (JWKS).
	IssuerURL string
	// ClientID is the audience ("aud") an ID token must be issued for.
	ClientID string
	// UsernameClaim names the claim giving the user name; "": sub.
	UsernameClaim string
	// UsernamePrefix goes before every OIDC user name; "": "oidc:". It
	// cannot be turned off: it keeps an issuer's users from ever being
	// named like a token user or a node.
	UsernamePrefix string
	// GroupsClaim names the claim listing the user's groups; "": groups.
	GroupsClaim string
	// GroupsPrefix goes before every group name from the token; "": none.
	GroupsPrefix string
	// Client fetches discovery and keys (a private CA goes in its
	// transport); nil: a client trusting the system roots.
	Client *http.Client
	// Log receives the issuer's availability; nil: slog.Default.
	Log *slog.Logger
	// Now is the clock tokens expire by and key refetches are spaced by;
	// nil: time.Now.
	Now func() time.Time
	// KeyRefetchInterval is the least time between two fetches of the
	// issuer's keys caused by tokens no known key verifies (a new key id
	// after a rotation, or an attacker's random ones); 0:
	// DefaultOIDCKeyRefetchInterval.
	KeyRefetchInterval time.Duration
	// RetryMin and RetryMax bound the wait between discovery attempts
	// while the issuer is unreachable; 0: 1 s and 1 min.
	RetryMin, RetryMax time.Duration
}

// OIDCAuthenticator authenticates "Authorization: Bearer <JWT>" ID tokens
// of one OpenID Connect issuer: signature by the issuer's published keys,
// issuer, audience (the client id) and expiry are checked by go-oidc.
// Discovery happens lazily: an issuer that is down when the apiserver
// starts does not stop it; requests with ID tokens get 401 "OIDC issuer
// unavailable" until an attempt (spaced by a growing backoff) succeeds.
type OIDCAuthenticator struct {
	cfg OIDCConfig

	mu       sync.Mutex
	verifier *oidc.IDTokenVerifier
	endpoint oauth2.Endpoint // the issuer's, from discovery (oidclogin.go)
	backoff  time.Duration
	nextTry  time.Time
}

// NewOIDCAuthenticator checks cfg, fills in its defaults and returns the
// authenticator. It does not contact the issuer: see Prime.
func NewOIDCAuthenticator(cfg OIDCConfig) (*OIDCAuthenticator, error) {
	u, err := url.Parse(cfg.IssuerURL)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, errors.New("--oidc-issuer-url: want an https:// URL")
	}
	if cfg.ClientID == "" {
		return nil, errors.New("--oidc-client-id: required with --oidc-issuer-url")
	}
	setDefault(&cfg.UsernameClaim, DefaultOIDCUsernameClaim)
	setDefault(&cfg.UsernamePrefix, DefaultOIDCUsernamePrefix)
	setDefault(&cfg.GroupsClaim, DefaultOIDCGroupsClaim)
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: oidcDiscoveryTimeout}
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.RetryMin <= 0 {
		cfg.RetryMin = time.Second
	}
	if cfg.RetryMax <= 0 {
		cfg.RetryMax = time.Minute
	}
	if cfg.KeyRefetchInterval <= 0 {
		cfg.KeyRefetchInterval = DefaultOIDCKeyRefetchInterval
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &OIDCAuthenticator{cfg: cfg}, nil
}

func setDefault(s *string, def string) {
	if *s == "" {
		*s = def
	}
}

// Prime makes the first discovery attempt in the background, so that an
// issuer's availability is logged at start-up without delaying it.
func (a *OIDCAuthenticator) Prime() {
	go func() { _, _ = a.getVerifier() }()
}

// Authenticate implements Authenticator. Bearer values that are not JWTs
// (humstack tokens, anything else) are not its kind.
func (a *OIDCAuthenticator) Authenticate(r *http.Request) (*Identity, bool, error) {
	bearer, ok := BearerOf(r)
	if !ok || !LooksLikeJWT(bearer) {
		return nil, false, nil
	}
	if _, err := ParseIDTokenFront(bearer); err != nil {
		return nil, true, err
	}
	v, err := a.getVerifier()
	if err != nil {
		return nil, true, err
	}
	tok, err := v.Verify(r.Context(), bearer)
	if err != nil {
		a.cfg.Log.Debug("OIDC ID token refused", "err", err)
		return nil, true, verifyError(err)
	}
	id, err := a.identity(tok)
	if err != nil {
		return nil, true, err
	}
	return id, true, nil
}

// identity maps a verified token's claims to the caller.
func (a *OIDCAuthenticator) identity(tok *oidc.IDToken) (*Identity, error) {
	var claims map[string]json.RawMessage
	if err := tok.Claims(&claims); err != nil {
		return nil, unauthorized("malformed ID token")
	}
	name, ok := claimString(claims, a.cfg.UsernameClaim)
	if !ok {
		return nil, unauthorized(fmt.Sprintf("ID token has no %s claim", a.cfg.UsernameClaim))
	}
	if a.cfg.UsernameClaim == "email" {
		// An unverified address could be anyone's.
		var verified bool
		if raw, found := claims["email_verified"]; found && (json.Unmarshal(raw, &verified) != nil || !verified) {
			return nil, unauthorized("ID token email not verified")
		}
	}
	groups, err := claimGroups(claims, a.cfg.GroupsClaim)
	if err != nil {
		return nil, err
	}
	out := groups[:0]
	for _, g := range groups {
		// system: groups (system:masters is cluster-admin) are humstack's
		// own: an issuer's group never becomes one.
		if g = a.cfg.GroupsPrefix + g; !strings.HasPrefix(g, ReservedGroupPrefix) {
			out = append(out, g)
		}
	}
	groups = out
	return &Identity{Name: a.cfg.UsernamePrefix + name, Kind: KindUser, Groups: groups, Via: OIDCVia}, nil
}

// getVerifier returns the verifier once discovery has succeeded, trying
// discovery again when the backoff allows.
func (a *OIDCAuthenticator) getVerifier() (*oidc.IDTokenVerifier, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.verifier != nil {
		return a.verifier, nil
	}
	now := time.Now()
	if now.Before(a.nextTry) {
		return nil, errIssuerUnavailable
	}
	ctx, cancel := context.WithTimeout(oidc.ClientContext(context.Background(), a.cfg.Client), oidcDiscoveryTimeout)
	defer cancel()
	p, err := oidc.NewProvider(ctx, a.cfg.IssuerURL)
	if err == nil {
		a.verifier, err = a.newVerifier(p)
		a.endpoint = p.Endpoint()
	}
	if err != nil {
		a.backoff = min(max(2*a.backoff, a.cfg.RetryMin), a.cfg.RetryMax)
		a.nextTry = now.Add(a.backoff)
		a.cfg.Log.Warn("OIDC issuer unavailable", "issuer", a.cfg.IssuerURL, "err", err, "retry_in", a.backoff)
		return nil, errIssuerUnavailable
	}
	a.cfg.Log.Info("OIDC issuer discovered", "issuer", a.cfg.IssuerURL, "client_id", a.cfg.ClientID)
	return a.verifier, nil
}

var errIssuerUnavailable = unauthorized("OIDC issuer unavailable")

// newVerifier is the verifier of a discovered issuer, over its keys behind
// the refetch limit (limitedKeySet) rather than go-oidc's RemoteKeySet.
func (a *OIDCAuthenticator) newVerifier(p *oidc.Provider) (*oidc.IDTokenVerifier, error) {
	var d struct {
		JWKSURL string   `json:"jwks_uri"`
		Algs    []string `json:"id_token_signing_alg_values_supported"`
	}
	if err := p.Claims(&d); err != nil {
		return nil, err
	}
	if d.JWKSURL == "" {
		return nil, errors.New("discovery document has no jwks_uri")
	}
	var algs []string
	for _, alg := range d.Algs {
		if idTokenAlgs[alg] {
			algs = append(algs, alg)
		}
	}
	keys := newLimitedKeySet(d.JWKSURL, a.cfg.Client, a.cfg.KeyRefetchInterval, a.cfg.Now, a.cfg.Log)
	return oidc.NewVerifier(a.cfg.IssuerURL, keys, &oidc.Config{
		ClientID: a.cfg.ClientID, Now: a.cfg.Now, SupportedSigningAlgs: algs,
	}), nil
}

// verifyError turns go-oidc's error into one fixed line for the caller
// (its own text quotes the token's claims, which are the caller's input).
func verifyError(err error) error {
	var exp *oidc.TokenExpiredError
	msg := err.Error()
	switch {
	case errors.As(err, &exp):
		return unauthorized("ID token expired")
	case strings.Contains(msg, "different provider"):
		return unauthorized("ID token from another issuer")
	case strings.Contains(msg, "audience"):
		return unauthorized("ID token issued for another client (audience)")
	case strings.Contains(msg, "fetching keys"):
		return errIssuerUnavailable
	case strings.Contains(msg, "signature"):
		return unauthorized("ID token signature invalid")
	case strings.Contains(msg, "nbf"):
		return unauthorized("ID token not yet valid")
	default:
		return unauthorized("invalid ID token")
	}
}
