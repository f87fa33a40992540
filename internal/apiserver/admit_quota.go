package apiserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/placement"
	"github.com/humstack/humstack/internal/storage"
)

// quotaAdmitter enforces quotas (api.Quota) at admission. Each quota's
// status holds a ledger of the objects it counts (quota_ledger.go); a
// create reserves its entry in every quota covering it before the object
// is stored, with a compare-and-swap update of the quota object, so that
// any number of concurrent creates, through any number of API servers,
// can never take the same room twice. The handler undoes the reservation
// when its own write fails; the entry goes when the object leaves the
// store. What an API server that dies in between leaves behind is put
// right by the repair (quota_repair.go).
type quotaAdmitter struct {
	store storage.Store
	log   *slog.Logger
	now   func() time.Time
	// grace is how long an entry may disagree with the store before the
	// repair corrects it: longer than any create takes.
	grace time.Duration
	// attempts bounds the compare-and-swap retries of one change.
	attempts int
}

func newQuotaAdmitter(store storage.Store, log *slog.Logger) *quotaAdmitter {
	return &quotaAdmitter{store: store, log: log, now: time.Now, grace: 2 * time.Minute, attempts: 200}
}

// quotaRefusal is a quota's 403: its message is the whole answer.
type quotaRefusal struct{ msg string }

func (e *quotaRefusal) Error() string { return e.msg }
func (e *quotaRefusal) Unwrap() error { return api.ErrForbidden }

// errQuotaGone: the quota was deleted meanwhile; it limits nothing.
var errQuotaGone = errors.New("quota gone")

func (a *quotaAdmitter) watches(k *api.Kind) bool { return countIndex(k) >= 0 }

// admit reserves obj's entry (create) or its change of requests (update)
// in every quota that covers it; all must admit.
func (a *quotaAdmitter) admit(ctx context.Context, k *api.Kind, old, obj api.Object) (func(), error) {
	m := obj.GetMeta()
	var delta quotaUsage
	if old == nil {
		delta = need(k, obj)
	} else if delta.amounts = grown(placement.Request(old), placement.Request(obj)); delta.amounts == (api.Amounts{}) {
		// Status writes and most updates: nothing grows. What shrinks is
		// given back once the update is stored (committed).
		return func() {}, nil
	}
	keys, err := a.covering(ctx, m)
	if err != nil || len(keys) == 0 {
		return func() {}, err
	}
	var undos []func()
	undo := func() {
		for i := len(undos) - 1; i >= 0; i-- {
			undos[i]()
		}
	}
	ek := entryKey(k, m)
	for _, qk := range keys {
		// The object follows the reservation (storage.DeferSync).
		err := a.change(storage.DeferSync(ctx), qk, nil, func(q *api.Quota) (bool, error) {
			return reserve(q, ek, obj, delta, old == nil, a.now())
		})
		if errors.Is(err, errQuotaGone) {
			continue
		}
		if err != nil {
			undo()
			return func() {}, err
		}
		undos = append(undos, a.undoer(qk, ek, delta, old == nil))
	}
	return undo, nil
}

// grown is what grew from a to b, per resource (0 where it shrank).
func grown(a, b api.Amounts) api.Amounts {
	d := placement.Sub(b, a)
	return api.Amounts{MilliCPU: max(d.MilliCPU, 0), Memory: max(d.Memory, 0), Storage: max(d.Storage, 0)}
}

// committed implements committer: what an update shrank is given back
// now that it is stored (taken back earlier, an undo after another create
// used the room would put the quota over its hard limits).
func (a *quotaAdmitter) committed(ctx context.Context, k *api.Kind, old, obj api.Object) {
	shrunk := grown(placement.Request(obj), placement.Request(old))
	if shrunk == (api.Amounts{}) {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	keys, err := a.covering(ctx, obj.GetMeta())
	if err != nil {
		a.log.Warn("quota shrink failed; the repair will correct it", "error", err)
		return
	}
	ek := entryKey(k, obj.GetMeta())
	for _, qk := range keys {
		err := a.change(ctx, qk, nil, func(q *api.Quota) (bool, error) {
			e, ok := q.Status.Entries[ek]
			if !ok {
				return false, nil
			}
			q.Status.Entries[ek] = api.NewQuotaEntry(placement.Sub(e.Amounts(), shrunk), stamp(a.now()))
			return true, nil
		})
		if err != nil && !errors.Is(err, errQuotaGone) {
			a.log.Warn("quota shrink failed; the repair will correct it", "quota", qk, "entry", ek, "error", err)
		}
	}
}

// reserve adds obj's entry (create) or delta to it (update) in q, or
// refuses when what grows does not fit.
func reserve(q *api.Quota, ek string, obj api.Object, delta quotaUsage, create bool, now time.Time) (bool, error) {
	if why := shortfall(usedOf(q.Status.Entries), delta, hardOf(q.Spec.Hard)); why != "" {
		return false, &quotaRefusal{fmt.Sprintf("quota %s/%s (%s): %s", q.Meta.Group, q.Meta.ID, quotaScope(q), why)}
	}
	if q.Status.Entries == nil {
		q.Status.Entries = map[string]api.QuotaEntry{}
	}
	e, ok := q.Status.Entries[ek]
	amounts := placement.Add(e.Amounts(), delta.amounts)
	if create || !ok {
		// An updated object without an entry was not counted yet (it was
		// stored while the quota was first counted): it is now, whole.
		amounts = placement.Request(obj)
	}
	q.Status.Entries[ek] = api.NewQuotaEntry(amounts, stamp(now))
	return true, nil
}

// undoer gives back what admit took of quota qk: the entry of a create,
// the delta of an update. It runs after the request's own write failed,
// possibly because the request ended: it does not depend on its context.
func (a *quotaAdmitter) undoer(qk, ek string, delta quotaUsage, create bool) func() {
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		err := a.change(ctx, qk, nil, func(q *api.Quota) (bool, error) {
			e, ok := q.Status.Entries[ek]
			switch {
			case !ok:
				return false, nil
			case create:
				delete(q.Status.Entries, ek)
			default:
				q.Status.Entries[ek] = api.NewQuotaEntry(placement.Sub(e.Amounts(), delta.amounts), stamp(a.now()))
			}
			return true, nil
		})
		if err != nil && !errors.Is(err, errQuotaGone) {
			a.log.Warn("quota undo failed; the repair will correct it", "quota", qk, "entry", ek, "error", err)
		}
	}
}

// release removes obj's entry from every quota covering it: obj has just
// been removed from the store.
func (a *quotaAdmitter) release(ctx context.Context, k *api.Kind, obj api.Object) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	m := obj.GetMeta()
	keys, err := a.covering(ctx, m)
	if err != nil {
		a.log.Warn("quota release failed; the repair will correct it", "object", placement.Key(k, m), "error", err)
		return
	}
	ek := entryKey(k, m)
	for _, qk := range keys {
		err := a.change(ctx, qk, nil, func(q *api.Quota) (bool, error) {
			_, ok := q.Status.Entries[ek]
			delete(q.Status.Entries, ek)
			return ok, nil
		})
		if err != nil && !errors.Is(err, errQuotaGone) {
			a.log.Warn("quota release failed; the repair will correct it", "quota", qk, "entry", ek, "error", err)
		}
	}
}

// covering lists the keys of the quotas that count objects in m's scope,
// in key order.
func (a *quotaAdmitter) covering(ctx context.Context, m *api.Meta) ([]string, error) {
	kvs, _, err := a.store.List(ctx, collectionPrefix(api.QuotaKind, scope{group: m.Group}))
	if err != nil {
		return nil, err
	}
	var keys []string
	for _, kv := range kvs {
		q, err := decodeStored(api.QuotaKind, kv.Value)
		if err != nil {
			return nil, err
		}
		if covers(q.(*api.Quota), m) {
			keys = append(keys, kv.Key)
		}
	}
	return keys, nil
}

// change applies fn to the quota at key qk and writes it back under
// compare-and-swap, retrying on conflict with a small jittered backoff.
// before, when set, runs at the start of each attempt (before the quota
// is read). A quota never counted yet is counted first. fn returns whether
// it changed the quota; errQuotaGone when the quota no longer exists.
func (a *quotaAdmitter) change(ctx context.Context, qk string, before func() error, fn func(*api.Quota) (bool, error)) error {
	for attempt := 0; ; attempt++ {
		if before != nil {
			if err := before(); err != nil {
				return err
			}
		}
		err := a.changeOnce(ctx, qk, fn)
		if !errors.Is(err, api.ErrConflict) {
			return err
		}
		if attempt+1 >= a.attempts {
			return fmt.Errorf("quota %s is being changed by too many writers at once; retry: %w", qk, api.ErrConflict)
		}
		// Jitter spreads the losers of a round so they do not collide again.
		wait := time.Duration(rand.Int64N(int64(time.Millisecond) << min(attempt, 4)))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
}

// changeOnce is one attempt of change.
func (a *quotaAdmitter) changeOnce(ctx context.Context, qk string, fn func(*api.Quota) (bool, error)) error {
	kv, err := a.store.Get(ctx, qk)
	if errors.Is(err, api.ErrNotFound) {
		return errQuotaGone
	}
	if err != nil {
		return err
	}
	obj, err := decodeStored(api.QuotaKind, kv.Value)
	if err != nil {
		return err
	}
	q := obj.(*api.Quota)
	counted, err := a.countOnce(ctx, q)
	if err != nil {
		return err
	}
	changed, err := fn(q)
	if err != nil || (!changed && !counted) {
		return err
	}
	refreshQuota(q)
	q.Meta.ResourceVersion = ""
	data, err := api.Encode(q)
	if err != nil {
		return err
	}
	_, err = a.store.Update(ctx, qk, data, kv.ModRevision)
	return err
}

// countOnce counts what exists in q's scope into its ledger the first
// time q is used: a new quota starts with what exists, even above its
// limits (then it is Exceeded and refuses what needs more).
func (a *quotaAdmitter) countOnce(ctx context.Context, q *api.Quota) (bool, error) {
	if q.Status.CountedAt != "" {
		return false, nil
	}
	exist, err := a.existing(ctx, q)
	if err != nil {
		return false, err
	}
	now := stamp(a.now())
	if q.Status.Entries == nil {
		q.Status.Entries = map[string]api.QuotaEntry{}
	}
	for ek, amounts := range exist {
		if _, ok := q.Status.Entries[ek]; !ok {
			q.Status.Entries[ek] = api.NewQuotaEntry(amounts, now)
		}
	}
	q.Status.CountedAt = now
	return true, nil
}

// existing lists the objects stored in q's scope, by entry key, with
// their requests.
func (a *quotaAdmitter) existing(ctx context.Context, q *api.Quota) (map[string]api.Amounts, error) {
	out := map[string]api.Amounts{}
	for _, k := range quotaCounted {
		kvs, _, err := a.store.List(ctx, collectionPrefix(k, scope{group: q.Meta.Group, namespace: q.Spec.Namespace}))
		if err != nil {
			return nil, err
		}
		for _, kv := range kvs {
			obj, err := decodeStored(k, kv.Value)
			if err != nil {
				return nil, err
			}
			out[entryKey(k, obj.GetMeta())] = placement.Request(obj)
		}
	}
	return out, nil
}
