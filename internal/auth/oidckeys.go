package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"golang.org/x/time/rate"
)

// DefaultOIDCKeyRefetchInterval spaces the JWKS fetches that tokens signed
// by an unknown key can cause (OIDCConfig.KeyRefetchInterval).
const DefaultOIDCKeyRefetchInterval = 10 * time.Second

// maxJWKS bounds the issuer's key set document (real ones are a few KiB).
const maxJWKS = 1 << 20

// errKeyRefetchLimited is the refusal of a token whose key is not in the
// fetched set while the set was fetched too recently to fetch it again.
var errKeyRefetchLimited = errors.New("signature: no known key verifies it and the key set was fetched less than the refetch interval ago")

// limitedKeySet is the issuer's signing keys (its JWKS), an oidc.KeySet.
// go-oidc's RemoteKeySet fetches the JWKS again for every token that no
// cached key verifies, so anyone could make the apiserver hammer the
// issuer with tokens naming random key ids. This one fetches at most once
// per interval (a token bucket of one): a token that a cached key
// verifies never waits for it, and every fetch (whoever caused it) brings
// the whole set, so a key the issuer has published is accepted at the
// latest one interval after a token first names it (key rotation).
type limitedKeySet struct {
	url    string
	client *http.Client
	limit  *rate.Limiter
	now    func() time.Time
	log    *slog.Logger

	mu   sync.RWMutex
	keys []jose.JSONWebKey
	gen  uint64 // counts successful fetches
	// lastErr is the last fetch's failure (nil after a success): while the
	// limit holds, tokens are told the issuer is unavailable rather than
	// that their signature is bad.
	lastErr error

	fetching chan struct{} // one fetch at a time; holds one token while busy
}

func newLimitedKeySet(url string, client *http.Client, interval time.Duration, now func() time.Time, log *slog.Logger) *limitedKeySet {
	return &limitedKeySet{
		url: url, client: client, now: now, log: log,
		limit:    rate.NewLimiter(rate.Every(interval), 1),
		fetching: make(chan struct{}, 1),
	}
}

// VerifySignature implements oidc.KeySet. The verifier has checked the
// algorithm and that there is exactly one signature.
func (k *limitedKeySet) VerifySignature(ctx context.Context, jwt string) ([]byte, error) {
	jws, err := jose.ParseSigned(jwt, joseAlgs())
	if err != nil || len(jws.Signatures) != 1 {
		return nil, errors.New("malformed jwt")
	}
	kid := jws.Signatures[0].Header.KeyID
	keys, gen := k.cached()
	if payload, ok := verifyWith(jws, kid, keys); ok {
		return payload, nil
	}
	keys, err = k.refetch(ctx, gen)
	if err != nil {
		return nil, err
	}
	if payload, ok := verifyWith(jws, kid, keys); ok {
		return payload, nil
	}
	return nil, errors.New("signature: no key of the issuer verifies it")
}

func (k *limitedKeySet) cached() ([]jose.JSONWebKey, uint64) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.keys, k.gen
}

// refetch fetches the set again unless another fetch happened since the
// caller's look at the cache (gen), or the limit says not yet.
func (k *limitedKeySet) refetch(ctx context.Context, gen uint64) ([]jose.JSONWebKey, error) {
	select {
	case k.fetching <- struct{}{}:
		defer func() { <-k.fetching }()
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	keys, now := k.cached()
	if now != gen {
		return keys, nil
	}
	if !k.limit.AllowN(k.now(), 1) {
		if k.lastErr != nil {
			return nil, fmt.Errorf("fetching keys: %w", k.lastErr)
		}
		k.log.Debug("OIDC key refetch refused: too soon after the last one", "url", k.url)
		return nil, errKeyRefetchLimited
	}
	keys, err := k.fetch(ctx)
	k.lastErr = err // guarded by fetching
	if err != nil {
		k.log.Warn("OIDC key fetch failed", "url", k.url, "err", err)
		return nil, fmt.Errorf("fetching keys: %w", err)
	}
	k.mu.Lock()
	k.keys, k.gen = keys, k.gen+1
	k.mu.Unlock()
	k.log.Info("OIDC keys fetched", "url", k.url, "keys", len(keys))
	return keys, nil
}

// fetch GETs the JWKS. Keys that cannot verify ID tokens (encryption keys,
// private or unknown key types, algorithms humstack does not take) are
// skipped, as RFC 7517 5 asks, rather than failing the whole set.
func (k *limitedKeySet) fetch(ctx context.Context) ([]jose.JSONWebKey, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, k.url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Cache-Control", "no-cache")
	resp, err := k.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKS))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", k.url, resp.Status)
	}
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, fmt.Errorf("GET %s: not a JWKS: %v", k.url, err)
	}
	var keys []jose.JSONWebKey
	for _, raw := range set.Keys {
		var key jose.JSONWebKey
		if json.Unmarshal(raw, &key) != nil || !key.IsPublic() || key.Use == "enc" ||
			(key.Algorithm != "" && !idTokenAlgs[key.Algorithm]) {
			continue
		}
		keys = append(keys, key)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("GET %s: no signing key in the set", k.url)
	}
	return keys, nil
}

// verifyWith verifies jws with the key named kid, or with any key when the
// token names none.
func verifyWith(jws *jose.JSONWebSignature, kid string, keys []jose.JSONWebKey) ([]byte, bool) {
	for i := range keys {
		if kid != "" && keys[i].KeyID != kid {
			continue
		}
		if payload, err := jws.Verify(&keys[i]); err == nil {
			return payload, true
		}
	}
	return nil, false
}

// joseAlgs is idTokenAlgs for go-jose's parser.
func joseAlgs() []jose.SignatureAlgorithm {
	out := make([]jose.SignatureAlgorithm, 0, len(idTokenAlgs))
	for a := range idTokenAlgs {
		out = append(out, jose.SignatureAlgorithm(a))
	}
	return out
}
