package apiserver

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"

	"github.com/humstack/humstack/api"
)

// entityUsersRoute registers GET .../imageentities/{id}/users: the disks
// of the entity's group (any node, any namespace) that are overlays of it,
// as "namespace/id". The node holding an entity must not delete its file
// while such a disk exists, but may not read disks placed on other nodes
// (a stolen node credential must not reveal them): the server answers
// this one question instead, with names only. It asks for the verb status
// on the entity, what the entity's own agent has and readers do not.
func (s *Server) entityUsersRoute() {
	k := api.ImageEntityKind
	h := &resource{s: s, kind: k}
	s.handle(k, "GET /api/v0/groups/{group}/{kind}/{id}/users", h.handle(h.entityUsers))
}

func (h *resource) entityUsers(w http.ResponseWriter, r *http.Request) error {
	m, err := h.target(r)
	if err != nil {
		return err
	}
	if _, _, err := h.read(r.Context(), m); err != nil {
		return err
	}
	users, err := entityUsers(r, h.s, m)
	if err != nil {
		return err
	}
	return writeData(w, http.StatusOK, "users", users)
}

// entityUsers lists the group's disks whose status names entity m.
func entityUsers(r *http.Request, s *Server, m *api.Meta) ([]string, error) {
	kvs, _, err := s.store.List(r.Context(), collectionPrefix(api.BlockStorageKind, scope{group: m.Group}))
	if err != nil {
		return nil, err
	}
	users := []string{}
	for _, kv := range kvs {
		var bs api.BlockStorage
		if err := json.Unmarshal(kv.Value, &bs); err != nil {
			return nil, fmt.Errorf("stored %s: %w", kv.Key, err)
		}
		if bs.Status.ImageEntity == m.ID {
			users = append(users, bs.Meta.Namespace+"/"+bs.Meta.ID)
		}
	}
	slices.Sort(users)
	return users, nil
}
