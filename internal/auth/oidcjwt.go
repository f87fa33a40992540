package auth

import (
	"encoding/base64"
	"encoding/json"
	"strings"
)

// maxIDToken bounds the ID tokens parsed at all: real ones (a few claims
// and groups) are a few KiB; anything much larger is refused before any
// decoding.
const maxIDToken = 16 << 10

// idTokenAlgs are the signature algorithms an ID token may use (the
// asymmetric JWS ones; never "none", never HMAC, whose key would be the
// client secret the apiserver does not have).
var idTokenAlgs = map[string]bool{
	"RS256": true, "RS384": true, "RS512": true,
	"ES256": true, "ES384": true, "ES512": true,
	"PS256": true, "PS384": true, "PS512": true,
	"EdDSA": true,
}

// LooksLikeJWT reports whether a bearer value is meant as a JWT (an OIDC
// ID token): three dot-separated parts, the first a base64url JSON object
// ("eyJ" is `{"`). humstack's own tokens (hst_<id>.<secret>) never do, so
// each bearer value goes to exactly one authenticator.
func LooksLikeJWT(s string) bool {
	return !strings.HasPrefix(s, TokenPrefix) && strings.HasPrefix(s, "eyJ") && strings.Count(s, ".") == 2
}

// jwtHeader is what is read from an ID token before its signature is
// verified: only enough to refuse early what can never verify.
type jwtHeader struct {
	Alg string `json:"alg"`
	Kid string `json:"kid"`
}

// ParseIDTokenFront checks the compact form of a JWT (three non-empty
// base64url parts, a JSON object header) and refuses unsigned tokens and
// algorithms other than idTokenAlgs, all before any key is looked up. Its
// errors wrap api.ErrUnauthorized with a fixed line (never the token's own
// content, which is the caller's).
func ParseIDTokenFront(s string) (jwtHeader, error) {
	var h jwtHeader
	if len(s) > maxIDToken {
		return h, unauthorized("ID token too long")
	}
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		return h, unauthorized("malformed ID token")
	}
	var raw [3][]byte
	for i, p := range parts {
		b, err := base64.RawURLEncoding.DecodeString(p)
		if err != nil {
			return h, unauthorized("malformed ID token")
		}
		raw[i] = b
	}
	if err := json.Unmarshal(raw[0], &h); err != nil {
		return jwtHeader{}, unauthorized("malformed ID token")
	}
	if h.Alg == "" || strings.EqualFold(h.Alg, "none") || len(raw[2]) == 0 {
		return jwtHeader{}, unauthorized("ID token not signed")
	}
	if !idTokenAlgs[h.Alg] {
		return jwtHeader{}, unauthorized("ID token signature algorithm not supported")
	}
	if len(raw[1]) == 0 || raw[1][0] != '{' {
		return jwtHeader{}, unauthorized("malformed ID token")
	}
	return h, nil
}

// claimString reads a string claim; ok is false when it is absent, not a
// string or empty.
func claimString(claims map[string]json.RawMessage, name string) (string, bool) {
	raw, found := claims[name]
	if !found {
		return "", false
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil || s == "" {
		return "", false
	}
	return s, true
}

// claimGroups reads the groups claim: absent is no groups; a single string
// is one group (some issuers send that for one member); otherwise it must
// be a list of strings.
func claimGroups(claims map[string]json.RawMessage, name string) ([]string, error) {
	raw, found := claims[name]
	if !found || string(raw) == "null" {
		return nil, nil
	}
	var one string
	if err := json.Unmarshal(raw, &one); err == nil {
		if one == "" {
			return nil, nil
		}
		return []string{one}, nil
	}
	var list []string
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, unauthorized("ID token groups claim is not a list of strings")
	}
	out := list[:0]
	for _, g := range list {
		if g != "" {
			out = append(out, g)
		}
	}
	return out, nil
}
