package cli

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/humstack/humstack/internal/auth"
	"github.com/spf13/cobra"
	"golang.org/x/oauth2"
)

// oidcFlags are login's --oidc-* flags: log in at an OpenID Connect issuer
// with the OAuth 2.0 device authorization grant (RFC 8628) instead of
// giving a --token.
type oidcFlags struct {
	issuer, clientID, caFile string
	scopes                   []string
}

// defaultOIDCScopes: openid for the ID token, offline_access for a refresh
// token (Dex and others give none without it; Keycloak gives one anyway).
var defaultOIDCScopes = []string{oidc.ScopeOpenID, oidc.ScopeOfflineAccess}

func (o *oidcFlags) register(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&o.issuer, "oidc-issuer", "", "log in at this OpenID Connect issuer (https URL, as the apiserver's --oidc-issuer-url) with the device flow")
	f.StringVar(&o.clientID, "oidc-client-id", "", "the issuer's client for humstack (a public client with the device grant; the apiserver's --oidc-client-id)")
	f.StringVar(&o.caFile, "oidc-ca-file", "", "CA (PEM) of a private issuer; default: the system roots")
	f.StringSliceVar(&o.scopes, "oidc-scopes", defaultOIDCScopes, "scopes to ask for; comma-separated")
}

// stray names an --oidc-* flag given without --oidc-issuer, which would
// otherwise be ignored.
func (o *oidcFlags) stray(cmd *cobra.Command) error {
	if cmd.Flags().Changed("oidc-issuer") {
		return nil
	}
	for _, f := range []string{"oidc-client-id", "oidc-ca-file", "oidc-scopes"} {
		if cmd.Flags().Changed(f) {
			return fmt.Errorf("--%s needs --oidc-issuer", f)
		}
	}
	return nil
}

// context checks the flags and returns what the context keeps of them.
func (o *oidcFlags) context(cmd *cobra.Command) (*oidcCtx, error) {
	u, err := url.Parse(o.issuer)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, errors.New("--oidc-issuer: want an https:// URL")
	}
	if o.clientID == "" {
		return nil, errors.New("--oidc-issuer needs --oidc-client-id")
	}
	if cmd.Flags().Changed("token") || cmd.Flags().Changed("token-file") {
		return nil, errors.New("--token (or --token-file) and --oidc-issuer: give one of them")
	}
	oc := &oidcCtx{Issuer: o.issuer, ClientID: o.clientID, Scopes: o.scopes}
	if o.caFile != "" {
		if oc.CAFile, err = filepath.Abs(o.caFile); err != nil {
			return nil, err
		}
	}
	return oc, nil
}

// oidcSession is an issuer's OAuth 2.0 client: discovery, the device
// flow, refresh.
type oidcSession struct {
	ctx  context.Context // carries the HTTP client for go-oidc and oauth2
	conf oauth2.Config
}

// newOIDCSession discovers the issuer of oc.
func newOIDCSession(ctx context.Context, oc *oidcCtx) (*oidcSession, error) {
	hc, err := auth.IssuerHTTPClient(oc.CAFile, 30*time.Second)
	if err != nil {
		return nil, err
	}
	ctx = oidc.ClientContext(ctx, hc)
	p, err := oidc.NewProvider(ctx, oc.Issuer)
	if err != nil {
		return nil, fmt.Errorf("OIDC issuer %s: discovery: %v", oc.Issuer, err)
	}
	ep := p.Endpoint()
	// A public client: its id goes in the form, with no secret.
	ep.AuthStyle = oauth2.AuthStyleInParams
	return &oidcSession{ctx: ctx, conf: oauth2.Config{ClientID: oc.ClientID, Endpoint: ep, Scopes: oc.Scopes}}, nil
}

// deviceLogin runs the device flow: it shows the user where to go and
// which code to enter, polls the token endpoint until the user has
// approved, and fills oc's refresh token. It returns the ID token.
func (a *app) deviceLogin(ctx context.Context, oc *oidcCtx) (string, error) {
	s, err := newOIDCSession(ctx, oc)
	if err != nil {
		return "", err
	}
	if s.conf.Endpoint.DeviceAuthURL == "" {
		return "", fmt.Errorf("OIDC issuer %s offers no device login (no device_authorization_endpoint in its discovery document): enable the OAuth 2.0 device authorization grant there", oc.Issuer)
	}
	da, err := s.conf.DeviceAuth(s.ctx)
	if err != nil {
		return "", fmt.Errorf("OIDC issuer %s refused the device login: %s", oc.Issuer, oauthMessage(err))
	}
	fmt.Fprintf(a.stdout, "To log in, open %s and enter the code %s\n", da.VerificationURI, da.UserCode)
	if da.VerificationURIComplete != "" {
		fmt.Fprintf(a.stdout, "(or open %s)\n", da.VerificationURIComplete)
	}
	fmt.Fprintln(a.stdout, "Waiting for the login to be approved...")
	tok, err := s.conf.DeviceAccessToken(s.ctx, da)
	if err != nil {
		return "", deviceError(ctx, err, da.UserCode)
	}
	idToken, _ := tok.Extra("id_token").(string)
	if idToken == "" {
		return "", fmt.Errorf("OIDC issuer %s answered without an ID token (is %q in --oidc-scopes?)", oc.Issuer, oidc.ScopeOpenID)
	}
	oc.RefreshToken = tok.RefreshToken
	if oc.RefreshToken == "" {
		fmt.Fprintln(a.stdout, "The issuer gave no refresh token: run humcli login again when the ID token expires.")
	}
	return idToken, nil
}

// deviceError is the one line for a device flow that did not end in a token.
func deviceError(ctx context.Context, err error, userCode string) error {
	var re *oauth2.RetrieveError
	switch {
	case ctx.Err() != nil:
		return errors.New("login interrupted")
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &re) && re.ErrorCode == "expired_token":
		return fmt.Errorf("login: the code %s expired before it was approved; run humcli login again", userCode)
	case errors.As(err, &re) && re.ErrorCode == "access_denied":
		return errors.New("login: the request was denied at the issuer")
	}
	return fmt.Errorf("login: %s", oauthMessage(err))
}

// oauthMessage is an OAuth error's code and description, without the
// response dump oauth2 adds to errors without a code.
func oauthMessage(err error) string {
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		return err.Error()
	}
	switch {
	case re.ErrorCode != "" && re.ErrorDescription != "":
		return re.ErrorCode + ": " + re.ErrorDescription
	case re.ErrorCode != "":
		return re.ErrorCode
	case re.Response != nil:
		return "HTTP " + re.Response.Status
	}
	return err.Error()
}
