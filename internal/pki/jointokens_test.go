package pki

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/humstack/humstack/api"
)

// mustToken makes a join token at t0 or fails the test.
func mustToken(t *testing.T, st TokenStore, o TokenOptions) (string, JoinToken) {
	t.Helper()
	tok, rec, err := CreateJoinToken(context.Background(), st, o, t0)
	if err != nil {
		t.Fatal(err)
	}
	return tok, rec
}

// TestJoinTokenListAndRevoke: the list shows every token with its state
// and who made it, never its secret, salt or hash; a revoked token is
// refused with a message that says so; revoking twice changes nothing; an
// unknown id is not found.
func TestJoinTokenListAndRevoke(t *testing.T) {
	ctx := context.Background()
	st := openBolt(t)
	valid, _ := mustToken(t, st, TokenOptions{TTL: time.Hour, Description: "rack 2", CreatedBy: "alice"})
	used, _ := mustToken(t, st, TokenOptions{TTL: time.Hour, MaxUses: 1})
	_, expired := mustToken(t, st, TokenOptions{TTL: time.Minute})
	revoked, rrec := mustToken(t, st, TokenOptions{TTL: time.Hour, Node: "node-r"})
	if err := UseJoinToken(ctx, st, used, "node-u", t0); err != nil {
		t.Fatal(err)
	}
	at := t0.Add(2 * time.Minute)
	rev, err := RevokeJoinToken(ctx, st, rrec.ID, "bob", at)
	if err != nil || rev.Revoked.IsZero() || rev.RevokedBy != "bob" {
		t.Fatalf("revoke: %+v, %v", rev, err)
	}
	err = UseJoinToken(ctx, st, revoked, "node-r", at)
	if !errors.Is(err, api.ErrUnauthorized) || !strings.Contains(err.Error(), "was revoked at "+at.UTC().Format(time.RFC3339)+" by bob") {
		t.Errorf("revoked token: err = %v, want 401 saying it was revoked by bob", err)
	}
	again, err := RevokeJoinToken(ctx, st, rrec.ID, "carol", at.Add(time.Minute))
	if err != nil || !again.Revoked.Equal(rev.Revoked) || again.RevokedBy != "bob" {
		t.Errorf("second revoke: %+v, %v; want the first revocation kept", again, err)
	}
	for _, id := range []string{"0123456789ab", "../../ca", ""} {
		if _, err := RevokeJoinToken(ctx, st, id, "bob", at); !errors.Is(err, api.ErrNotFound) {
			t.Errorf("revoke %q: err = %v, want not found", id, err)
		}
	}

	toks, err := ListJoinTokens(ctx, st, at)
	if err != nil {
		t.Fatal(err)
	}
	states := map[string]string{}
	for _, tk := range toks {
		r := tk.Record(at)
		states[r.ID] = r.State
		b, _ := json.Marshal(r)
		for _, leak := range []string{tk.Hash, tk.Salt, `"hash"`, `"salt"`} {
			if strings.Contains(string(b), leak) {
				t.Errorf("record %s shows %s: %s", r.ID, leak, b)
			}
		}
		for _, tok := range []string{valid, used, revoked} {
			if _, secret, _ := strings.Cut(tok, "."); strings.Contains(string(b), secret) {
				t.Errorf("record %s shows a secret: %s", r.ID, b)
			}
		}
		if r.Forget != tk.Ended().Add(JoinTokenRetention) {
			t.Errorf("record %s: forget at %v, want %v", r.ID, r.Forget, tk.Ended().Add(JoinTokenRetention))
		}
	}
	id := func(tok string) string { i, _, _ := ParseJoinToken(tok); return i }
	want := map[string]string{id(valid): api.JoinTokenValid, id(used): api.JoinTokenUsed,
		expired.ID: api.JoinTokenExpired, rrec.ID: api.JoinTokenRevoked}
	if len(states) != len(want) {
		t.Fatalf("listed %v, want %v", states, want)
	}
	for k, v := range want {
		if states[k] != v {
			t.Errorf("token %s: state %q, want %q", k, states[k], v)
		}
	}
	byID := map[string]JoinToken{}
	for _, tk := range toks {
		byID[tk.ID] = tk
	}
	if v := byID[id(valid)]; v.CreatedBy != "alice" || v.Description != "rack 2" {
		t.Errorf("alice's token: %+v", v)
	}
	if u := byID[id(used)]; u.Uses != 1 || !slices.Equal(u.UsedBy, []string{"node-u"}) || !u.LastUsed.Equal(t0) {
		t.Errorf("used token: %+v", u)
	}
}

// TestJoinTokenCollect: a record is removed JoinTokenRetention after its
// token stopped admitting nodes (expired, used up or revoked, whichever
// came first), and not a moment before.
func TestJoinTokenCollect(t *testing.T) {
	ctx := context.Background()
	st := openBolt(t)
	_, expired := mustToken(t, st, TokenOptions{TTL: time.Hour})
	used, usedRec := mustToken(t, st, TokenOptions{TTL: 30 * 24 * time.Hour, MaxUses: 1})
	_, revoked := mustToken(t, st, TokenOptions{TTL: 30 * 24 * time.Hour})
	_, long := mustToken(t, st, TokenOptions{TTL: 30 * 24 * time.Hour, MaxUses: 2})
	if err := UseJoinToken(ctx, st, used, "node-a", t0.Add(10*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, err := RevokeJoinToken(ctx, st, revoked.ID, "", t0.Add(20*time.Minute)); err != nil {
		t.Fatal(err)
	}
	week := JoinTokenRetention
	sorted := func(ids ...string) []string { slices.Sort(ids); return ids }
	all := sorted(expired.ID, usedRec.ID, revoked.ID, long.ID)
	steps := []struct {
		at      time.Time
		removed int
		left    []string
	}{
		{t0.Add(10*time.Minute + week - time.Nanosecond), 0, all},
		{t0.Add(10*time.Minute + week), 1, sorted(expired.ID, revoked.ID, long.ID)}, // used up at +10m
		{t0.Add(20*time.Minute + week), 1, sorted(expired.ID, long.ID)},             // revoked at +20m
		{t0.Add(time.Hour + week - time.Second), 0, sorted(expired.ID, long.ID)},
		{t0.Add(time.Hour + week), 1, []string{long.ID}}, // expired at +1h
		{t0.Add(30*24*time.Hour + week - time.Second), 0, []string{long.ID}},
		{t0.Add(30*24*time.Hour + week), 1, nil},
	}
	for i, s := range steps {
		n, err := CollectJoinTokens(ctx, st, s.at)
		if err != nil {
			t.Fatal(err)
		}
		toks, err := ListJoinTokens(ctx, st, s.at)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, tk := range toks {
			ids = append(ids, tk.ID)
		}
		slices.Sort(ids)
		if n != s.removed || !slices.Equal(ids, s.left) {
			t.Errorf("step %d (t0+%v): removed %d, left %v; want %d, %v", i, s.at.Sub(t0), n, ids, s.removed, s.left)
		}
	}
}
