package issuertest

import (
	"crypto/sha256"
	"encoding/base64"
	"maps"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
)

// The authorization code grant (RFC 6749 4.1) with PKCE (RFC 7636, S256
// only): GET /auth approves at once, as the user the test set with
// SetLoginClaims (no login page: the user "is signed in" at the issuer),
// and redirects back with a code; the token endpoint exchanges a code
// once, for the redirect URI it was issued for, when the code_verifier
// hashes to its challenge. Without login claims the user refuses
// (error=access_denied).

const codeGrant = "authorization_code"

type codeReq struct {
	claims      map[string]any
	nonce       string
	challenge   string
	redirectURI string
}

type codeState struct {
	mu     sync.Mutex
	claims map[string]any
	codes  map[string]*codeReq
	// nonce, when set, replaces the nonce of the ID tokens issued (a
	// misbehaving or replaying issuer).
	nonce     string
	exchanges atomic.Int64
}

// SetLoginClaims makes /auth approve every request as the user of claims
// (sub, groups, ...; the issuer adds iss, aud, iat, exp and the nonce);
// nil makes the user refuse.
func (is *Issuer) SetLoginClaims(claims map[string]any) {
	is.code.mu.Lock()
	defer is.code.mu.Unlock()
	is.code.claims = maps.Clone(claims)
}

// SetLoginNonce makes the code grant's ID tokens carry nonce instead of
// the one of their authorization request ("": the right one).
func (is *Issuer) SetLoginNonce(nonce string) {
	is.code.mu.Lock()
	defer is.code.mu.Unlock()
	is.code.nonce = nonce
}

// CodeExchanges is how many codes were exchanged for tokens.
func (is *Issuer) CodeExchanges() int64 { return is.code.exchanges.Load() }

// serveAuthorize is the authorization endpoint.
func (is *Issuer) serveAuthorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	redirect, err := url.Parse(q.Get("redirect_uri"))
	if err != nil || !redirect.IsAbs() || q.Get("client_id") != ClientID || q.Get("response_type") != "code" {
		oauthError(w, http.StatusBadRequest, "invalid_request") // no redirect to an unchecked URI
		return
	}
	back := redirect.Query()
	back.Set("state", q.Get("state"))
	is.code.mu.Lock()
	claims := is.code.claims
	is.code.mu.Unlock()
	switch {
	case claims == nil:
		back.Set("error", "access_denied")
	case q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "":
		back.Set("error", "invalid_request")
	default:
		code := random()
		is.code.mu.Lock()
		is.code.codes[code] = &codeReq{claims: maps.Clone(claims), nonce: q.Get("nonce"),
			challenge: q.Get("code_challenge"), redirectURI: redirect.String()}
		is.code.mu.Unlock()
		back.Set("code", code)
	}
	redirect.RawQuery = back.Encode()
	http.Redirect(w, r, redirect.String(), http.StatusFound)
}

// codeToken answers the code grant at the token endpoint.
func (is *Issuer) codeToken(w http.ResponseWriter, r *http.Request) {
	f := r.PostForm
	is.code.mu.Lock()
	req := is.code.codes[f.Get("code")]
	delete(is.code.codes, f.Get("code")) // a code is good once, whatever happens
	nonce := is.code.nonce
	is.code.mu.Unlock()
	sum := sha256.Sum256([]byte(f.Get("code_verifier")))
	switch {
	case req == nil, req.redirectURI != f.Get("redirect_uri"):
		oauthError(w, http.StatusBadRequest, "invalid_grant")
		return
	case base64.RawURLEncoding.EncodeToString(sum[:]) != req.challenge:
		oauthError(w, http.StatusBadRequest, "invalid_grant") // PKCE: not the client that asked
		return
	}
	claims := maps.Clone(req.claims)
	claims["nonce"] = req.nonce
	if nonce != "" {
		claims["nonce"] = nonce
	}
	is.code.exchanges.Add(1)
	is.issue(w, claims)
}
