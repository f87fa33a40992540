package client

import (
	"context"
	"net/http"

	"github.com/humstack/humstack/api"
)

// SnapshotUsers lists what holds snapshot namespace/id of group, on any
// node: the disks that are overlays of its files ("blockstorage ns/id")
// and the image entities being made from it ("imageentity id"). The node
// holding the snapshot waits for none to be left before it deletes the
// files.
func (c *Client) SnapshotUsers(ctx context.Context, group, namespace, id string) ([]string, error) {
	p, err := objectPath(api.SnapshotKind, Scope{Group: group, Namespace: namespace}, id)
	if err != nil {
		return nil, err
	}
	var users []string
	err = c.callMethod(ctx, http.MethodGet, p+"/users", nil, "users", &users)
	return users, err
}
