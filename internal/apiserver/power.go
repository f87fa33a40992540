package apiserver

import (
	"errors"
	"io"
	"net/http"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/storage"
)

// powerRequest is the body of PUT .../virtualmachines/{id}/power.
type powerRequest struct {
	ActionState string `json:"actionState"`
}

// powerRoute registers the power subresource: it sets a VM's
// spec.actionState and nothing else, so a role can allow power without
// update (the operator role). A normal update that changes actionState
// needs update rights like any other change.
func (s *Server) powerRoute() {
	k := api.VirtualMachineKind
	h := &resource{s: s, kind: k}
	s.handle(k, "PUT /api/v0/groups/{group}/namespaces/{namespace}/{kind}/{id}/power", h.handle(h.power))
}

func (h *resource) power(w http.ResponseWriter, r *http.Request) error {
	m, err := h.target(r)
	if err != nil {
		return err
	}
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, 4096))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return api.Invalid("(body)", "larger than 4096 bytes")
		}
		return api.Invalid("(body)", "unreadable: %v", err)
	}
	var req powerRequest
	if err := api.DecodeInto(body, &req); err != nil {
		return err
	}
	if req.ActionState != api.ActionPowerOn && req.ActionState != api.ActionPowerOff {
		return api.Invalid("actionState", "%q is not %s or %s", req.ActionState, api.ActionPowerOn, api.ActionPowerOff)
	}
	return h.retry(r.Context(), m, 0, func(cur api.Object, kv storage.KV) error {
		old := h.kind.New()
		*old.(*api.VirtualMachine) = *cur.(*api.VirtualMachine)
		cur.(*api.VirtualMachine).Spec.ActionState = req.ActionState
		if err := h.validate(cur, old); err != nil {
			return err
		}
		if err := setGeneration(cur, old); err != nil {
			return err
		}
		return h.commit(r.Context(), w, kv, cur)
	})
}
