package pki

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/storage/bolt"
)

func openBolt(t *testing.T) *bolt.Store {
	t.Helper()
	st, err := bolt.Open(filepath.Join(t.TempDir(), "db"), bolt.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func TestFileCA(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pki")
	ca, created, err := LoadOrCreateFileCA(dir, t0)
	if err != nil || !created {
		t.Fatalf("first start: created=%v err=%v", created, err)
	}
	for _, f := range []string{CACertFile, CAKeyFile} {
		fi, err := os.Stat(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600", f, fi.Mode().Perm())
		}
	}
	again, created, err := LoadOrCreateFileCA(dir, t0)
	if err != nil || created || again.Fingerprint() != ca.Fingerprint() {
		t.Fatalf("second start: created=%v err=%v, fingerprint %s want %s", created, err, again.Fingerprint(), ca.Fingerprint())
	}
	if err := os.Remove(filepath.Join(dir, CACertFile)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadOrCreateFileCA(dir, t0); err == nil {
		t.Error("a key without its certificate: a new CA was made instead of an error")
	}
}

// TestStoreCAOnce: API servers starting at once on one store end up with
// one CA, made by exactly one of them.
func TestStoreCAOnce(t *testing.T) {
	st := openBolt(t)
	const n = 8
	fps := make([]string, n)
	var created sync.Map
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			ca, c, err := LoadOrCreateStoreCA(context.Background(), st, t0)
			if err != nil {
				t.Error(err)
				return
			}
			fps[i] = ca.Fingerprint()
			if c {
				created.Store(i, true)
			}
		})
	}
	wg.Wait()
	makers := 0
	created.Range(func(any, any) bool { makers++; return true })
	if makers != 1 {
		t.Errorf("%d API servers created a CA, want 1", makers)
	}
	for i := range fps {
		if fps[i] != fps[0] {
			t.Fatalf("server %d serves with CA %s, server 0 with %s", i, fps[i], fps[0])
		}
	}
}

func TestServingReuseAndReissue(t *testing.T) {
	ca := mustCA(t)
	dir := t.TempDir()
	log := slog.New(slog.DiscardHandler)
	hosts := []string{"localhost", "127.0.0.1"}
	s1, err := NewServing(ca, dir, hosts, t0, log)
	if err != nil {
		t.Fatal(err)
	}
	s2, err := NewServing(ca, dir, hosts, t0.Add(time.Hour), log)
	if err != nil {
		t.Fatal(err)
	}
	c1, _ := s1.GetCertificate(nil)
	c2, _ := s2.GetCertificate(nil)
	if !c1.Leaf.Equal(c2.Leaf) {
		t.Error("a second start reissued a serving certificate that was still good")
	}
	s3, err := NewServing(ca, dir, append(hosts, "api.example"), t0, log)
	if err != nil {
		t.Fatal(err)
	}
	c3, _ := s3.GetCertificate(nil)
	if c3.Leaf.VerifyHostname("api.example") != nil {
		t.Error("a new --tls-san did not reissue the certificate")
	}
	if err := s3.Renew(c3.Leaf.NotAfter.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	c4, _ := s3.GetCertificate(nil)
	if c4.Leaf.Equal(c3.Leaf) {
		t.Error("a certificate an hour from expiry was not renewed")
	}
	if _, err := NewServing(mustCA(t), dir, hosts, t0, log); err != nil {
		t.Fatal(err)
	}
	c5, _ := s3.GetCertificate(nil)
	if c5.Leaf.CheckSignatureFrom(ca.Cert) != nil {
		t.Error("unexpected signer")
	}
}

func TestJoinTokens(t *testing.T) {
	ctx := context.Background()
	st := openBolt(t)
	once, _, err := CreateJoinToken(ctx, st, TokenOptions{TTL: time.Hour, MaxUses: 1, Description: "one node"}, t0)
	if err != nil {
		t.Fatal(err)
	}
	multi, _, err := CreateJoinToken(ctx, st, TokenOptions{TTL: time.Hour, MaxUses: 0, Description: ""}, t0)
	if err != nil {
		t.Fatal(err)
	}
	short, _, err := CreateJoinToken(ctx, st, TokenOptions{TTL: time.Minute, MaxUses: 0, Description: ""}, t0)
	if err != nil {
		t.Fatal(err)
	}
	forB, _, err := CreateJoinToken(ctx, st, TokenOptions{TTL: time.Hour, Node: "node-b"}, t0)
	if err != nil {
		t.Fatal(err)
	}
	id, _, _ := ParseJoinToken(once)
	steps := []struct {
		name  string
		token string
		at    time.Time
		want  string // "": admitted; else a part of the 401's message
	}{
		{"single-use, first", once, t0, ""},
		{"single-use, reused", once, t0, "used up (1 of 1 uses)"},
		{"multi-use 1", multi, t0, ""},
		{"multi-use 2", multi, t0.Add(30 * time.Minute), ""},
		{"expired", short, t0.Add(2 * time.Minute), "expired at"},
		{"expired, again", short, t0.Add(3 * time.Minute), "expired at"},
		{"wrong secret", id + ".00000000000000000000000000000000", t0, "wrong secret"},
		{"unknown id", "0123456789ab.00000000000000000000000000000000", t0, "unknown"},
		{"garbage", "hello", t0, "malformed join token"},
		{"multi-use after expiry", multi, t0.Add(2 * time.Hour), "expired at"},
		{"bound to another node", forB, t0, "is for node node-b, not node-a"},
	}
	for _, s := range steps {
		err := UseJoinToken(ctx, st, s.token, "node-a", s.at)
		if s.want == "" && err != nil {
			t.Errorf("%s: %v", s.name, err)
		}
		if s.want != "" && (!errors.Is(err, api.ErrUnauthorized) || !strings.Contains(err.Error(), s.want)) {
			t.Errorf("%s: err = %v, want ErrUnauthorized saying %q", s.name, err, s.want)
		}
	}
	if _, _, err := CreateJoinToken(ctx, st, TokenOptions{TTL: 0, MaxUses: 1, Description: ""}, t0); !errors.Is(err, api.ErrInvalid) {
		t.Errorf("ttl 0: err = %v, want ErrInvalid", err)
	}
}

// TestJoinTokenRace: a single-use token presented by many nodes at once
// admits exactly one.
func TestJoinTokenRace(t *testing.T) {
	ctx := context.Background()
	st := openBolt(t)
	tok, _, err := CreateJoinToken(ctx, st, TokenOptions{TTL: time.Hour, MaxUses: 1, Description: ""}, t0)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	admitted := 0
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			err := UseJoinToken(ctx, st, tok, "node-x", t0)
			if err == nil {
				mu.Lock()
				admitted++
				mu.Unlock()
			} else if !errors.Is(err, api.ErrUnauthorized) {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if admitted != 1 {
		t.Errorf("a single-use token admitted %d nodes", admitted)
	}
}
