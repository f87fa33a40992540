package apiserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/audit"
	"github.com/humstack/humstack/internal/registry"
	"github.com/humstack/humstack/internal/storage"
)

// maxRetries bounds the re-read-and-merge loop of writes that carry no
// resourceVersion and lose a race with another writer.
const maxRetries = 8

// handle adapts a handler that returns an error to http.HandlerFunc, so
// every failure goes through writeError.
func (h *resource) handle(fn func(w http.ResponseWriter, r *http.Request) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := fn(w, r); err != nil {
			writeError(r.Context(), w, h.s.log, err)
		}
	}
}

func (h *resource) list(w http.ResponseWriter, r *http.Request) {
	h.handle(h.doList)(w, r)
}

func (h *resource) doList(w http.ResponseWriter, r *http.Request) error {
	sc, err := scopeOf(r)
	if err != nil {
		return err
	}
	if q := r.URL.Query().Get("watch"); q == "true" || q == "1" {
		return h.watch(w, r, sc)
	}
	prefix := collectionPrefix(h.kind, sc)
	q, err := parseListQuery(r, prefix)
	if err != nil {
		return err
	}
	return h.streamList(w, r, prefix, q) // liststream.go
}

func (h *resource) get(w http.ResponseWriter, r *http.Request) {
	h.handle(func(w http.ResponseWriter, r *http.Request) error {
		m, err := h.target(r)
		if err != nil {
			return err
		}
		kv, err := h.s.store.Get(r.Context(), objectKey(h.kind, m))
		if err != nil {
			return h.writeErr(m, err)
		}
		return h.reply(w, http.StatusOK, kv.Value, kv.ModRevision)
	})(w, r)
}

func (h *resource) create(w http.ResponseWriter, r *http.Request) {
	h.handle(func(w http.ResponseWriter, r *http.Request) error {
		sc, err := scopeOf(r)
		if err != nil {
			return err
		}
		obj, err := h.decodeBody(r)
		if err != nil {
			return err
		}
		return h.createIn(w, r, sc, obj)
	})(w, r)
}

// createIn creates obj, decoded from r's body, in scope sc.
func (h *resource) createIn(w http.ResponseWriter, r *http.Request, sc scope, obj api.Object) (err error) {
	// Admission's ledger writes are deferred and end with the object's
	// write (storage.DeferSync): one commit for all of them.
	r = r.WithContext(storage.WithSequence(r.Context()))
	m := obj.GetMeta()
	if err := h.bindScope(m, sc, ""); err != nil {
		return err
	}
	audit.SetObject(r.Context(), m.Group, m.Namespace, m.ID)
	if m.Deleting() {
		return api.Invalid("meta.deleteState", "cannot create an object marked %s", m.DeleteState)
	}
	// Server-set fields; status belongs to agents and starts empty.
	m.ResourceVersion, m.UID, m.CreationTimestamp, m.DeletionTimestamp = "", newUID(), now(), nil
	m.Generation = 1
	obj.SetStatusFrom(h.kind.New())
	h.s.settleNode(h.kind, obj, nil)
	if p, ok := h.strategy().(registry.CreatePreparer); ok {
		p.PrepareForCreate(obj)
	}
	if len(m.Finalizers) == 0 {
		m.Finalizers = nil
	}
	issuer, _ := h.strategy().(registry.SecretIssuer)
	var secret string
	if issuer != nil {
		if secret, err = issuer.IssueSecret(obj); err != nil {
			return err
		}
	}
	if err := h.validate(obj, nil); err != nil {
		return err
	}
	if err := h.checkParent(r.Context(), m); err != nil {
		return err
	}
	var linkKey []byte // a console link's answer carries its token
	if h.kind == api.ConsoleLinkKind {
		var err error
		if linkKey, err = h.s.links.Source.ConsoleLinkKey(r.Context()); err != nil {
			return err
		}
	}
	if err := h.checkAbsent(r.Context(), m); err != nil {
		return err
	}
	undo, err := h.s.admit(r.Context(), h.kind, nil, obj)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			undo()
		}
	}()
	// Encoded after admission: it may assign addresses (ipam.go).
	data, err := api.Encode(obj)
	if err != nil {
		return err
	}
	create := func() (int64, error) { return h.s.store.Create(r.Context(), objectKey(h.kind, m), data) }
	var rev int64
	if h.kind == api.EventKind {
		rev, err = h.s.createEvent(r.Context(), obj.(*api.Event), create) // eventscope.go
	} else {
		rev, err = create()
	}
	var se *scopeError
	if errors.As(err, &se) {
		return err
	}
	if err != nil {
		return h.writeErr(m, err)
	}
	if h.kind == api.NodeKind {
		h.s.repair.kick(m.ID) // what waited for this node may now be accounted
	}
	if linkKey != nil {
		if data, err = withLinkToken(linkKey, obj); err != nil {
			return err
		}
	}
	if issuer != nil {
		// Shown once, in this answer; the store holds only its hash.
		issuer.RevealSecret(obj, secret)
		if data, err = api.Encode(obj); err != nil {
			return err
		}
	}
	return h.reply(w, http.StatusCreated, data, rev)
}

// update replaces meta and spec; status and server-set fields are kept.
func (h *resource) update(w http.ResponseWriter, r *http.Request) {
	h.handle(func(w http.ResponseWriter, r *http.Request) error {
		r = r.WithContext(storage.WithSequence(r.Context())) // as in createIn
		body, want, err := h.decodeTarget(r)
		if err != nil {
			return err
		}
		keepFinalizers := body.GetMeta().Finalizers == nil
		// Each attempt starts from the request as written: an attempt
		// that lost the store write leaves assigned and carried
		// addresses in its object, which the next attempt would take
		// for the user's.
		raw, err := json.Marshal(body)
		if err != nil {
			return err
		}
		return h.retry(r.Context(), body.GetMeta(), want, func(cur api.Object, kv storage.KV) error {
			obj := h.kind.New()
			if err := json.Unmarshal(raw, obj); err != nil {
				return err
			}
			mergeUpdate(obj, cur, keepFinalizers)
			if err := h.s.guardNodeNetwork(r.Context(), h.kind, cur, obj, false); err != nil {
				return err
			}
			keepAddresses(obj, cur)
			h.s.settleNode(h.kind, obj, reservationsOf(cur))
			if err := h.validate(obj, cur); err != nil {
				return err
			}
			if err := setGeneration(obj, cur); err != nil {
				return err
			}
			registered := nodeSpecChanged(h.kind, cur, obj)
			if err := h.commit(withSpecWrite(r.Context()), w, kv, obj); err != nil {
				return err
			}
			if registered {
				h.s.repair.kick(obj.GetMeta().ID)
			}
			return nil
		})
	})(w, r)
}

// updateStatus replaces status only: what agents write.
func (h *resource) updateStatus(w http.ResponseWriter, r *http.Request) {
	h.handle(func(w http.ResponseWriter, r *http.Request) error {
		obj, want, err := h.decodeTarget(r)
		if err != nil {
			return err
		}
		return h.retry(r.Context(), obj.GetMeta(), want, func(cur api.Object, kv storage.KV) error {
			ledger := reservationsOf(cur)
			if err := h.s.guardNodeNetwork(r.Context(), h.kind, cur, obj, true); err != nil {
				return err
			}
			cur.SetStatusFrom(obj)
			h.s.settleNode(h.kind, cur, ledger)
			if err := h.validate(cur, nil); err != nil {
				return err
			}
			return h.commit(r.Context(), w, kv, cur)
		})
	})(w, r)
}

// delete removes an object without finalizers at once, and otherwise marks
// it for deletion (202) and leaves the rest to the finalizers' owners.
// ?force=true removes it regardless, for objects whose owner is gone.
func (h *resource) delete(w http.ResponseWriter, r *http.Request) {
	h.handle(func(w http.ResponseWriter, r *http.Request) error {
		m, err := h.target(r)
		if err != nil {
			return err
		}
		force := r.URL.Query().Get("force") == "true"
		return h.retry(r.Context(), m, 0, func(cur api.Object, kv storage.KV) error {
			cm := cur.GetMeta()
			if force && len(cm.Finalizers) > 0 {
				h.s.log.WarnContext(r.Context(), "force-deleting object with finalizers",
					"request_id", requestID(r.Context()), "object", objectName(h.kind, cm), "finalizers", cm.Finalizers)
			}
			if force || len(cm.Finalizers) == 0 {
				return h.remove(r.Context(), w, kv, cur)
			}
			if cm.Deleting() {
				return h.reply(w, http.StatusAccepted, kv.Value, kv.ModRevision)
			}
			cm.DeleteState, cm.DeletionTimestamp = api.DeleteStateDelete, now()
			cm.ResourceVersion = ""
			data, err := api.Encode(cur)
			if err != nil {
				return err
			}
			rev, err := h.s.store.Update(r.Context(), objectKey(h.kind, cm), data, kv.ModRevision)
			if err != nil {
				return h.writeErr(cm, err)
			}
			return h.reply(w, http.StatusAccepted, data, rev)
		})
	})(w, r)
}

// decodeTarget decodes the body of a PUT to an object path, binds it to the
// path and returns the resourceVersion it expects (0: none).
func (h *resource) decodeTarget(r *http.Request) (api.Object, int64, error) {
	m, err := h.target(r)
	if err != nil {
		return nil, 0, err
	}
	obj, err := h.decodeBody(r)
	if err != nil {
		return nil, 0, err
	}
	if err := h.bindScope(obj.GetMeta(), scope{m.Group, m.Namespace}, m.ID); err != nil {
		return nil, 0, err
	}
	want, err := api.ParseRevision(obj.GetMeta().ResourceVersion)
	return obj, want, err
}

// retry runs fn against the current stored object. A write that expected a
// specific revision fails on conflict; one that did not re-reads and merges
// again, so it never overwrites a change it has not seen.
func (h *resource) retry(ctx context.Context, m *api.Meta, want int64, fn func(api.Object, storage.KV) error) error {
	for attempt := 0; ; attempt++ {
		cur, kv, err := h.read(ctx, m)
		if err != nil {
			return err
		}
		if want != 0 && kv.ModRevision != want {
			return fmt.Errorf("%s has resourceVersion %d, not %d; read it again: %w",
				objectName(h.kind, m), kv.ModRevision, want, api.ErrConflict)
		}
		err = fn(cur, kv)
		// ErrHeld: another object's address; reading again changes nothing.
		if want == 0 && attempt < maxRetries && errors.Is(err, api.ErrConflict) && !errors.Is(err, api.ErrHeld) {
			continue
		}
		return err
	}
}

// mergeUpdate carries what a user update may not change from the stored
// object cur into obj: status, server-set fields, a pending deletion, and the
// finalizers when the update left them out.
func mergeUpdate(obj, cur api.Object, keepFinalizers bool) {
	m, cm := obj.GetMeta(), cur.GetMeta()
	obj.SetStatusFrom(cur)
	m.UID, m.CreationTimestamp, m.DeletionTimestamp = cm.UID, cm.CreationTimestamp, cm.DeletionTimestamp
	if keepFinalizers {
		m.Finalizers = cm.Finalizers
	}
	switch {
	case cm.Deleting():
		m.DeleteState = cm.DeleteState // a deletion cannot be taken back
	case m.Deleting():
		m.DeleteState, m.DeletionTimestamp = api.DeleteStateDelete, now()
	default:
		m.DeleteState = ""
	}
}
