package client

import (
	"context"
	"net/http"

	"github.com/humstack/humstack/api"
)

// ImageEntityUsers lists the disks ("namespace/id") of group that are
// overlays of image entity id, on any node: what the agent holding the
// entity must wait for before it deletes the entity's file.
func (c *Client) ImageEntityUsers(ctx context.Context, group, id string) ([]string, error) {
	p, err := objectPath(api.ImageEntityKind, Scope{Group: group}, id)
	if err != nil {
		return nil, err
	}
	var users []string
	err = c.callMethod(ctx, http.MethodGet, p+"/users", nil, "users", &users)
	return users, err
}
