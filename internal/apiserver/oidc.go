package apiserver

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/humstack/humstack/internal/auth"
)

// OIDCConfig is the --oidc-* flags: ID tokens of an OpenID Connect issuer
// (Keycloak, ...) as bearer tokens, next to humstack's own tokens. Empty
// IssuerURL: OIDC off.
type OIDCConfig struct {
	IssuerURL      string // --oidc-issuer-url
	ClientID       string // --oidc-client-id
	UsernameClaim  string // --oidc-username-claim ("": sub)
	UsernamePrefix string // --oidc-username-prefix ("": oidc:)
	GroupsClaim    string // --oidc-groups-claim ("": groups)
	GroupsPrefix   string // --oidc-groups-prefix
	CAFile         string // --oidc-ca-file: CA (PEM) of a private issuer
	// RedirectURL (--oidc-redirect-url) is the web console sign-in's
	// callback URL as the issuer must allow it; "": from each request.
	RedirectURL string
	// ClientSecretFile (--oidc-client-secret-file) holds the client
	// secret, for an issuer that wants a confidential client.
	ClientSecretFile string
}

// strayFlag names an --oidc-* flag given without --oidc-issuer-url, so
// that a half-configured OIDC is an error rather than silently off.
func (c OIDCConfig) strayFlag() string {
	for _, f := range []struct{ name, val, def string }{
		{"--oidc-client-id", c.ClientID, ""},
		{"--oidc-username-claim", c.UsernameClaim, auth.DefaultOIDCUsernameClaim},
		{"--oidc-username-prefix", c.UsernamePrefix, auth.DefaultOIDCUsernamePrefix},
		{"--oidc-groups-claim", c.GroupsClaim, auth.DefaultOIDCGroupsClaim},
		{"--oidc-groups-prefix", c.GroupsPrefix, ""},
		{"--oidc-ca-file", c.CAFile, ""},
		{"--oidc-redirect-url", c.RedirectURL, ""},
		{"--oidc-client-secret-file", c.ClientSecretFile, ""},
	} {
		if f.val != "" && f.val != f.def {
			return f.name
		}
	}
	return ""
}

// checkOIDCFlags fails when OIDC is asked for where it cannot work: OIDC
// users get rights only from bindings, so it needs --authorization rbac.
func checkOIDCFlags(c OIDCConfig, authorization string) error {
	if c.IssuerURL == "" {
		if f := c.strayFlag(); f != "" {
			return fmt.Errorf("%s needs --oidc-issuer-url", f)
		}
		return nil
	}
	if authorization != AuthorizationRBAC {
		return errors.New("--oidc-issuer-url needs --authorization rbac (OIDC users get their rights from role bindings)")
	}
	if c.RedirectURL != "" {
		u, err := url.Parse(c.RedirectURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.Fragment != "" {
			return fmt.Errorf("--oidc-redirect-url %q: want an absolute http(s) URL (the server's %s as the browser reaches it)", c.RedirectURL, oidcCallbackPath)
		}
	}
	return nil
}

// oidcLogin is the web console's sign-in of the flags, over the bearer ID
// token authenticator a (nil: OIDC off).
func oidcLogin(c OIDCConfig, a *auth.OIDCAuthenticator) (*OIDCLogin, error) {
	if a == nil {
		return nil, nil
	}
	l := &OIDCLogin{Auth: a, RedirectURL: c.RedirectURL}
	if c.ClientSecretFile != "" {
		b, err := os.ReadFile(c.ClientSecretFile)
		if err != nil {
			return nil, fmt.Errorf("--oidc-client-secret-file: %w", err)
		}
		if l.ClientSecret = strings.TrimSpace(string(b)); l.ClientSecret == "" {
			return nil, fmt.Errorf("--oidc-client-secret-file %s: the file is empty", c.ClientSecretFile)
		}
	}
	return l, nil
}

// newOIDCAuthenticator builds the OIDC authenticator of the flags and
// starts its first discovery in the background (an issuer that is down
// does not delay the start); nil without --oidc-issuer-url.
func newOIDCAuthenticator(cfg Config) (*auth.OIDCAuthenticator, error) {
	c := cfg.OIDC
	if c.IssuerURL == "" {
		return nil, nil
	}
	client, err := auth.IssuerHTTPClient(c.CAFile, 10*time.Second)
	if err != nil {
		return nil, err
	}
	a, err := auth.NewOIDCAuthenticator(auth.OIDCConfig{
		IssuerURL: c.IssuerURL, ClientID: c.ClientID,
		UsernameClaim: c.UsernameClaim, UsernamePrefix: c.UsernamePrefix,
		GroupsClaim: c.GroupsClaim, GroupsPrefix: c.GroupsPrefix,
		Client: client, Log: cfg.Log,
	})
	if err != nil {
		return nil, err
	}
	cfg.Log.Info("OIDC on", "issuer", c.IssuerURL, "client_id", c.ClientID)
	a.Prime()
	return a, nil
}
