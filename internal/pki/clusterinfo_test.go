package pki

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/humstack/humstack/api"
)

// TestClusterInfoMAC: cluster info made for a token verifies with that
// token and yields the CA; the wrong secret, another token's id with the
// right secret's length, a tampered CA, salt or MAC are ErrNotProven; the
// MAC is the documented HMAC-SHA256 keyed with the stored hash.
func TestClusterInfoMAC(t *testing.T) {
	st := openBolt(t)
	ca, err := NewCA(t0)
	if err != nil {
		t.Fatal(err)
	}
	tok, rec := mustToken(t, st, TokenOptions{TTL: time.Hour})
	info, err := ClusterInfoFor(context.Background(), st, rec.ID, ca.CertPEM, t0)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := hex.DecodeString(rec.Hash)
	m := hmac.New(sha256.New, key)
	m.Write(ca.CertPEM)
	if info.MAC != hex.EncodeToString(m.Sum(nil)) || info.Salt != rec.Salt || info.CA != string(ca.CertPEM) {
		t.Fatalf("cluster info %+v is not HMAC-SHA256(stored hash, CA PEM) with the salt", info)
	}
	if strings.Contains(info.MAC+info.Salt+info.CA, rec.Hash) {
		t.Fatal("cluster info carries the stored hash")
	}
	got, err := VerifyClusterInfo(tok, info)
	if err != nil || !got.Equal(ca.Cert) {
		t.Fatalf("verify with the right token: %v", err)
	}

	id, secret, _ := ParseJoinToken(tok)
	other, _ := NewCA(t0)
	wrongSecret := id + "." + strings.Repeat("0", len(secret))
	tampered := []struct {
		name  string
		token string
		edit  func(*api.ClusterInfo)
	}{
		{"wrong secret", wrongSecret, func(*api.ClusterInfo) {}},
		{"another CA", tok, func(i *api.ClusterInfo) { i.CA = string(other.CertPEM) }},
		{"CA with a byte added", tok, func(i *api.ClusterInfo) { i.CA += "\n" }},
		{"another salt", tok, func(i *api.ClusterInfo) { i.Salt = strings.Repeat("0", len(i.Salt)) }},
		{"MAC flipped", tok, func(i *api.ClusterInfo) { i.MAC = flipHex(i.MAC) }},
		{"MAC cut", tok, func(i *api.ClusterInfo) { i.MAC = i.MAC[:62] }},
		{"no MAC", tok, func(i *api.ClusterInfo) { i.MAC = "" }},
	}
	for _, c := range tampered {
		i := info
		c.edit(&i)
		if _, err := VerifyClusterInfo(c.token, i); !errors.Is(err, ErrNotProven) || !errors.Is(err, api.ErrUnauthorized) {
			t.Errorf("%s: err = %v, want ErrNotProven", c.name, err)
		}
	}
	// An impostor who knows the secret can vouch for its own CA: the
	// reason the fingerprint pin is still recommended.
	forged := api.ClusterInfo{CA: string(other.CertPEM), Salt: "s"}
	mac, _ := clusterInfoMAC(hashSecret("s", secret), other.CertPEM)
	forged.MAC = hex.EncodeToString(mac)
	if got, err := VerifyClusterInfo(tok, forged); err != nil || !got.Equal(other.Cert) {
		t.Errorf("cluster info made with the secret: %v", err)
	}
	if _, err := VerifyClusterInfo("nope", info); !errors.Is(err, api.ErrUnauthorized) {
		t.Errorf("malformed token: %v", err)
	}
}

// TestClusterInfoOnlyForValidTokens: an unknown, expired, used-up or
// revoked token has no cluster info (not found), and the error names the
// reason for the server's log.
func TestClusterInfoOnlyForValidTokens(t *testing.T) {
	ctx := context.Background()
	st := openBolt(t)
	ca, _ := NewCA(t0)
	_, expired := mustToken(t, st, TokenOptions{TTL: time.Minute})
	used, urec := mustToken(t, st, TokenOptions{TTL: time.Hour, MaxUses: 1})
	_, revoked := mustToken(t, st, TokenOptions{TTL: time.Hour})
	_, forNode := mustToken(t, st, TokenOptions{TTL: time.Hour, Node: "node-x"})
	if err := UseJoinToken(ctx, st, used, "node-u", t0); err != nil {
		t.Fatal(err)
	}
	if _, err := RevokeJoinToken(ctx, st, revoked.ID, "bob", t0); err != nil {
		t.Fatal(err)
	}
	at := t0.Add(2 * time.Minute)
	for _, c := range []struct{ id, reason string }{
		{"0123456789ab", "not found"}, {"../../ca", "not found"}, {"", "not found"},
		{expired.ID, "is expired"}, {urec.ID, "is used"}, {revoked.ID, "is revoked"},
	} {
		if _, err := ClusterInfoFor(ctx, st, c.id, ca.CertPEM, at); !errors.Is(err, api.ErrNotFound) || !strings.Contains(err.Error(), c.reason) {
			t.Errorf("cluster info of %q: err = %v, want not found, %q", c.id, err, c.reason)
		}
	}
	if _, err := ClusterInfoFor(ctx, st, forNode.ID, ca.CertPEM, at); err != nil {
		t.Errorf("a token for one node name: %v (the join checks the name)", err)
	}
}

func flipHex(s string) string {
	b, _ := hex.DecodeString(s)
	b[0] ^= 1
	return hex.EncodeToString(b)
}
