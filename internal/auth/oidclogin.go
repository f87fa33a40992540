package auth

import (
	"context"
	"crypto/subtle"
	"net/http"

	"golang.org/x/oauth2"
)

// The web console's OIDC sign-in (the apiserver's /ui/oidc/ routes) uses
// the authenticator's discovery and verifier: an ID token obtained by the
// authorization code flow is checked exactly like a bearer ID token, plus
// the nonce of its login.

// IssuerURL is the issuer the authenticator admits the tokens of.
func (a *OIDCAuthenticator) IssuerURL() string { return a.cfg.IssuerURL }

// ClientID is the audience its ID tokens must name.
func (a *OIDCAuthenticator) ClientID() string { return a.cfg.ClientID }

// HTTPClient reaches the issuer (its private CA included).
func (a *OIDCAuthenticator) HTTPClient() *http.Client { return a.cfg.Client }

// Endpoint returns the issuer's authorization and token endpoints, from
// discovery; while the issuer cannot be discovered, an error wrapping
// api.ErrUnauthorized ("OIDC issuer unavailable").
func (a *OIDCAuthenticator) Endpoint() (oauth2.Endpoint, error) {
	if _, err := a.getVerifier(); err != nil {
		return oauth2.Endpoint{}, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.endpoint, nil
}

// VerifyLogin checks raw, an ID token the issuer's token endpoint
// returned for a login started with nonce, with the verifier of bearer ID
// tokens (signature, issuer, audience, expiry), then the nonce, and
// returns the identity it stands for. Errors wrap api.ErrUnauthorized
// with one line for the user.
func (a *OIDCAuthenticator) VerifyLogin(ctx context.Context, raw, nonce string) (*Identity, error) {
	if _, err := ParseIDTokenFront(raw); err != nil {
		return nil, err
	}
	v, err := a.getVerifier()
	if err != nil {
		return nil, err
	}
	tok, err := v.Verify(ctx, raw)
	if err != nil {
		a.cfg.Log.Debug("OIDC ID token of a login refused", "err", err)
		return nil, verifyError(err)
	}
	if nonce == "" || subtle.ConstantTimeCompare([]byte(tok.Nonce), []byte(nonce)) != 1 {
		return nil, unauthorized("ID token nonce does not match the sign-in")
	}
	return a.identity(tok)
}
