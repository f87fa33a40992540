package apiserver_test

import (
	"encoding/base64"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/humstack/humstack/internal/apiserver"
	"github.com/humstack/humstack/internal/audit"
	"github.com/humstack/humstack/internal/auth"
	"github.com/humstack/humstack/internal/auth/issuertest"
	"github.com/humstack/humstack/internal/storage/bolt"
)

// loginServers starts n apiservers over one store with the sign-in of
// issuer is (redirect: --oidc-redirect-url, "" for none), their clocks
// at *clock (Unix seconds, 0: now), auditing to al[0] if given.
func loginServers(t *testing.T, is *issuertest.Issuer, n int, redirect string, clock *atomic.Int64, al ...*audit.Logger) ([]*httptest.Server, []*apiserver.Server) {
	t.Helper()
	st, err := bolt.Open(filepath.Join(t.TempDir(), "db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	oa, err := auth.NewOIDCAuthenticator(auth.OIDCConfig{IssuerURL: is.URL, ClientID: issuertest.ClientID,
		UsernameClaim: "preferred_username", Client: is.Server.Client(), Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	var hs []*httptest.Server
	var ss []*apiserver.Server
	for range n {
		opts := apiserver.Options{Log: slog.New(slog.DiscardHandler), Authorization: apiserver.AuthorizationRBAC,
			Authenticator: oa, OIDCLogin: &apiserver.OIDCLogin{Auth: oa, RedirectURL: redirect}}
		if len(al) > 0 {
			opts.Audit = al[0]
		}
		s := apiserver.New(st, opts)
		apiserver.SetLoginClock(s, func() time.Time {
			if c := clock.Load(); c != 0 {
				return time.Unix(c, 0)
			}
			return time.Now()
		})
		h := httptest.NewServer(s.Handler())
		t.Cleanup(func() { h.Close(); s.Close() })
		hs, ss = append(hs, h), append(ss, s)
	}
	return hs, ss
}

// TestOIDCSignInTwoServers: a sign-in started on one apiserver completes
// on another over the same store (a balancer in front of several).
func TestOIDCSignInTwoServers(t *testing.T) {
	is := issuertest.New(t)
	is.SetLoginClaims(map[string]any{"sub": "u1", "preferred_username": "alice"})
	var clock atomic.Int64
	hs, _ := loginServers(t, is, 2, "", &clock)
	b := newBrowser(t, is)
	loc := b.visit(hs[0].URL+"/ui/oidc/login?return=/&bind="+testBind, "/ui/oidc/callback")
	cb, err := url.Parse(loc)
	if err != nil {
		t.Fatal(err)
	}
	// The browser's jar keys cookies by host: both servers are 127.0.0.1.
	other, _ := url.Parse(hs[1].URL)
	cb.Host = other.Host
	if ok, q := fragment(t, b.visit(cb.String(), "/ui/")); !ok || q.Get("id_token") == "" {
		t.Fatalf("callback on the other apiserver: %v %v", ok, q)
	}
}

// TestOIDCLoginCookie: the login's cookie is HttpOnly, SameSite=Lax,
// scoped to /ui/oidc/, ten minutes long, Secure when the redirect URL is
// https; a changed byte, or a callback eleven minutes later, is "start
// again".
func TestOIDCLoginCookie(t *testing.T) {
	is := issuertest.New(t)
	is.SetLoginClaims(map[string]any{"sub": "u1", "preferred_username": "alice"})
	var clock atomic.Int64
	for _, redirect := range []string{"", "https://console.example/ui/oidc/callback"} {
		hs, _ := loginServers(t, is, 1, redirect, &clock)
		c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := c.Get(hs[0].URL + "/ui/oidc/login?return=/&bind=" + testBind)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		cookies := resp.Cookies()
		if resp.StatusCode != http.StatusFound || len(cookies) != 1 {
			t.Fatalf("login: %d %v", resp.StatusCode, cookies)
		}
		k := cookies[0]
		wantSecure := redirect != ""
		if !strings.HasPrefix(k.Name, "humstack_oidc_login_") || !k.HttpOnly || k.SameSite != http.SameSiteLaxMode ||
			k.Path != "/ui/oidc/" || k.MaxAge != 600 || k.Secure != wantSecure {
			t.Errorf("redirect %q: cookie %s", redirect, resp.Header.Get("Set-Cookie"))
		}
		if redirect != "" && !strings.Contains(resp.Header.Get("Location"), url.QueryEscape(redirect)) {
			t.Errorf("the issuer is not sent the configured redirect URL: %s", resp.Header.Get("Location"))
		}
	}

	hs, _ := loginServers(t, is, 1, "", &clock)
	callbackWith := func(change func(*http.Cookie)) url.Values {
		t.Helper()
		b := newBrowser(t, is)
		cb, _ := url.Parse(b.visit(hs[0].URL+"/ui/oidc/login?return=/&bind="+testBind, "/ui/oidc/callback"))
		req, _ := http.NewRequest("GET", cb.String(), nil)
		for _, k := range b.c.Jar.Cookies(cb) {
			change(k)
			req.AddCookie(k)
		}
		resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		_, q := fragment(t, resp.Header.Get("Location"))
		return q
	}
	if q := callbackWith(func(*http.Cookie) {}); q.Get("id_token") == "" {
		t.Fatalf("an untouched cookie: %v", q)
	}
	flip := func(k *http.Cookie) {
		b, _ := base64.RawURLEncoding.DecodeString(k.Value)
		b[len(b)/2] ^= 1
		k.Value = base64.RawURLEncoding.EncodeToString(b)
	}
	if q := callbackWith(flip); !strings.Contains(q.Get("error"), "start again") {
		t.Errorf("a tampered cookie: %v", q)
	}
	clock.Store(0)
	late := func(*http.Cookie) { clock.Store(time.Now().Add(11 * time.Minute).Unix()) }
	if q := callbackWith(late); !strings.Contains(q.Get("error"), "start again") {
		t.Errorf("a sign-in eleven minutes old: %v", q)
	}
	clock.Store(time.Now().Add(9 * time.Minute).Unix())
	if q := callbackWith(func(*http.Cookie) {}); q.Get("id_token") == "" {
		// The ID token itself is checked on the real clock.
		t.Errorf("a sign-in nine minutes old: %v", q)
	}
}

// TestOIDCSignInAudited: the audit log records a sign-in under the
// identity it signed in, and a refused one with its reason.
func TestOIDCSignInAudited(t *testing.T) {
	is := issuertest.New(t)
	is.SetLoginClaims(map[string]any{"sub": "u1", "preferred_username": "alice"})
	var clock atomic.Int64
	sink := &syncBuffer{}
	al := audit.New(sink, audit.Options{Log: slog.New(slog.DiscardHandler)})
	hs, _ := loginServers(t, is, 1, "", &clock, al)
	b := newBrowser(t, is)
	if ok, q := b.signIn(hs[0].URL, "/"); !ok {
		t.Fatalf("sign-in: %v", q)
	}
	if ok, _ := fragment(t, b.visit(hs[0].URL+"/ui/oidc/callback?code=x&state=forged", "/ui/")); ok {
		t.Fatal("a forged callback signed in")
	}
	if err := al.Close(); err != nil {
		t.Fatal(err)
	}
	events, err := audit.ReadAll(strings.NewReader(sink.String()))
	if err != nil {
		t.Fatal(err)
	}
	var signedIn, refused bool
	for _, e := range events {
		if e.Path != "/ui/oidc/callback" {
			continue
		}
		signedIn = signedIn || e.Identity.Name == "oidc:alice" && e.Code == http.StatusFound
		refused = refused || strings.Contains(e.Reason, "start again")
	}
	if !signedIn || !refused {
		t.Errorf("audit log (sign-in %v, refusal %v):\n%s", signedIn, refused, sink.String())
	}
}
