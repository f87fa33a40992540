package auth

import (
	"context"
	"errors"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/humstack/humstack/api"
)

type fakeLinks struct {
	key   []byte
	links map[string]*api.ConsoleLink
	err   error
}

func (f *fakeLinks) ConsoleLink(_ context.Context, g, ns, id string) (*api.ConsoleLink, error) {
	if f.err != nil {
		return nil, f.err
	}
	if l, ok := f.links[g+"/"+ns+"/"+id]; ok {
		return l, nil
	}
	return nil, api.ErrNotFound
}

func (f *fakeLinks) ConsoleLinkKey(context.Context) ([]byte, error) { return f.key, nil }

var t0 = time.Date(2026, 12, 3, 7, 0, 0, 0, time.UTC)

func link(id, vm string, exp time.Time) *api.ConsoleLink {
	l := api.ConsoleLinkKind.New().(*api.ConsoleLink)
	l.Meta.ID, l.Meta.Group, l.Meta.Namespace, l.Meta.UID = id, "team1", "ns1", "uid-"+id
	l.Spec = api.ConsoleLinkSpec{VirtualMachineID: vm, ExpiresAt: exp.Format(time.RFC3339)}
	return l
}

func TestConsoleLinkAuthenticator(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	l1 := link("l1", "vm1", t0.Add(2*time.Hour))
	src := &fakeLinks{key: key, links: map[string]*api.ConsoleLink{"team1/ns1/l1": l1}}
	now := t0
	a := &ConsoleLinkAuthenticator{Source: src, Now: func() time.Time { return now }}
	tok := SignConsoleLink(key, l1)
	if len(tok) > 60 {
		t.Errorf("token %q is %d bytes", tok, len(tok))
	}
	auth := func(tok string) (*Identity, bool, error) {
		r := httptest.NewRequest("GET", "/api/v0/groups/team1/namespaces/ns1/virtualmachines/vm1/serial?"+
			url.Values{"link": {tok}}.Encode(), nil)
		return a.Authenticate(r)
	}

	id, ok, err := auth(tok)
	want := ObjectRef{APIType: "systemv0/virtualmachine", Group: "team1", Namespace: "ns1", ID: "vm1"}
	if err != nil || !ok || id.Kind != KindConsoleLink || id.Via != "consolelink" || id.Limit == nil || *id.Limit != want ||
		id.Name != "consolelink:team1/ns1/l1" {
		t.Fatalf("valid link: %+v %v %v", id, ok, err)
	}

	// No link: not this authenticator's credential.
	if id, ok, err := a.Authenticate(httptest.NewRequest("GET", "/api/v0/groups", nil)); id != nil || ok || err != nil {
		t.Fatalf("no link: %v %v %v", id, ok, err)
	}

	other := *l1
	other.Meta.UID = "uid-again" // deleted and made again under the same id
	mac := []byte(tok)
	mac[len(mac)-1] ^= 1
	for name, tc := range map[string]struct{ tok, msg string }{
		"tampered mac":   {strings.TrimSuffix(tok, tok[len(tok)-2:]) + "AA", "does not match"},
		"other link id":  {strings.Replace(tok, ".l1.", ".l2.", 1), "revoked or unknown"},
		"old uid":        {SignConsoleLink(key, &other), "does not match"},
		"other key":      {SignConsoleLink([]byte("another key another key another k"), l1), "does not match"},
		"garbage":        {"not-a-token", "malformed"},
		"empty":          {"", "malformed"},
		"bad base64":     {"team1.ns1.l1.!!!!!!!!!!!!!!!!!!!!!!", "malformed"},
		"uppercase id":   {"Team1.ns1.l1.AAAAAAAAAAAAAAAAAAAAAA", "malformed"},
		"five parts":     {tok + ".x", "malformed"},
		"flipped letter": {string(mac), ""},
	} {
		id, ok, err := auth(tc.tok)
		if id != nil || !ok || !errors.Is(err, api.ErrUnauthorized) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: %v %v %v, want 401 with %q", name, id, ok, err, tc.msg)
		}
	}

	// Expiry, by the clock.
	now = t0.Add(2*time.Hour - time.Second)
	if _, _, err := auth(tok); err != nil {
		t.Fatalf("a second before expiry: %v", err)
	}
	now = t0.Add(2 * time.Hour)
	if _, _, err := auth(tok); !errors.Is(err, api.ErrUnauthorized) || !strings.Contains(err.Error(), "console link expired") {
		t.Fatalf("at expiry: %v", err)
	}

	// Revoked: the object is gone.
	now = t0
	delete(src.links, "team1/ns1/l1")
	if _, _, err := auth(tok); !errors.Is(err, api.ErrUnauthorized) || !strings.Contains(err.Error(), "revoked") {
		t.Fatalf("revoked: %v", err)
	}

	// The store failing is not the caller's fault.
	src.err = api.ErrUnavailable
	if _, ok, err := auth(tok); !ok || !errors.Is(err, api.ErrUnavailable) || errors.Is(err, api.ErrUnauthorized) {
		t.Fatalf("store down: %v", err)
	}
}

// FuzzConsoleLinkToken: the parser never panics, accepts only what it
// can format back to the same string, and rejects with 401.
func FuzzConsoleLinkToken(f *testing.F) {
	key := []byte("0123456789abcdef0123456789abcdef")
	f.Add(SignConsoleLink(key, link("l1", "vm1", t0)))
	f.Add("a.b.c.AAAAAAAAAAAAAAAAAAAAAA")
	f.Add("a.b.c.AAAAAAAAAAAAAAAAAAAAAA==")
	f.Add("...")
	f.Add("0.0.0.000000000000000\r000000A") // the decoder skips \r: two spellings of one token
	f.Add("a.b.c.d.e")
	f.Add(strings.Repeat("a", 300))
	f.Fuzz(func(t *testing.T, s string) {
		tok, err := ParseConsoleLinkToken(s)
		if err != nil {
			if !errors.Is(err, api.ErrUnauthorized) {
				t.Fatalf("%q: %v is not a 401", s, err)
			}
			return
		}
		if tok.String() != s || len(tok.MAC) != macLen || !api.IsID(tok.Group) || !api.IsID(tok.Namespace) || !api.IsID(tok.ID) {
			t.Fatalf("%q parsed to %+v (%q)", s, tok, tok.String())
		}
	})
}
