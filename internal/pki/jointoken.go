package pki

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/storage"
)

// JoinTokenPrefix is the reserved store prefix of join tokens; like
// StoreCAKey it is reached by no API path.
const JoinTokenPrefix = "/_system/jointokens/"

// A join token reads "<id>.<secret>": the id finds the stored record, the
// secret proves the holder. Only a salted SHA-256 of the secret is stored,
// so a copy of the store does not let anyone join.
const (
	tokenIDBytes     = 6
	tokenSecretBytes = 16
)

// JoinToken is the stored record of a join token.
type JoinToken struct {
	ID          string    `json:"id"`
	Salt        string    `json:"salt"`
	Hash        string    `json:"hash"`
	Created     time.Time `json:"created"`
	Expires     time.Time `json:"expires"`
	MaxUses     int       `json:"maxUses"` // 0: any number until it expires
	Uses        int       `json:"uses"`
	Description string    `json:"description,omitempty"`
	// Node, when set, is the only node name the token admits.
	Node   string   `json:"node,omitempty"`
	UsedBy []string `json:"usedBy,omitempty"`
	// CreatedBy names who made the token (the identity of the request).
	CreatedBy string `json:"createdBy,omitempty"`
	// LastUsed is when a node last joined with it: for a used-up token,
	// when it stopped admitting.
	LastUsed time.Time `json:"lastUsed,omitzero"`
	// Revoked, when set, is when the token was revoked (RevokeJoinToken).
	Revoked   time.Time `json:"revoked,omitzero"`
	RevokedBy string    `json:"revokedBy,omitempty"`
}

// TokenOptions are what a new join token allows.
type TokenOptions struct {
	TTL         time.Duration
	MaxUses     int    // 0: any number until it expires
	Node        string // "": any node name
	Description string
	CreatedBy   string // who asks for it, kept with it
}

// TokenStore is the part of a store join tokens need.
type TokenStore interface {
	Get(ctx context.Context, key string) (storage.KV, error)
	Create(ctx context.Context, key string, value []byte) (int64, error)
	Update(ctx context.Context, key string, value []byte, expected int64) (int64, error)
	Delete(ctx context.Context, key string, expected int64) (int64, error)
	List(ctx context.Context, prefix string) ([]storage.KV, int64, error)
}

// CreateJoinToken stores a new join token as o says, and returns the
// token, shown only this once.
func CreateJoinToken(ctx context.Context, st TokenStore, o TokenOptions, now time.Time) (string, JoinToken, error) {
	if o.TTL <= 0 {
		return "", JoinToken{}, api.Invalid("ttl", "must be more than 0")
	}
	if o.MaxUses < 0 {
		return "", JoinToken{}, api.Invalid("maxUses", "must not be negative")
	}
	if o.Node != "" && !api.IsID(o.Node) {
		return "", JoinToken{}, api.Invalid("node", "%q is not a node name", o.Node)
	}
	id, secret, salt := randHex(tokenIDBytes), randHex(tokenSecretBytes), randHex(16)
	t := JoinToken{ID: id, Salt: salt, Hash: hashSecret(salt, secret), Created: now.UTC(),
		Expires: now.Add(o.TTL).UTC(), MaxUses: o.MaxUses, Node: o.Node, Description: o.Description, CreatedBy: o.CreatedBy}
	val, err := json.Marshal(t)
	if err != nil {
		return "", JoinToken{}, err
	}
	if _, err := st.Create(ctx, JoinTokenPrefix+id, val); err != nil {
		return "", JoinToken{}, fmt.Errorf("store join token: %w", err)
	}
	return id + "." + secret, t, nil
}

// ParseJoinToken splits a token into its id and secret.
func ParseJoinToken(token string) (id, secret string, err error) {
	id, secret, ok := strings.Cut(strings.TrimSpace(token), ".")
	if !ok || !isHex(id, tokenIDBytes) || !isHex(secret, tokenSecretBytes) {
		return "", "", fmt.Errorf("malformed join token (want <id>.<secret> as made by humcli node join-token): %w", api.ErrUnauthorized)
	}
	return id, secret, nil
}

// UseJoinToken spends one use of token for node, or fails with
// api.ErrUnauthorized when it is unknown, wrong, revoked, expired or used
// up. Uses are counted with compare-and-swap, so a single-use token admits
// one node even when two present it at once. Tokens that no longer admit
// anyone are kept, for the list, until CollectJoinTokens removes them.
func UseJoinToken(ctx context.Context, st TokenStore, token, node string, now time.Time) error {
	id, secret, err := ParseJoinToken(token)
	if err != nil {
		return err
	}
	for range 10 {
		err = useOnce(ctx, st, id, secret, node, now)
		if !errors.Is(err, api.ErrConflict) {
			return err
		}
	}
	return err
}

func useOnce(ctx context.Context, st TokenStore, id, secret, node string, now time.Time) error {
	t, kv, err := readJoinToken(ctx, st, id)
	if errors.Is(err, api.ErrNotFound) {
		return fmt.Errorf("join token %s: unknown (never made, or removed after it ended): %w", id, api.ErrUnauthorized)
	}
	if err != nil {
		return err
	}
	if subtle.ConstantTimeCompare([]byte(hashSecret(t.Salt, secret)), []byte(t.Hash)) != 1 {
		return fmt.Errorf("join token %s: wrong secret: %w", id, api.ErrUnauthorized)
	}
	if err := t.admits(node, now); err != nil {
		return err
	}
	t.Uses++
	t.UsedBy = append(t.UsedBy, node)
	t.LastUsed = now.UTC()
	val, err := json.Marshal(t)
	if err != nil {
		return err
	}
	_, err = st.Update(ctx, kv.Key, val, kv.ModRevision)
	return raced(err)
}

// admits fails (api.ErrUnauthorized) unless t lets node join at now.
func (t *JoinToken) admits(node string, now time.Time) error {
	switch {
	case !t.Revoked.IsZero():
		by := ""
		if t.RevokedBy != "" {
			by = " by " + t.RevokedBy
		}
		return fmt.Errorf("join token %s was revoked at %s%s; ask the cluster admin for a new one (humcli node join-token): %w",
			t.ID, t.Revoked.Format(time.RFC3339), by, api.ErrUnauthorized)
	case t.Node != "" && t.Node != node:
		return fmt.Errorf("join token %s is for node %s, not %s: %w", t.ID, t.Node, node, api.ErrUnauthorized)
	case !now.Before(t.Expires):
		return fmt.Errorf("join token %s: expired at %s: %w", t.ID, t.Expires.Format(time.RFC3339), api.ErrUnauthorized)
	case t.usedUp():
		return fmt.Errorf("join token %s: used up (%d of %d uses): %w", t.ID, t.Uses, t.MaxUses, api.ErrUnauthorized)
	}
	return nil
}

func (t *JoinToken) usedUp() bool { return t.MaxUses > 0 && t.Uses >= t.MaxUses }

// readJoinToken reads and decodes the record of id.
func readJoinToken(ctx context.Context, st TokenStore, id string) (JoinToken, storage.KV, error) {
	var t JoinToken
	if !isHex(id, tokenIDBytes) { // no such key: do not ask the store
		return t, storage.KV{}, fmt.Errorf("join token %q not found: %w", id, api.ErrNotFound)
	}
	kv, err := st.Get(ctx, JoinTokenPrefix+id)
	if errors.Is(err, api.ErrNotFound) {
		return t, kv, fmt.Errorf("join token %s not found: %w", id, api.ErrNotFound)
	}
	if err != nil {
		return t, kv, fmt.Errorf("join token %s: %w", id, err)
	}
	if err := json.Unmarshal(kv.Value, &t); err != nil {
		return t, kv, fmt.Errorf("join token %s: stored record: %v", id, err)
	}
	return t, kv, nil
}

// raced makes a token deleted under us (another node spent its last use)
// a conflict, so the caller reads again and sees it gone.
func raced(err error) error {
	if errors.Is(err, api.ErrNotFound) {
		return fmt.Errorf("join token changed meanwhile: %w", api.ErrConflict)
	}
	return err
}

func hashSecret(salt, secret string) string {
	sum := sha256.Sum256([]byte(salt + ":" + secret))
	return hex.EncodeToString(sum[:])
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func isHex(s string, n int) bool {
	if len(s) != 2*n {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}
