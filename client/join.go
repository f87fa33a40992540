package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"

	"github.com/humstack/humstack/api"
)

// CreateJoinToken asks the server for a join token (see api.JoinTokenRequest).
func (c *Client) CreateJoinToken(ctx context.Context, req api.JoinTokenRequest) (api.JoinTokenInfo, error) {
	var out api.JoinTokenInfo
	err := c.call(ctx, "/api/v0/jointokens", req, "joinToken", &out)
	return out, err
}

// Join sends node's CSR with a join token (or, when token is empty, over a
// connection presenting the node's current certificate) and returns the
// node's certificate and the cluster CA.
func (c *Client) Join(ctx context.Context, node, token string, csrPEM []byte) (api.NodeCredential, error) {
	var out api.NodeCredential
	p := "/api/v0/nodes/" + url.PathEscape(node) + "/join"
	err := c.call(ctx, p, api.JoinRequest{Token: token, CSR: string(csrPEM)}, "nodeCredential", &out)
	return out, err
}

// call POSTs body to path and decodes data[key] into out.
func (c *Client) call(ctx context.Context, path string, body any, key string, out any) error {
	env, err := c.do(ctx, http.MethodPost, path, body)
	if err != nil {
		return err
	}
	raw, ok := env.Data[key]
	if !ok {
		return fmt.Errorf("POST %s: response has no %q", path, key)
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("POST %s: decode %s: %w", path, key, err)
	}
	return nil
}
