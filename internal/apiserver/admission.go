package apiserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/storage"
)

// An admitter takes from a ledger kept outside the object being written
// (a node's capacity, a quota) what the write needs, before the write; the
// handlers give it back when the write fails, and when the object leaves
// the store. Ledgers are objects the API server alone writes, under
// compare-and-swap, so concurrent writes (from any number of API servers)
// can never take the same room twice.
type admitter interface {
	// watches says whether writes of kind k concern the admitter at all.
	watches(k *api.Kind) bool
	// admit reserves what obj needs, given old (nil on create). The
	// returned undo (never nil) gives the reservation back; the handler
	// calls it when its own write fails. An error refuses the write.
	admit(ctx context.Context, k *api.Kind, old, obj api.Object) (undo func(), err error)
	// release gives back what obj held; obj has just been removed.
	release(ctx context.Context, k *api.Kind, obj api.Object)
}

// A committer is an admitter that gives back, once an update is stored,
// what the update freed (a shrunk request). Admission never lowers a
// reservation before the write: lowered, then put back by an undo after
// another write took the room it freed, it would overcommit.
type committer interface {
	committed(ctx context.Context, k *api.Kind, old, obj api.Object)
}

// committed tells every committer of kind k that the update from old to
// obj is stored.
func (s *Server) committed(ctx context.Context, k *api.Kind, old, obj api.Object) {
	for _, a := range s.admitters {
		if c, ok := a.(committer); ok && a.watches(k) {
			c.committed(ctx, k, old, obj)
		}
	}
}

// admit runs every admitter of kind k in order; if one refuses, those
// before it are undone.
func (s *Server) admit(ctx context.Context, k *api.Kind, old, obj api.Object) (undo func(), err error) {
	var undos []func()
	undoAll := func() {
		for i := len(undos) - 1; i >= 0; i-- {
			undos[i]()
		}
	}
	for _, a := range s.admitters {
		if !a.watches(k) {
			continue
		}
		u, err := a.admit(ctx, k, old, obj)
		if err != nil {
			undoAll()
			return func() {}, err
		}
		undos = append(undos, u)
	}
	return undoAll, nil
}

// released tells every admitter of kind k that obj is gone.
func (s *Server) released(ctx context.Context, k *api.Kind, obj api.Object) {
	for _, a := range s.admitters {
		if a.watches(k) {
			a.release(ctx, k, obj)
		}
	}
}

// admits says whether any admitter watches kind k.
func (s *Server) admits(k *api.Kind) bool {
	for _, a := range s.admitters {
		if a.watches(k) {
			return true
		}
	}
	return false
}

// decodeStored decodes a stored object of kind k.
func decodeStored(k *api.Kind, data []byte) (api.Object, error) {
	obj := k.New()
	if err := json.Unmarshal(data, obj); err != nil {
		return nil, fmt.Errorf("decode stored %s: %w", k.Name, err)
	}
	return obj, nil
}

// checkAbsent answers a create of a name that exists with 409 before
// admission: it would otherwise take room in a node's ledger or a quota
// for a moment, and answer 403 when either is full.
func (h *resource) checkAbsent(ctx context.Context, m *api.Meta) error {
	if !h.s.admits(h.kind) {
		return nil
	}
	_, err := h.s.store.Get(ctx, objectKey(h.kind, m))
	switch {
	case err == nil:
		return h.writeErr(m, api.ErrAlreadyExists)
	case errors.Is(err, api.ErrNotFound):
		return nil
	}
	return err
}

// storedForRelease is what the admitters release when an object leaves
// the store: the stored object (cur), not the last write's body, which may
// name other nodes.
func (h *resource) storedForRelease(cur storage.KV, last api.Object) api.Object {
	if !h.s.admits(h.kind) {
		return last
	}
	if o, err := decodeStored(h.kind, cur.Value); err == nil {
		return o
	}
	return last
}
