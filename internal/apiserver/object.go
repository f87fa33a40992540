package apiserver

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/registry"
	"github.com/humstack/humstack/internal/storage"
)

// resource serves one kind.
type resource struct {
	s    *Server
	kind *api.Kind
}

func (h *resource) strategy() registry.Strategy { return registry.For(h.kind) }

// decodeBody strictly decodes a JSON (or YAML) request body into the kind.
func (h *resource) decodeBody(r *http.Request) (api.Object, error) {
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, api.MaxObjectSize))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, api.Invalid("(body)", "larger than %d bytes", api.MaxObjectSize)
		}
		return nil, api.Invalid("(body)", "unreadable: %v", err)
	}
	obj := h.kind.New()
	decode := api.DecodeInto
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "application/yaml" || mt == "text/yaml" {
		decode = api.DecodeYAMLInto
	}
	if err := decode(body, obj); err != nil {
		return nil, err
	}
	m := obj.GetMeta()
	if m.APIType == "" {
		m.APIType = h.kind.APIType
	}
	if m.APIType != h.kind.APIType {
		return nil, api.Invalid("meta.apiType", "%q does not match this %s endpoint", m.APIType, h.kind.APIType)
	}
	return obj, nil
}

// bindScope fills the object's group, namespace and id from the path, and
// rejects a body that names another.
func (h *resource) bindScope(m *api.Meta, sc scope, id string) error {
	var fe api.FieldErrors
	bind := func(field string, v *string, path string) {
		switch {
		case *v == "":
			*v = path
		case *v != path:
			fe.Add(field, "%q does not match %q in the request path", *v, path)
		}
	}
	if h.kind.Scope >= api.ScopeGroup {
		bind("meta.group", &m.Group, sc.group)
	}
	if h.kind.Scope == api.ScopeNamespace {
		bind("meta.namespace", &m.Namespace, sc.namespace)
	}
	if id != "" {
		bind("meta.id", &m.ID, id)
	}
	return fe.Err()
}

// target reads the scope and id of an object path.
func (h *resource) target(r *http.Request) (*api.Meta, error) {
	sc, err := scopeOf(r)
	if err != nil {
		return nil, err
	}
	id, err := pathID(r)
	if err != nil {
		return nil, err
	}
	return &api.Meta{ID: id, Group: sc.group, Namespace: sc.namespace}, nil
}

// read returns the stored object at m's key, decoded, with its KV.
func (h *resource) read(ctx context.Context, m *api.Meta) (api.Object, storage.KV, error) {
	kv, err := h.s.store.Get(ctx, objectKey(h.kind, m))
	if errors.Is(err, api.ErrNotFound) {
		return nil, kv, fmt.Errorf("%s not found: %w", objectName(h.kind, m), api.ErrNotFound)
	}
	if err != nil {
		return nil, kv, err
	}
	obj := h.kind.New()
	if err := json.Unmarshal(kv.Value, obj); err != nil {
		return nil, kv, fmt.Errorf("decode stored %s: %w", objectName(h.kind, m), err)
	}
	obj.GetMeta().ResourceVersion = api.FormatRevision(kv.ModRevision)
	return obj, kv, nil
}

// validate defaults and validates an object about to be written.
func (h *resource) validate(obj api.Object, old api.Object) error {
	st := h.strategy()
	st.Default(obj)
	fe := st.Validate(obj)
	if old != nil && len(fe) == 0 {
		fe = st.ValidateUpdate(old, obj)
	}
	return fe.Err()
}

// checkParent fails unless the group or namespace holding m exists and is
// not being deleted.
func (h *resource) checkParent(ctx context.Context, m *api.Meta) error {
	key, name := parentKey(h.kind, m)
	if key == "" {
		return nil
	}
	kv, err := h.s.store.Get(ctx, key)
	if errors.Is(err, api.ErrNotFound) {
		return fmt.Errorf("%s not found: %w", name, api.ErrNotFound)
	}
	if err != nil {
		return err
	}
	var parent struct{ Meta api.Meta }
	if err := json.Unmarshal(kv.Value, &parent); err != nil {
		return fmt.Errorf("decode stored %s: %w", name, err)
	}
	if parent.Meta.Deleting() {
		return fmt.Errorf("%s is being deleted: %w", name, api.ErrForbidden)
	}
	return nil
}

// commit writes next over the stored cur (compare-and-swap on cur's
// revision) and answers. An object marked for deletion whose finalizers are
// all gone is removed instead; an unchanged object is not written at all,
// so controllers re-asserting state cause no watch events.
func (h *resource) commit(ctx context.Context, w http.ResponseWriter, cur storage.KV, next api.Object) error {
	m := next.GetMeta()
	key := objectKey(h.kind, m)
	if m.Deleting() && len(m.Finalizers) == 0 {
		return h.remove(ctx, w, cur, next)
	}
	m.ResourceVersion = ""
	if len(m.Finalizers) == 0 {
		m.Finalizers = nil // stored canonically
	}
	data, err := api.Encode(next)
	if err != nil {
		return err
	}
	rev := cur.ModRevision
	if !bytes.Equal(data, cur.Value) {
		old, undo, err := h.admitUpdate(ctx, cur, next)
		if err != nil {
			return err
		}
		if old != nil {
			// Admission may have assigned addresses (ipam.go).
			if data, err = api.Encode(next); err != nil {
				undo()
				return err
			}
		}
		if rev, err = h.s.store.Update(ctx, key, data, cur.ModRevision); err != nil {
			undo()
			return h.writeErr(m, err)
		}
		if old != nil {
			h.s.committed(ctx, h.kind, old, next)
		}
	}
	return h.reply(w, http.StatusOK, data, rev)
}

// admitUpdate runs admission for an update from the stored cur to next,
// and returns the stored object it decoded (nil for kinds no admitter
// watches).
func (h *resource) admitUpdate(ctx context.Context, cur storage.KV, next api.Object) (api.Object, func(), error) {
	if !h.s.admits(h.kind) {
		return nil, func() {}, nil
	}
	old, err := decodeStored(h.kind, cur.Value)
	if err != nil {
		return nil, nil, err
	}
	undo, err := h.s.admit(ctx, h.kind, old, next)
	return old, undo, err
}

// remove deletes the object at cur's revision and answers with its last
// state, marked Done.
func (h *resource) remove(ctx context.Context, w http.ResponseWriter, cur storage.KV, last api.Object) error {
	m := last.GetMeta()
	// A group's or namespace's events go with it (eventscope.go).
	rev, err := h.s.deleteScope(ctx, h.kind, m, func() (int64, error) {
		return h.s.store.Delete(ctx, objectKey(h.kind, m), cur.ModRevision)
	})
	if err != nil {
		return h.writeErr(m, err)
	}
	h.s.released(ctx, h.kind, h.storedForRelease(cur, last))
	m.DeleteState = api.DeleteStateDone
	m.ResourceVersion = ""
	data, err := api.Encode(last)
	if err != nil {
		return err
	}
	return h.reply(w, http.StatusOK, data, rev)
}

// writeErr names the object in store errors.
func (h *resource) writeErr(m *api.Meta, err error) error {
	switch {
	case errors.Is(err, api.ErrConflict):
		return fmt.Errorf("%s was modified concurrently; read it again: %w", objectName(h.kind, m), api.ErrConflict)
	case errors.Is(err, api.ErrNotFound):
		return fmt.Errorf("%s not found: %w", objectName(h.kind, m), api.ErrNotFound)
	case errors.Is(err, api.ErrAlreadyExists):
		return fmt.Errorf("%s already exists: %w", objectName(h.kind, m), api.ErrAlreadyExists)
	}
	return err
}

func (h *resource) reply(w http.ResponseWriter, status int, stored []byte, rev int64) error {
	return writeObject(w, status, h.kind, func(dst []byte) ([]byte, error) {
		return h.appendItem(dst, storage.KV{Value: stored, ModRevision: rev})
	})
}

// render is the one way an object leaves the server, alone, in a list or
// in a watch event: with its resourceVersion, and without what its
// strategy keeps from clients (registry.OutputRedactor). Kinds without a
// redactor are passed on as stored, without decoding.
func (h *resource) render(stored []byte, rev int64) ([]byte, error) {
	if red, ok := h.strategy().(registry.OutputRedactor); ok {
		obj := h.kind.New()
		if err := json.Unmarshal(stored, obj); err != nil {
			return nil, fmt.Errorf("decode stored %s: %w", h.kind.Name, err)
		}
		red.RedactForOutput(obj)
		var err error
		if stored, err = api.Encode(obj); err != nil {
			return nil, err
		}
	}
	return api.InjectResourceVersion(stored, rev)
}

func newUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40 // version 4
	b[8] = b[8]&0x3f | 0x80 // RFC 4122 variant
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func now() *time.Time {
	t := time.Now().UTC() // full precision: it orders creations (first claim of an address wins)
	return &t
}
