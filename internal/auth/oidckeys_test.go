package auth

import (
	"crypto/rand"
	"encoding/base64"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/humstack/humstack/internal/auth/issuertest"
)

// fakeClock is a clock a test moves by hand (key refetch spacing).
type fakeClock struct{ ns atomic.Int64 }

func newFakeClock() *fakeClock {
	c := &fakeClock{}
	c.ns.Store(time.Now().UnixNano())
	return c
}

func (c *fakeClock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// withRandomKid is good with its header replaced by one naming a random
// key id: what an attacker can make at no cost (the signature is then
// wrong, but finding that out needs the named key).
func withRandomKid(t *testing.T, good string) string {
	parts := strings.Split(good, ".")
	hdr := `{"alg":"RS256","typ":"JWT","kid":"` + rand.Text() + `"}`
	return base64.RawURLEncoding.EncodeToString([]byte(hdr)) + "." + parts[1] + "." + parts[2]
}

// TestOIDCKeyRefetchLimit: 1,000 tokens naming random key ids (sent by 20
// clients at once) cause no JWKS fetch within the refetch interval of the
// last one, and one in the next interval; valid tokens pass throughout.
func TestOIDCKeyRefetchLimit(t *testing.T) {
	is := issuertest.New(t)
	clk := newFakeClock()
	a := newOIDC(t, is, OIDCConfig{Now: clk.Now, KeyRefetchInterval: 10 * time.Second})
	good := is.Token(t, is.Claims("alice"))
	if _, _, err := authOIDC(a, good); err != nil {
		t.Fatal(err)
	}
	if n := is.KeyFetches(); n != 1 {
		t.Fatalf("%d JWKS fetches for the first token, want 1", n)
	}
	attack := func() time.Duration {
		start := time.Now()
		var wg sync.WaitGroup
		var accepted, badLine atomic.Int64
		for range 20 {
			wg.Go(func() {
				for range 50 {
					_, _, err := authOIDC(a, withRandomKid(t, good))
					if err == nil {
						accepted.Add(1)
					} else if err.Error() != "ID token signature invalid" {
						badLine.Add(1)
					}
				}
			})
		}
		wg.Wait()
		if accepted.Load() != 0 || badLine.Load() != 0 {
			t.Fatalf("random key ids: %d accepted, %d refused with another line", accepted.Load(), badLine.Load())
		}
		return time.Since(start)
	}
	d := attack()
	if n := is.KeyFetches(); n != 1 {
		t.Errorf("1,000 random key ids within the interval: %d JWKS fetches in all, want 1", n)
	}
	clk.Advance(10 * time.Second)
	d += attack()
	if n := is.KeyFetches(); n != 2 {
		t.Errorf("1,000 random key ids in the next interval: %d JWKS fetches in all, want 2", n)
	}
	if _, _, err := authOIDC(a, good); err != nil {
		t.Errorf("valid token after the attack: %v", err)
	}
	t.Logf("2,000 random-kid tokens refused in %v; JWKS fetched %d times in all", d, is.KeyFetches())
}

// TestOIDCKeyRotation: a token signed by a key the issuer has just
// published is refused while the last fetch is younger than the interval
// and accepted once it is older; a fetch caused by anything (here a
// random key id) brings every published key.
func TestOIDCKeyRotation(t *testing.T) {
	is := issuertest.New(t)
	clk := newFakeClock()
	a := newOIDC(t, is, OIDCConfig{Now: clk.Now, KeyRefetchInterval: 10 * time.Second})
	claims := is.Claims("alice")
	if _, _, err := authOIDC(a, is.Token(t, claims)); err != nil {
		t.Fatal(err)
	}
	k2 := issuertest.NewKey(t)
	is.Publish("key-2", k2)
	rotated := issuertest.Sign(t, k2, "key-2", claims)
	if _, _, err := authOIDC(a, rotated); err == nil || err.Error() != "ID token signature invalid" {
		t.Fatalf("new key within the interval: %v, want refused", err)
	}
	clk.Advance(10 * time.Second)
	if id, _, err := authOIDC(a, rotated); err != nil || id.Name != "oidc:alice" {
		t.Fatalf("new key after the interval: %v %v", id, err)
	}
	if n := is.KeyFetches(); n != 2 {
		t.Errorf("%d JWKS fetches, want 2", n)
	}
	k3 := issuertest.NewKey(t)
	is.Publish("key-3", k3)
	clk.Advance(10 * time.Second)
	if _, _, err := authOIDC(a, withRandomKid(t, rotated)); err == nil {
		t.Fatal("random key id accepted")
	}
	if _, _, err := authOIDC(a, issuertest.Sign(t, k3, "key-3", claims)); err != nil {
		t.Fatalf("key-3, fetched by the random key id's refetch: %v", err)
	}
	if n := is.KeyFetches(); n != 3 {
		t.Errorf("%d JWKS fetches, want 3", n)
	}
}

// TestOIDCKeysUnreachable: when the key set cannot be fetched, tokens are
// told the issuer is unavailable, also while the limit holds, and pass
// once a fetch works again.
func TestOIDCKeysUnreachable(t *testing.T) {
	is := issuertest.New(t)
	clk := newFakeClock()
	a := newOIDC(t, is, OIDCConfig{Now: clk.Now, KeyRefetchInterval: 10 * time.Second})
	if _, err := a.getVerifier(); err != nil {
		t.Fatal(err)
	}
	is.SetDown(true)
	tok := is.Token(t, is.Claims("alice"))
	for i := range 2 {
		if _, _, err := authOIDC(a, tok); err == nil || err.Error() != "OIDC issuer unavailable" {
			t.Fatalf("attempt %d, keys unreachable: %v", i, err)
		}
	}
	is.SetDown(false)
	clk.Advance(10 * time.Second)
	if _, _, err := authOIDC(a, tok); err != nil {
		t.Fatalf("keys reachable again: %v", err)
	}
}
