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

// WebsocketBearer returns r, or for a websocket upgrade offering a token
// subprotocol, a copy of r with the token in its Authorization header and
// the entry taken out of Sec-WebSocket-Protocol. Other requests are left
// alone: the entry means something only on a websocket upgrade. A request
// that also carries an Authorization header or a console link (?link=), or
// offers two tokens, is refused with api.ErrInvalid (400: one credential
// per request); an entry that is not base64url is api.ErrUnauthorized.
func WebsocketBearer(r *http.Request) (*http.Request, error) {
	if r.Method != http.MethodGet || !hasToken(r.Header.Values("Upgrade"), "websocket") {
		return r, nil
	}
	var token string
	var rest []string
	found := 0
	for _, p := range splitTokens(r.Header.Values(subprotocolHeader)) {
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
	case r.Header.Get("Authorization") != "":
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
