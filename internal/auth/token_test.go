package auth

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/humstack/humstack/api"
)

func issue(t testing.TB, id string, spec api.TokenSpec) (*api.Token, string) {
	t.Helper()
	bearer, salt, hash, err := IssueToken(id)
	if err != nil {
		t.Fatal(err)
	}
	tok := &api.Token{Meta: api.Meta{ID: id}, Spec: spec, Status: api.TokenStatus{Salt: salt, Hash: hash}}
	return tok, bearer
}

func lookupOf(toks ...*api.Token) TokenLookup {
	return func(_ context.Context, id string) (*api.Token, error) {
		for _, t := range toks {
			if t.Meta.ID == id {
				return t, nil
			}
		}
		return nil, api.ErrNotFound
	}
}

func TestTokenAuthenticator(t *testing.T) {
	now := time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC)
	alice, aliceBearer := issue(t, "alice-1", api.TokenSpec{Owner: "alice", Groups: []string{"students"}})
	old, oldBearer := issue(t, "old", api.TokenSpec{Owner: "bob", ExpiresAt: "2026-12-02T00:00:00Z"})
	bot, botBearer := issue(t, "bot", api.TokenSpec{Owner: "ci", OwnerKind: api.OwnerServiceAccount, ExpiresAt: "2027-01-01T00:00:00Z"})
	a := &TokenAuthenticator{Lookup: lookupOf(alice, old, bot), Now: func() time.Time { return now }}
	wrongSecret := aliceBearer[:len(aliceBearer)-4] + "AAAA"
	if wrongSecret == aliceBearer {
		wrongSecret = aliceBearer[:len(aliceBearer)-4] + "BBBB"
	}
	for _, c := range []struct {
		name, header string
		ok           bool
		want         string // identity name, or the error's message
	}{
		{"no header", "", false, ""},
		{"basic auth is not ours", "Basic YWxpY2U6eA==", false, ""},
		{"another bearer scheme", "Bearer cl_somethingelse", false, ""},
		{"valid", "Bearer " + aliceBearer, true, "alice"},
		{"scheme case-insensitive", "bearer " + aliceBearer, true, "alice"},
		{"service account", "Bearer " + botBearer, true, "ci"},
		{"expired", "Bearer " + oldBearer, true, "token expired"},
		{"wrong secret", "Bearer " + wrongSecret, true, "unknown token"},
		{"unknown id", "Bearer " + strings.Replace(aliceBearer, "alice-1", "alice-2", 1), true, "unknown token"},
		{"malformed", "Bearer hst_alice-1", true, "malformed token"},
		{"bad id", "Bearer hst_Alice." + strings.Repeat("A", 43), true, "malformed token"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			if c.header != "" {
				r.Header.Set("Authorization", c.header)
			}
			id, ok, err := a.Authenticate(r)
			if ok != c.ok {
				t.Fatalf("recognized = %v, want %v (err %v)", ok, c.ok, err)
			}
			switch {
			case !c.ok:
				if id != nil || err != nil {
					t.Errorf("passing on: got %v, %v", id, err)
				}
			case err != nil:
				if !errors.Is(err, api.ErrUnauthorized) || err.Error() != c.want {
					t.Errorf("err = %v, want %q (401)", err, c.want)
				}
			case id.Name != c.want:
				t.Errorf("identity %+v, want %s", id, c.want)
			}
		})
	}
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Authorization", "Bearer "+botBearer)
	if id, _, _ := a.Authenticate(r); id == nil || id.Kind != KindServiceAccount || id.Via != "token" {
		t.Errorf("service account identity: %+v", id)
	}
	r.Header.Set("Authorization", "Bearer "+aliceBearer)
	if id, _, _ := a.Authenticate(r); id == nil || len(id.Groups) != 1 || id.Groups[0] != "students" {
		t.Errorf("groups: %+v", id)
	}
}

func TestChain(t *testing.T) {
	node := &Identity{Name: "node:a", Kind: KindNode, Node: "a"}
	c := Chain{
		Static(func(r *http.Request) *Identity { return nil }),
		Static(func(r *http.Request) *Identity { return node }),
	}
	if id, ok, err := c.Authenticate(httptest.NewRequest("GET", "/", nil)); !ok || err != nil || id != node {
		t.Errorf("chain: %v %v %v", id, ok, err)
	}
	if id, ok, err := (Chain{}).Authenticate(httptest.NewRequest("GET", "/", nil)); !ok || err != nil || id != Anonymous {
		t.Errorf("empty chain: %v %v %v", id, ok, err)
	}
}

// FuzzBearer feeds the token authenticator arbitrary Authorization headers:
// it never panics, recognizes only what ParseBearer accepts, and admits
// nothing but the one valid token.
func FuzzBearer(f *testing.F) {
	tok, bearer := issue(f, "alice-1", api.TokenSpec{Owner: "alice"})
	a := &TokenAuthenticator{Lookup: lookupOf(tok)}
	for _, s := range []string{"Bearer " + bearer, "Bearer hst_", "Bearer hst_a.", "bearer  hst_x.y", "Basic x", "", "Bearer hst_alice-1." + strings.Repeat("A", 43)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, header string) {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header["Authorization"] = []string{header}
		id, ok, err := a.Authenticate(r)
		if err != nil && !errors.Is(err, api.ErrUnauthorized) {
			t.Fatalf("%q: error not 401: %v", header, err)
		}
		if id != nil && (!ok || err != nil) {
			t.Fatalf("%q: identity with ok=%v err=%v", header, ok, err)
		}
		if id != nil {
			b, _ := BearerOf(r)
			if b != bearer {
				t.Fatalf("%q admitted as %s", header, id.Name)
			}
		}
	})
}
