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

// ListJoinTokens lists the join tokens the server keeps: valid ones, and
// for a while those that expired, were used up or revoked.
func (c *Client) ListJoinTokens(ctx context.Context) ([]api.JoinTokenRecord, error) {
	var out []api.JoinTokenRecord
	err := c.callMethod(ctx, http.MethodGet, "/api/v0/jointokens", nil, "joinTokens", &out)
	return out, err
}

// RevokeJoinToken makes the join token id admit no more nodes and returns
// its record; an unknown id is api.ErrNotFound.
func (c *Client) RevokeJoinToken(ctx context.Context, id string) (api.JoinTokenRecord, error) {
	var out api.JoinTokenRecord
	err := c.callMethod(ctx, http.MethodDelete, "/api/v0/jointokens/"+url.PathEscape(id), nil, "joinToken", &out)
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

// ClusterInfo asks for the cluster info of join token id: the cluster CA
// and its MAC with the token's hash (pki.VerifyClusterInfo checks it). It
// is public, and meant for a client built without verifying the server
// (the agent's first contact): it sends the token's id, never its secret.
func (c *Client) ClusterInfo(ctx context.Context, id string) (api.ClusterInfo, error) {
	var out api.ClusterInfo
	p := "/api/v0/jointokens/" + url.PathEscape(id) + "/cluster-info"
	err := c.callMethod(ctx, http.MethodGet, p, nil, "clusterInfo", &out)
	return out, err
}

// call POSTs body to path and decodes data[key] into out.
func (c *Client) call(ctx context.Context, path string, body any, key string, out any) error {
	return c.callMethod(ctx, http.MethodPost, path, body, key, out)
}

// callMethod sends body (nil: none) to path and decodes data[key] into out.
func (c *Client) callMethod(ctx context.Context, method, path string, body any, key string, out any) error {
	env, err := c.do(ctx, method, path, body)
	if err != nil {
		return err
	}
	raw, ok := env.Data[key]
	if !ok {
		return fmt.Errorf("%s %s: response has no %q", method, path, key)
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("%s %s: decode %s: %w", method, path, key, err)
	}
	return nil
}
