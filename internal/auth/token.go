package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/humstack/humstack/api"
)

// Bearer tokens look like "hst_<token id>.<secret>": the id finds the
// stored token object in one read, the secret (32 random bytes, base64url)
// is checked against its salted hash. The prefix lets other bearer schemes
// (console links) pass through the chain untouched.
const (
	TokenPrefix = "hst_"
	secretBytes = 32
	saltBytes   = 16
	// maxBearer bounds what is parsed: an id (63) plus a secret (43) and the
	// prefix fit well below it.
	maxBearer = 256
)

// IssueToken makes a new secret for the token with id and returns the
// bearer token to hand out once, and the salt and hash (hex) to store.
func IssueToken(id string) (bearer, salt, hash string, err error) {
	var sec [secretBytes]byte
	var s [saltBytes]byte
	if _, err := rand.Read(sec[:]); err != nil {
		return "", "", "", fmt.Errorf("token secret: %w", err)
	}
	if _, err := rand.Read(s[:]); err != nil {
		return "", "", "", fmt.Errorf("token salt: %w", err)
	}
	secret := base64.RawURLEncoding.EncodeToString(sec[:])
	sum := hashSecret(s[:], secret)
	return TokenPrefix + id + "." + secret, hex.EncodeToString(s[:]), hex.EncodeToString(sum[:]), nil
}

func hashSecret(salt []byte, secret string) [sha256.Size]byte {
	h := sha256.New()
	h.Write(salt)
	h.Write([]byte(secret))
	var out [sha256.Size]byte
	h.Sum(out[:0])
	return out
}

// ParseBearer splits a bearer token into the token id and the secret. It
// fails (api.ErrUnauthorized) on anything that is not exactly that form.
func ParseBearer(s string) (id, secret string, err error) {
	if len(s) > maxBearer || !strings.HasPrefix(s, TokenPrefix) {
		return "", "", unauthorized("malformed token")
	}
	id, secret, ok := strings.Cut(s[len(TokenPrefix):], ".")
	if !ok || !api.IsID(id) || len(secret) != base64.RawURLEncoding.EncodedLen(secretBytes) {
		return "", "", unauthorized("malformed token")
	}
	if _, err := base64.RawURLEncoding.DecodeString(secret); err != nil {
		return "", "", unauthorized("malformed token")
	}
	return id, secret, nil
}

// CheckSecret reports whether secret is the one whose salted hash t
// stores, in time independent of where they differ.
func CheckSecret(t *api.Token, secret string) bool {
	salt, err1 := hex.DecodeString(t.Status.Salt)
	want, err2 := hex.DecodeString(t.Status.Hash)
	if err1 != nil || err2 != nil || len(salt) == 0 || len(want) != sha256.Size {
		return false
	}
	got := hashSecret(salt, secret)
	return subtle.ConstantTimeCompare(got[:], want) == 1
}

// TokenLookup reads a stored token by id; a missing one wraps api.ErrNotFound.
type TokenLookup func(ctx context.Context, id string) (*api.Token, error)

// TokenAuthenticator authenticates "Authorization: Bearer hst_..." against
// the stored token objects.
type TokenAuthenticator struct {
	Lookup TokenLookup
	Now    func() time.Time // nil: time.Now
}

// Authenticate implements Authenticator.
func (a *TokenAuthenticator) Authenticate(r *http.Request) (*Identity, bool, error) {
	bearer, ok := BearerOf(r)
	if !ok || !strings.HasPrefix(bearer, TokenPrefix) {
		return nil, false, nil
	}
	id, secret, err := ParseBearer(bearer)
	if err != nil {
		return nil, true, err
	}
	t, err := a.Lookup(r.Context(), id)
	if errors.Is(err, api.ErrNotFound) {
		return nil, true, unauthorized("unknown token")
	}
	if err != nil {
		return nil, true, fmt.Errorf("read token: %w", err)
	}
	if !CheckSecret(t, secret) {
		return nil, true, unauthorized("unknown token")
	}
	if expired(t, a.now()) {
		return nil, true, unauthorized("token expired")
	}
	return TokenIdentity(t), true, nil
}

func (a *TokenAuthenticator) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

// expired reports whether t has an expiry at or before now. An expiry that
// does not parse (validation prevents it) counts as expired: fail closed.
func expired(t *api.Token, now time.Time) bool {
	if t.Spec.ExpiresAt == "" {
		return false
	}
	at, err := time.Parse(time.RFC3339, t.Spec.ExpiresAt)
	return err != nil || !now.Before(at)
}

// TokenIdentity is the identity a valid token stands for.
func TokenIdentity(t *api.Token) *Identity {
	kind := KindUser
	if t.Spec.OwnerKind == api.OwnerServiceAccount {
		kind = KindServiceAccount
	}
	return &Identity{Name: t.Spec.Owner, Kind: kind, Groups: t.Spec.Groups, Via: "token"}
}

// BearerOf returns the bearer credential of r's Authorization header.
func BearerOf(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	scheme, cred, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	cred = strings.TrimSpace(cred)
	return cred, cred != ""
}

// classError is an error whose message is exactly one line for the user,
// wrapping an api error class without repeating its name.
type classError struct {
	msg   string
	class error
}

func (e *classError) Error() string { return e.msg }
func (e *classError) Unwrap() error { return e.class }

func unauthorized(msg string) error { return &classError{msg: msg, class: api.ErrUnauthorized} }
