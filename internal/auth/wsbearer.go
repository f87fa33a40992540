package auth

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"

	"github.com/humstack/humstack/api"
)

// Browsers cannot set headers on a websocket: the web console offers its
// bearer token as a websocket subprotocol instead,
//
//	Sec-WebSocket-Protocol: binary, humstack.bearer.<base64url(token), no padding>
//
// WebsocketBearer moves it into the Authorization header before the
// authenticator chain runs, so that it is checked exactly like
// "Authorization: Bearer <token>" (humstack tokens and OIDC ID tokens
// alike): there is no second verification path. The entry is removed from
// the subprotocols the handlers see, so no handler can select or echo it
// (the console handlers answer "binary"). Nothing logs request headers.

// BearerSubprotocolPrefix starts the subprotocol entry carrying a token.
const BearerSubprotocolPrefix = "humstack.bearer."

const subprotocolHeader = "Sec-WebSocket-Protocol"

// Bounds of the subprotocol list, checked before any decoding: a browser
// offers two entries, and a token (an ID token) is a few KiB.
const (
	maxSubprotocols      = 8
	maxSubprotocolLength = 8 << 10
)

// WebsocketBearer returns r, or for a websocket upgrade of a console route
// (ConsoleRoute) offering a token subprotocol, a copy of r with the token
// in its Authorization header and the entry taken out of
// Sec-WebSocket-Protocol. Other requests are left alone: the entry means
// something only on a console's websocket upgrade, elsewhere it is no
// credential. A request that also carries an Authorization: Bearer header
// or a console link (?link=), or offers two tokens, is refused with
// api.ErrInvalid (400: one credential per request), as is a list of more
// than 8 entries or an entry over 8 KiB; another Authorization scheme (a
// proxy's Basic credentials) is replaced; an entry that is not base64url
// is api.ErrUnauthorized.
func WebsocketBearer(r *http.Request) (*http.Request, error) {
	if r.Method != http.MethodGet || !hasToken(r.Header.Values("Upgrade"), "websocket") || !ConsoleRoute(r.URL.Path) {
		return r, nil
	}
	var token string
	var rest []string
	found := 0
	entries := splitTokens(r.Header.Values(subprotocolHeader))
	if len(entries) > maxSubprotocols {
		return nil, fmt.Errorf("%d websocket subprotocols offered, at most %d: %w", len(entries), maxSubprotocols, api.ErrInvalid)
	}
	for _, p := range entries {
		if len(p) > maxSubprotocolLength {
			return nil, fmt.Errorf("a websocket subprotocol of %d bytes, at most %d: %w", len(p), maxSubprotocolLength, api.ErrInvalid)
		}
		enc, ok := strings.CutPrefix(p, BearerSubprotocolPrefix)
		if !ok {
			rest = append(rest, p)
			continue
		}
		found++
		token = enc
	}
	switch {
	case found == 0:
		return r, nil
	case found > 1:
		return nil, fmt.Errorf("more than one %s subprotocol: send one bearer token: %w", BearerSubprotocolPrefix, api.ErrInvalid)
	case hasBearerHeader(r):
		return nil, fmt.Errorf("a bearer token both in Authorization and as a websocket subprotocol: send one: %w", api.ErrInvalid)
	case r.URL.Query().Has(ConsoleLinkParam):
		return nil, fmt.Errorf("a console link and a bearer token subprotocol: send one credential: %w", api.ErrInvalid)
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(token)
	if err != nil || len(raw) == 0 || strings.ContainsAny(token, "\r\n") || strings.ContainsAny(string(raw), " \t\r\n") {
		return nil, unauthorized("malformed bearer token subprotocol (want " + BearerSubprotocolPrefix + "<base64url of the token, no padding>)")
	}
	out := r.Clone(r.Context())
	out.Header.Del(subprotocolHeader)
	if len(rest) > 0 {
		out.Header.Set(subprotocolHeader, strings.Join(rest, ", "))
	}
	out.Header.Set("Authorization", "Bearer "+string(raw))
	return out, nil
}

// BearerSubprotocol is the subprotocol entry that carries token.
func BearerSubprotocol(token string) string {
	return BearerSubprotocolPrefix + base64.RawURLEncoding.EncodeToString([]byte(token))
}

// splitTokens splits comma-separated header values (several lines are one
// list) into trimmed, non-empty entries.
func splitTokens(values []string) []string {
	var out []string
	for _, v := range values {
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}

func hasToken(values []string, want string) bool {
	for _, p := range splitTokens(values) {
		if strings.EqualFold(p, want) {
			return true
		}
	}
	return false
}

// hasBearerHeader says whether r carries Authorization: Bearer.
func hasBearerHeader(r *http.Request) bool {
	scheme, _, _ := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " ")
	return strings.EqualFold(scheme, "Bearer")
}

// ConsoleRoute says whether path is one of a VM's console routes, the only
// ones that take the token subprotocol:
// /api/v0/groups/{g}/namespaces/{ns}/virtualmachines/{id}/ws, .../serial
// and .../serial/log.
func ConsoleRoute(path string) bool {
	rest, ok := strings.CutPrefix(path, "/api/v0/groups/")
	p := strings.Split(rest, "/")
	if !ok || len(p) < 6 || p[1] != "namespaces" || p[3] != api.VirtualMachineKind.Plural {
		return false
	}
	for _, id := range []string{p[0], p[2], p[4]} {
		if !api.IsID(id) {
			return false
		}
	}
	switch strings.Join(p[5:], "/") {
	case "ws", "serial", "serial/log":
		return true
	}
	return false
}
