package client

import "net/http"

// WithBearerToken makes every request (REST, watch, console) present token
// as "Authorization: Bearer <token>". humcli fills it from --token or the
// context's token.
func WithBearerToken(token string) Option { return func(c *Client) { c.token = token } }

// authorize adds the client's credentials to a request.
func (c *Client) authorize(h http.Header) {
	if c.token != "" {
		h.Set("Authorization", "Bearer "+c.token)
	}
}
