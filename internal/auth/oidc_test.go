package auth

import (
	"errors"
	"log/slog"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/auth/issuertest"
)

// newOIDC is an authenticator for is, trusting its CA, retrying discovery
// after 10 ms.
func newOIDC(t *testing.T, is *issuertest.Issuer, cfg OIDCConfig) *OIDCAuthenticator {
	t.Helper()
	cfg.IssuerURL = is.URL
	if cfg.ClientID == "" {
		cfg.ClientID = issuertest.ClientID
	}
	cfg.Client = is.Server.Client()
	cfg.Log = slog.New(slog.DiscardHandler)
	cfg.RetryMin, cfg.RetryMax = 10*time.Millisecond, 20*time.Millisecond
	a, err := NewOIDCAuthenticator(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func authOIDC(a Authenticator, bearer string) (*Identity, bool, error) {
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Authorization", "Bearer "+bearer)
	return a.Authenticate(r)
}

func TestOIDCValidToken(t *testing.T) {
	is := issuertest.New(t)
	a := newOIDC(t, is, OIDCConfig{})
	c := is.Claims("u-123")
	c["groups"] = []string{"students", GroupMasters, "ta"} // system:masters is humstack's, never the issuer's
	id, ok, err := authOIDC(a, is.Token(t, c))
	if err != nil || !ok {
		t.Fatalf("valid token: ok=%v err=%v", ok, err)
	}
	want := &Identity{Name: "oidc:u-123", Kind: KindUser, Groups: []string{"students", "ta"}, Via: "oidc"}
	if id.Name != want.Name || id.Kind != want.Kind || id.Via != want.Via || !slices.Equal(id.Groups, want.Groups) {
		t.Fatalf("identity %+v, want %+v", id, want)
	}
}

func TestOIDCClaimsAndPrefixes(t *testing.T) {
	is := issuertest.New(t)
	a := newOIDC(t, is, OIDCConfig{UsernameClaim: "preferred_username", UsernamePrefix: "kc:", GroupsClaim: "roles", GroupsPrefix: "kc:"})
	c := is.Claims("u-123")
	c["preferred_username"] = "alice"
	c["roles"] = "admins" // one group as a plain string
	id, _, err := authOIDC(a, is.Token(t, c))
	if err != nil || id.Name != "kc:alice" || !slices.Equal(id.Groups, []string{"kc:admins"}) {
		t.Fatalf("identity %+v err %v", id, err)
	}
	delete(c, "preferred_username")
	if _, _, err := authOIDC(a, is.Token(t, c)); err == nil || err.Error() != "ID token has no preferred_username claim" {
		t.Fatalf("missing username claim: %v", err)
	}
	c["preferred_username"] = "alice"
	c["roles"] = map[string]any{"x": 1}
	if _, _, err := authOIDC(a, is.Token(t, c)); !errors.Is(err, api.ErrUnauthorized) {
		t.Fatalf("groups not a list: %v", err)
	}
	// email as the user name needs a verified address.
	e := newOIDC(t, is, OIDCConfig{UsernameClaim: "email"})
	c = is.Claims("u-1")
	c["email"], c["email_verified"] = "a@example.org", false
	if _, _, err := authOIDC(e, is.Token(t, c)); err == nil || err.Error() != "ID token email not verified" {
		t.Fatalf("unverified email: %v", err)
	}
	c["email_verified"] = true
	if id, _, err := authOIDC(e, is.Token(t, c)); err != nil || id.Name != "oidc:a@example.org" {
		t.Fatalf("verified email: %+v %v", id, err)
	}
}

func TestOIDCRefused(t *testing.T) {
	is := issuertest.New(t)
	a := newOIDC(t, is, OIDCConfig{})
	other := issuertest.NewKey(t)
	cases := []struct {
		name, want string
		token      func(c map[string]any) string
	}{
		{"wrong audience", "ID token issued for another client (audience)", func(c map[string]any) string { c["aud"] = "someone-else"; return is.Token(t, c) }},
		{"expired", "ID token expired", func(c map[string]any) string { c["exp"] = time.Now().Add(-time.Minute).Unix(); return is.Token(t, c) }},
		{"wrong key", "ID token signature invalid", func(c map[string]any) string { return issuertest.Sign(t, other, issuertest.KeyID, c) }},
		{"unknown key id", "ID token signature invalid", func(c map[string]any) string { return issuertest.Sign(t, other, "other", c) }},
		{"wrong issuer", "ID token from another issuer", func(c map[string]any) string { c["iss"] = "https://evil.example"; return is.Token(t, c) }},
		{"alg none", "ID token not signed", func(c map[string]any) string { return issuertest.Unsigned(t, c) }},
		{"tampered claims", "ID token signature invalid", func(c map[string]any) string {
			good := strings.Split(is.Token(t, c), ".")
			c["sub"] = "admin"
			forged := strings.Split(is.Token(t, c), ".")
			return good[0] + "." + forged[1] + "." + good[2]
		}},
		{"malformed", "malformed ID token", func(map[string]any) string { return "eyJhbGciOiJSUzI1NiJ9.!!.x" }},
		{"hmac", "ID token signature algorithm not supported", func(map[string]any) string { return "eyJhbGciOiJIUzI1NiJ9.e30.c2ln" }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			id, ok, err := authOIDC(a, tc.token(is.Claims("alice")))
			if id != nil || !ok || !errors.Is(err, api.ErrUnauthorized) || err.Error() != tc.want {
				t.Fatalf("id=%v ok=%v err=%v, want 401 %q", id, ok, err, tc.want)
			}
		})
	}
}

// A humstack token, another scheme or a non-JWT bearer value is not OIDC's:
// each bearer value is verified by one authenticator only.
func TestOIDCPassesOtherCredentials(t *testing.T) {
	is := issuertest.New(t)
	a := newOIDC(t, is, OIDCConfig{})
	bearer, _, _, err := IssueToken("alice-1")
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range []string{"Bearer " + bearer, "Basic eyJ.a.b", "", "Bearer opaque-token", "Bearer hst_eyJ.a.b"} {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Authorization", h)
		if id, ok, err := a.Authenticate(r); id != nil || ok || err != nil {
			t.Errorf("%q: id=%v ok=%v err=%v, want not recognized", h, id, ok, err)
		}
	}
}

func TestOIDCIssuerDownAtStart(t *testing.T) {
	is := issuertest.New(t)
	is.SetDown(true)
	a := newOIDC(t, is, OIDCConfig{})
	a.Prime()
	tok := is.Token(t, is.Claims("alice"))
	if _, ok, err := authOIDC(a, tok); !ok || err == nil || err.Error() != "OIDC issuer unavailable" {
		t.Fatalf("issuer down: ok=%v err=%v", ok, err)
	}
	is.SetDown(false)
	deadline := time.Now().Add(10 * time.Second)
	for {
		id, _, err := authOIDC(a, tok)
		if err == nil {
			if id.Name != "oidc:alice" {
				t.Fatalf("identity %+v", id)
			}
			return
		}
		if err.Error() != "OIDC issuer unavailable" || time.Now().After(deadline) {
			t.Fatalf("issuer up again: %v", err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestNewOIDCAuthenticatorChecks(t *testing.T) {
	for _, c := range []OIDCConfig{
		{IssuerURL: "http://idp.example", ClientID: "x"},
		{IssuerURL: "idp.example", ClientID: "x"},
		{IssuerURL: "https://idp.example"},
	} {
		if _, err := NewOIDCAuthenticator(c); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
}

// FuzzIDTokenFront fuzzes what runs on an ID token before any signature
// check: the JWT shape test and the header parse. Bad input is a 401,
// never a panic, and what passes is a signed, three-part token.
func FuzzIDTokenFront(f *testing.F) {
	for _, s := range []string{
		"eyJhbGciOiJSUzI1NiIsImtpZCI6ImsifQ.eyJzdWIiOiJhIn0.c2lnbmF0dXJl",
		"eyJhbGciOiJub25lIn0.eyJzdWIiOiJhIn0.",
		"eyJ.eyJ.eyJ", "eyJhbGciOiJSUzI1NiJ9..", "hst_a.b", "a.b.c.d", "eyJhbGciOiJSUzI1NiJ9.e30=.c2ln",
		"eyJhbGciOiJSUzI1NiJ9.W10.c2ln", "eyJhbGciOiJFZERTQSJ9.e30.AA",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !LooksLikeJWT(s) {
			return
		}
		h, err := ParseIDTokenFront(s)
		if err != nil {
			if !errors.Is(err, api.ErrUnauthorized) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("%q: %v is not a one-line 401", s, err)
			}
			return
		}
		parts := strings.Split(s, ".")
		if len(parts) != 3 || parts[2] == "" || !idTokenAlgs[h.Alg] || len(s) > maxIDToken {
			t.Fatalf("%q accepted with header %+v", s, h)
		}
	})
}
