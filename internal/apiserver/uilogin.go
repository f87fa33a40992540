package apiserver

import (
	"context"
	"crypto/rand"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/humstack/humstack/internal/auth"
)

// The web console's OIDC sign-in: the authorization code flow with PKCE
// (S256), state and nonce, the apiserver acting as the OAuth client
// --oidc-client-id (public; --oidc-client-secret-file for an issuer that
// wants a confidential client).
//
//	GET /ui/config.json     {"oidc":{"issuer":"...","loginURL":"/ui/oidc/login"}} or {"oidc":null},
//	                        and "authorization": "rbac" or "off" (the console asks for no sign-in)
//	GET /ui/oidc/login      ?return=<app path>: 302 to the issuer
//	GET /ui/oidc/callback   302 to /ui/#/signin?id_token=<jwt>&return=<app path>,
//	                        or to /ui/#/login?error=<short message>
//
// The login's state, PKCE verifier, nonce and return path wait in a
// sealed cookie (loginCookie) for ten minutes. The callback exchanges the
// code at the issuer's token endpoint and checks the ID token with the
// verifier of bearer ID tokens, and its nonce; the app then keeps the ID
// token as its bearer token. All three routes are public: they hold no
// data, and the ID token is the issuer's to give.

// OIDCLogin configures the console's sign-in; nil in Options: off.
type OIDCLogin struct {
	// Auth is the OIDC authenticator of bearer ID tokens: its discovery,
	// client and verifier serve the sign-in too.
	Auth *auth.OIDCAuthenticator
	// RedirectURL is the callback's absolute URL (--oidc-redirect-url);
	// "": from each request (scheme by TLS, its Host) + /ui/oidc/callback.
	RedirectURL string
	// ClientSecret, when set, authenticates the apiserver to the token
	// endpoint (a confidential client).
	ClientSecret string
}

// Paths of the sign-in.
const (
	oidcLoginPath    = "/ui/oidc/login"
	oidcCallbackPath = "/ui/oidc/callback"
	signinFragment   = "/ui/#/signin?"
	loginFragment    = "/ui/#/login?"
)

// oidcScopes are asked of the issuer: the ID token, and the usual claims
// a username claim may name (preferred_username, email).
var oidcScopes = []string{oidc.ScopeOpenID, "profile", "email"}

// loginTTL bounds a sign-in from the redirect to the issuer to the callback.
const loginTTL = 10 * time.Minute

func (s *Server) uiLoginRoutes() {
	s.handle(nil, "GET /ui/config.json", s.uiConfig)
	s.handle(nil, "GET "+oidcLoginPath, s.oidcLogin)
	s.handle(nil, "GET "+oidcCallbackPath, s.oidcCallback)
}

func (s *Server) uiConfig(w http.ResponseWriter, r *http.Request) {
	type oidcInfo struct {
		Issuer   string `json:"issuer"`
		LoginURL string `json:"loginURL"`
	}
	var info *oidcInfo
	if s.login != nil {
		info = &oidcInfo{Issuer: s.login.cfg.Auth.IssuerURL(), LoginURL: oidcLoginPath}
	}
	w.Header().Set("Cache-Control", "no-store")
	authz := AuthorizationRBAC
	if s.policy == nil {
		authz = AuthorizationOff
	}
	b, _ := jsonMarshal(map[string]any{"oidc": info, "authorization": authz})
	writeRaw(w, http.StatusOK, append(b, '\n'))
}

// oauthConfig is the OAuth client of a request: the issuer's endpoints
// and the callback URL.
func (s *Server) oauthConfig(r *http.Request) (*oauth2.Config, error) {
	ep, err := s.login.cfg.Auth.Endpoint()
	if err != nil {
		return nil, err
	}
	return &oauth2.Config{ClientID: s.login.cfg.Auth.ClientID(), ClientSecret: s.login.cfg.ClientSecret,
		Endpoint: ep, RedirectURL: s.login.redirectURL(r), Scopes: oidcScopes}, nil
}

func (l *uiLogin) redirectURL(r *http.Request) string {
	if l.cfg.RedirectURL != "" {
		return l.cfg.RedirectURL
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + oidcCallbackPath
}

func (s *Server) oidcLogin(w http.ResponseWriter, r *http.Request) {
	if s.login == nil {
		loginFailed(w, r, "OIDC sign-in is not configured on this server")
		return
	}
	conf, err := s.oauthConfig(r)
	if err != nil {
		s.log.WarnContext(r.Context(), "OIDC sign-in failed", "request_id", requestID(r.Context()), "err", err)
		loginFailed(w, r, "the OIDC issuer is unavailable")
		return
	}
	st := loginState{State: rand.Text(), Nonce: rand.Text(), Verifier: oauth2.GenerateVerifier(),
		Return: appPath(r.URL.Query().Get("return")), Expires: time.Now().Add(loginTTL).Unix()}
	s.login.setCookie(w, r, st)
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, conf.AuthCodeURL(st.State, oauth2.S256ChallengeOption(st.Verifier), oidc.Nonce(st.Nonce)), http.StatusFound)
}

func (s *Server) oidcCallback(w http.ResponseWriter, r *http.Request) {
	if s.login == nil {
		loginFailed(w, r, "OIDC sign-in is not configured on this server")
		return
	}
	st, err := s.login.readCookie(r)
	s.login.clearCookie(w, r) // a sign-in is answered once
	if err != nil {
		loginFailed(w, r, err.Error())
		return
	}
	raw, err := s.completeLogin(r, st)
	if err != nil {
		s.log.InfoContext(r.Context(), "OIDC sign-in refused", "request_id", requestID(r.Context()), "err", err)
		loginFailed(w, r, err.Error())
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	http.Redirect(w, r, signinFragment+url.Values{"id_token": {raw}, "return": {st.Return}}.Encode(), http.StatusFound)
}

// completeLogin checks the callback against the login it answers and
// returns the verified ID token. Its errors are short lines for the user.
func (s *Server) completeLogin(r *http.Request, st loginState) (string, error) {
	q := r.URL.Query()
	if e := q.Get("error"); e != "" {
		return "", errors.New("the OIDC issuer refused the sign-in (" + shortCode(e) + ")")
	}
	if !equalSecret(q.Get("state"), st.State) {
		return "", errors.New("the sign-in's state does not match: start again")
	}
	conf, err := s.oauthConfig(r)
	if err != nil {
		return "", errors.New("the OIDC issuer is unavailable")
	}
	ctx, cancel := context.WithTimeout(r.Context(), 15*time.Second)
	defer cancel()
	ctx = context.WithValue(ctx, oauth2.HTTPClient, s.login.cfg.Auth.HTTPClient())
	tok, err := conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(st.Verifier))
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && re.ErrorCode != "" {
			return "", errors.New("the OIDC issuer refused the code (" + shortCode(re.ErrorCode) + ")")
		}
		return "", errors.New("the OIDC issuer's token endpoint failed")
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return "", errors.New("the OIDC issuer answered without an ID token")
	}
	if _, err := s.login.cfg.Auth.VerifyLogin(ctx, raw, st.Nonce); err != nil {
		return "", err
	}
	return raw, nil
}

// appPath is return if it is a path of the app ("/..."), else "/": never
// another site ("//host", "/\host", "https://...").
func appPath(ret string) string {
	if !strings.HasPrefix(ret, "/") || strings.HasPrefix(ret, "//") || strings.HasPrefix(ret, "/\\") ||
		len(ret) > 512 || strings.ContainsFunc(ret, func(c rune) bool { return c < 0x20 || c == 0x7f }) {
		return "/"
	}
	return ret
}

// shortCode keeps an issuer's error code readable and harmless.
func shortCode(code string) string {
	code = strings.Map(func(c rune) rune {
		if c == '_' || c == '-' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			return c
		}
		return -1
	}, code)
	return code[:min(len(code), 40)]
}

// loginFailed sends the browser to the app's login page with msg.
func loginFailed(w http.ResponseWriter, r *http.Request, msg string) {
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, loginFragment+url.Values{"error": {msg}}.Encode(), http.StatusFound)
}
