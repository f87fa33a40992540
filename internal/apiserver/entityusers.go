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
	sk := api.SnapshotKind
	sh := &resource{s: s, kind: sk}
	s.handle(sk, "GET /api/v0/groups/{group}/namespaces/{namespace}/{kind}/{id}/users", sh.handle(sh.snapshotUsers))
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

// entityUsers lists the group's disks whose status names entity m, and
// the snapshots whose disk files are overlays of it ("snapshot ns/id").
func entityUsers(r *http.Request, s *Server, m *api.Meta) ([]string, error) {
	users, err := listUsers(r, s, api.BlockStorageKind, m.Group, func(bs *api.BlockStorage) bool {
		return bs.Status.ImageEntity == m.ID
	}, func(bs *api.BlockStorage) string { return bs.Meta.Namespace + "/" + bs.Meta.ID })
	if err != nil {
		return nil, err
	}
	snaps, err := listUsers(r, s, api.SnapshotKind, m.Group, func(sn *api.Snapshot) bool {
		return slices.ContainsFunc(sn.Status.Disks, func(f api.SnapshotFile) bool { return f.ImageEntity == m.Group+"/"+m.ID })
	}, func(sn *api.Snapshot) string { return "snapshot " + sn.Meta.Namespace + "/" + sn.Meta.ID })
	return append(users, snaps...), err
}

// snapshotUsersRoute's handler: what holds snapshot m up (the disks that
// are overlays of its files, the image entities being made from it), for
// the node that holds it (status rights), as names only.
func (h *resource) snapshotUsers(w http.ResponseWriter, r *http.Request) error {
	m, err := h.target(r)
	if err != nil {
		return err
	}
	if _, _, err := h.read(r.Context(), m); err != nil {
		return err
	}
	ref := m.Namespace + "/" + m.ID
	users, err := listUsers(r, h.s, api.BlockStorageKind, m.Group, func(bs *api.BlockStorage) bool {
		return bs.Status.Snapshot == ref
	}, func(bs *api.BlockStorage) string { return "blockstorage " + bs.Meta.Namespace + "/" + bs.Meta.ID })
	if err != nil {
		return err
	}
	ents, err := listUsers(r, h.s, api.ImageEntityKind, m.Group, func(e *api.ImageEntity) bool {
		src := e.Spec.Source
		return src.SnapshotID == m.ID && src.Namespace == m.Namespace && e.Status.State != "Available" && e.Status.State != "Error"
	}, func(e *api.ImageEntity) string { return "imageentity " + e.Meta.ID })
	if err != nil {
		return err
	}
	return writeData(w, http.StatusOK, "users", append(users, ents...))
}

// listUsers lists, sorted, name(o) for every object o of kind k in group
// for which match holds.
func listUsers[T api.Object](r *http.Request, s *Server, k *api.Kind, group string, match func(T) bool, name func(T) string) ([]string, error) {
	kvs, _, err := s.store.List(r.Context(), collectionPrefix(k, scope{group: group}))
	if err != nil {
		return nil, err
	}
	users := []string{}
	for _, kv := range kvs {
		o := k.New()
		if err := json.Unmarshal(kv.Value, o); err != nil {
			return nil, fmt.Errorf("stored %s: %w", kv.Key, err)
		}
		if t := o.(T); match(t) {
			users = append(users, name(t))
		}
	}
	slices.Sort(users)
	return users, nil
}
