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
}

// TokenOptions are what a new join token allows.
type TokenOptions struct {
	TTL         time.Duration
	MaxUses     int    // 0: any number until it expires
	Node        string // "": any node name
	Description string
}

// TokenStore is the part of a store join tokens need.
type TokenStore interface {
	Get(ctx context.Context, key string) (storage.KV, error)
	Create(ctx context.Context, key string, value []byte) (int64, error)
	Update(ctx context.Context, key string, value []byte, expected int64) (int64, error)
	Delete(ctx context.Context, key string, expected int64) (int64, error)
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
		Expires: now.Add(o.TTL).UTC(), MaxUses: o.MaxUses, Node: o.Node, Description: o.Description}
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
// api.ErrUnauthorized when it is unknown, wrong, expired or used up. Uses
// are counted with compare-and-swap, so a single-use token admits one node
// even when two present it at once.
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
	kv, err := st.Get(ctx, JoinTokenPrefix+id)
	if errors.Is(err, api.ErrNotFound) {
		return fmt.Errorf("join token %s: unknown or used up: %w", id, api.ErrUnauthorized)
	}
	if err != nil {
		return fmt.Errorf("join token: %w", err)
	}
	var t JoinToken
	if err := json.Unmarshal(kv.Value, &t); err != nil {
		return fmt.Errorf("join token %s: stored record: %v", id, err)
	}
	if subtle.ConstantTimeCompare([]byte(hashSecret(t.Salt, secret)), []byte(t.Hash)) != 1 {
		return fmt.Errorf("join token %s: wrong secret: %w", id, api.ErrUnauthorized)
	}
	if t.Node != "" && t.Node != node {
		return fmt.Errorf("join token %s is for node %s, not %s: %w", id, t.Node, node, api.ErrUnauthorized)
	}
	if !now.Before(t.Expires) {
		_, _ = st.Delete(ctx, kv.Key, kv.ModRevision)
		return fmt.Errorf("join token %s: expired at %s: %w", id, t.Expires.Format(time.RFC3339), api.ErrUnauthorized)
	}
	t.Uses++
	t.UsedBy = append(t.UsedBy, node)
	if t.MaxUses > 0 && t.Uses >= t.MaxUses {
		_, err = st.Delete(ctx, kv.Key, kv.ModRevision) // used up: nothing left to keep
		return raced(err)
	}
	val, err := json.Marshal(t)
	if err != nil {
		return err
	}
	_, err = st.Update(ctx, kv.Key, val, kv.ModRevision)
	return raced(err)
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
