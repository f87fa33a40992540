package pki

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/humstack/humstack/api"
)

// JoinTokenRetention is how long the record of a join token is kept after
// the token stopped admitting nodes (it expired, was used up or revoked),
// so that `humcli node join-token list` shows what happened to it. After
// that, the next list or create of join tokens removes it: the records
// cannot pile up in the store.
const JoinTokenRetention = 7 * 24 * time.Hour

// State says whether t admits nodes at now, and if not, why not.
func (t *JoinToken) State(now time.Time) string {
	switch {
	case !t.Revoked.IsZero():
		return api.JoinTokenRevoked
	case t.usedUp():
		return api.JoinTokenUsed
	case !now.Before(t.Expires):
		return api.JoinTokenExpired
	}
	return api.JoinTokenValid
}

// Ended is when t stopped admitting nodes, or its expiry if it still does.
func (t *JoinToken) Ended() time.Time {
	end := t.Expires
	if !t.Revoked.IsZero() && t.Revoked.Before(end) {
		end = t.Revoked
	}
	if t.usedUp() && !t.LastUsed.IsZero() && t.LastUsed.Before(end) {
		end = t.LastUsed
	}
	return end
}

// Record is t as it is shown: everything but the salt and the hash.
func (t *JoinToken) Record(now time.Time) api.JoinTokenRecord {
	return api.JoinTokenRecord{ID: t.ID, State: t.State(now), Description: t.Description, Node: t.Node,
		Created: t.Created, CreatedBy: t.CreatedBy, Expires: t.Expires, MaxUses: t.MaxUses, Uses: t.Uses,
		UsedBy: slices.Clone(t.UsedBy), LastUsed: t.LastUsed, Revoked: t.Revoked, RevokedBy: t.RevokedBy,
		Forget: t.Ended().Add(JoinTokenRetention)}
}

// ListJoinTokens returns the stored join tokens, oldest first, after
// removing those that ended more than JoinTokenRetention before now.
func ListJoinTokens(ctx context.Context, st TokenStore, now time.Time) ([]JoinToken, error) {
	kept, _, err := scanJoinTokens(ctx, st, now)
	return kept, err
}

// CollectJoinTokens removes the join tokens that ended more than
// JoinTokenRetention before now, and returns how many it removed.
func CollectJoinTokens(ctx context.Context, st TokenStore, now time.Time) (int, error) {
	_, removed, err := scanJoinTokens(ctx, st, now)
	return removed, err
}

func scanJoinTokens(ctx context.Context, st TokenStore, now time.Time) (kept []JoinToken, removed int, err error) {
	kvs, _, err := st.List(ctx, JoinTokenPrefix)
	if err != nil {
		return nil, 0, fmt.Errorf("list join tokens: %w", err)
	}
	for _, kv := range kvs {
		var t JoinToken
		if err := json.Unmarshal(kv.Value, &t); err != nil {
			return nil, removed, fmt.Errorf("join token %s: stored record: %v", strings.TrimPrefix(kv.Key, JoinTokenPrefix), err)
		}
		if now.Before(t.Ended().Add(JoinTokenRetention)) {
			kept = append(kept, t)
			continue
		}
		// Another apiserver removing or a node spending it at the same
		// time is no failure: it is looked at again next time.
		_, err := st.Delete(ctx, kv.Key, kv.ModRevision)
		switch {
		case err == nil:
			removed++
		case !errors.Is(err, api.ErrConflict) && !errors.Is(err, api.ErrNotFound):
			return nil, removed, fmt.Errorf("remove join token %s: %w", t.ID, err)
		}
	}
	slices.SortFunc(kept, func(a, b JoinToken) int {
		return cmp.Or(a.Created.Compare(b.Created), strings.Compare(a.ID, b.ID))
	})
	return kept, removed, nil
}

// RevokeJoinToken makes the join token id admit no more nodes, and returns
// its record. Revoking a revoked token changes nothing; an unknown id is
// api.ErrNotFound. Nodes that joined with it keep their certificates.
func RevokeJoinToken(ctx context.Context, st TokenStore, id, by string, now time.Time) (JoinToken, error) {
	for range 10 {
		t, kv, err := readJoinToken(ctx, st, id)
		if err != nil || !t.Revoked.IsZero() {
			return t, err
		}
		t.Revoked, t.RevokedBy = now.UTC(), by
		val, err := json.Marshal(t)
		if err != nil {
			return t, err
		}
		_, err = st.Update(ctx, kv.Key, val, kv.ModRevision)
		if errors.Is(err, api.ErrConflict) { // a node joined meanwhile
			continue
		}
		if err != nil {
			return t, fmt.Errorf("revoke join token %s: %w", id, err)
		}
		return t, nil
	}
	return JoinToken{}, fmt.Errorf("revoke join token %s: changed too often meanwhile: %w", id, api.ErrConflict)
}
