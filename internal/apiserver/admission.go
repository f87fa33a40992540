package apiserver

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/humstack/humstack/api"
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
