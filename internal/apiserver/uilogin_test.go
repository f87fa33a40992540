package apiserver_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"

	"github.com/humstack/humstack/internal/apiserver"
	"github.com/humstack/humstack/internal/auth"
	"github.com/humstack/humstack/internal/auth/issuertest"
)

// browser is an HTTP client with a cookie jar that trusts the test
// issuer and follows redirects until a request for stopAt's path.
type browser struct {
	t      *testing.T
	c      *http.Client
	stopAt string
}

func newBrowser(t *testing.T, is *issuertest.Issuer) *browser {
	jar, _ := cookiejar.New(nil)
	b := &browser{t: t}
	b.c = &http.Client{Jar: jar, Transport: is.Server.Client().Transport,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if req.URL.Path == b.stopAt {
				return http.ErrUseLastResponse
			}
			return nil
		}}
	return b
}

// visit GETs u, follows redirects until one to stopAt, and returns that
// redirect's Location.
func (b *browser) visit(u, stopAt string) string {
	b.t.Helper()
	b.stopAt = stopAt
	resp, err := b.c.Get(u)
	if err != nil {
		b.t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		b.t.Fatalf("GET %s: HTTP %d, want a redirect to %s", u, resp.StatusCode, stopAt)
	}
	return resp.Header.Get("Location")
}

// signIn runs a sign-in from the console's login route to the app and
// returns the fragment's query (id_token and return, or error).
func (b *browser) signIn(base, ret string) (signin bool, q url.Values) {
	b.t.Helper()
	loc := b.visit(base+"/ui/oidc/login?"+url.Values{"return": {ret}}.Encode(), "/ui/")
	return fragment(b.t, loc)
}

// fragment parses the app URL a sign-in ends at.
func fragment(t *testing.T, loc string) (signin bool, q url.Values) {
	t.Helper()
	rest, ok := strings.CutPrefix(loc, "/ui/#/signin?")
	if !ok {
		if rest, ok = strings.CutPrefix(loc, "/ui/#/login?"); !ok {
			t.Fatalf("sign-in ended at %q", loc)
		}
	}
	q, err := url.ParseQuery(rest)
	if err != nil {
		t.Fatal(err)
	}
	return strings.HasPrefix(loc, "/ui/#/signin?"), q
}

// TestOIDCSignIn: the console's sign-in ends at the app's fragment with
// an ID token that then works as a bearer token (header and websocket
// subprotocol) and with the app path asked for; a foreign return path is
// replaced by "/"; a wrong state, a reused code, a code of another
// sign-in (PKCE), a wrong nonce, a refusal at the issuer and a callback
// without its cookie end at the login page with a short message.
func TestOIDCSignIn(t *testing.T) {
	is := issuertest.New(t)
	s := startOIDC(t, is, apiserver.OIDCConfig{UsernameClaim: "preferred_username"})
	code, body := s.call("", "GET", "/ui/config.json", "")
	if code != 200 || strings.TrimSpace(body) != `{"authorization":"rbac","oidc":{"issuer":"`+is.URL+`","loginURL":"/ui/oidc/login"}}` {
		t.Fatalf("config.json: %d %s", code, body)
	}
	s.mustCreate("/api/v0/groups", `{"meta":{"id":"g1"}}`)
	s.mustCreate("/api/v0/groups/g1/namespaces", `{"meta":{"id":"ns1"}}`)
	s.mustCreate("/api/v0/groups/g1/rolebindings",
		`{"meta":{"id":"alice-op"},"spec":{"role":"operator","namespace":"ns1","subjects":[{"kind":"user","name":"oidc:alice"}]}}`)
	is.SetLoginClaims(map[string]any{"sub": "0f6c-uuid", "preferred_username": "alice"})

	b := newBrowser(t, is)
	ok, q := b.signIn(s.base, "/g/g1/ns/ns1")
	if !ok || q.Get("return") != "/g/g1/ns/ns1" || q.Get("id_token") == "" {
		t.Fatalf("sign-in: %v %v", ok, q)
	}
	tok := q.Get("id_token")
	code, body = s.call(tok, "GET", "/api/v0/whoami", "")
	var who struct {
		Data struct{ Whoami whoamiAnswer } `json:"data"`
	}
	if err := json.Unmarshal([]byte(body), &who); code != 200 || err != nil || who.Data.Whoami.Name != "oidc:alice" ||
		who.Data.Whoami.Via != "oidc" || len(who.Data.Whoami.Scopes) != 1 || who.Data.Whoami.Scopes[0].Namespace != "ns1" {
		t.Fatalf("whoami with the ID token: %d %s", code, body)
	}
	// The same token as a browser's websocket subprotocol: authenticated
	// and allowed (the console is off here: 503), without it 401.
	console := "/api/v0/groups/g1/namespaces/ns1/virtualmachines/vm1/serial"
	for protos, want := range map[string]int{"binary " + auth.BearerSubprotocol(tok): http.StatusServiceUnavailable, "binary": http.StatusUnauthorized} {
		c, resp, err := wsDial(t, s.base, console, strings.Fields(protos), nil)
		if err == nil {
			c.CloseNow()
		}
		if resp == nil || resp.StatusCode != want {
			t.Errorf("websocket %q: %v %v, want HTTP %d", protos, resp, err, want)
		}
	}

	for _, foreign := range []string{"//evil.example/x", "https://evil.example/", "/\\evil.example", "evil", ""} {
		if ok, q := b.signIn(s.base, foreign); !ok || q.Get("return") != "/" {
			t.Errorf("return %q: %v %v, want /", foreign, ok, q)
		}
	}

	// Stopped at the issuer's redirect back: the callback URL.
	callback := func() *url.URL {
		loc := b.visit(s.base+"/ui/oidc/login?return=/", "/ui/oidc/callback")
		u, err := url.Parse(loc)
		if err != nil || u.Query().Get("code") == "" {
			t.Fatalf("issuer's redirect: %q", loc)
		}
		return u
	}
	fails := func(name string, u *url.URL, want string) {
		t.Helper()
		ok, q := fragment(t, b.visit(u.String(), "/ui/"))
		if ok || !strings.Contains(q.Get("error"), want) || q.Get("id_token") != "" {
			t.Errorf("%s: %v %v, want an error with %q", name, ok, q, want)
		}
	}
	withQuery := func(u *url.URL, code, state string) *url.URL {
		v := *u
		v.RawQuery = url.Values{"code": {code}, "state": {state}}.Encode()
		return &v
	}

	cb := callback()
	fails("wrong state", withQuery(cb, cb.Query().Get("code"), "x"+cb.Query().Get("state")), "state does not match")
	fails("the callback again (its cookie is gone)", cb, "start again")

	used := callback()
	if ok, _ := fragment(t, b.visit(used.String(), "/ui/")); !ok {
		t.Fatal("a plain sign-in failed")
	}
	next := callback()
	fails("a reused code", withQuery(next, used.Query().Get("code"), next.Query().Get("state")), "refused the code (invalid_grant)")

	// A code issued to another sign-in (an attacker's, injected into the
	// victim's callback): its PKCE verifier is not this sign-in's.
	other := callback()
	mine := callback()
	exchanges := is.CodeExchanges()
	fails("another sign-in's code", withQuery(mine, other.Query().Get("code"), mine.Query().Get("state")), "refused the code (invalid_grant)")
	if is.CodeExchanges() != exchanges {
		t.Error("the issuer gave tokens for a code without its verifier")
	}

	is.SetLoginNonce("replayed")
	if ok, q := b.signIn(s.base, "/"); ok || !strings.Contains(q.Get("error"), "nonce does not match") {
		t.Errorf("wrong nonce: %v %v", ok, q)
	}
	is.SetLoginNonce("")
	is.SetLoginClaims(nil)
	if ok, q := b.signIn(s.base, "/"); ok || !strings.Contains(q.Get("error"), "refused the sign-in (access_denied)") {
		t.Errorf("refused at the issuer: %v %v", ok, q)
	}
}

// TestOIDCSignInOff: without OIDC the console's config says so and the
// sign-in routes send the browser back to the login page.
func TestOIDCSignInOff(t *testing.T) {
	e := newEnv(t)
	resp, err := http.Get(e.srv.URL + "/ui/config.json")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || strings.TrimSpace(string(b)) != `{"authorization":"off","oidc":null}` {
		t.Fatalf("config.json: %d %s", resp.StatusCode, b)
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, p := range []string{"/ui/oidc/login?return=/", "/ui/oidc/callback?code=x&state=y"} {
		resp, err := c.Get(e.srv.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if loc := resp.Header.Get("Location"); resp.StatusCode != 302 || !strings.HasPrefix(loc, "/ui/#/login?error=") {
			t.Errorf("%s: %d %s", p, resp.StatusCode, loc)
		}
	}
}
