package apiserver

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/storage"
)

// The repair keeps "a quota's used is the sum of what exists" true when
// admission alone cannot: an API server that stopped between reserving an
// entry and storing (or removing) the object, an undo or release whose
// write failed, an object stored while its quota was first counted, or
// one removed while the repair itself counted it. Every API server runs
// it (the writes are compare-and-swap and idempotent, so several agree).
//
// An entry is only corrected once it is older than the grace: a younger
// one may belong to a create still in flight. Objects are listed before
// the quota is read, so an object the list shows already has the entry
// its admission made, and an entry added for an object missing from the
// ledger is never one a create is about to add.

// quotaRepairInterval spaces full repairs.
const quotaRepairInterval = 30 * time.Second

// runRepair repairs every quota now and then, and each new quota as soon
// as it is created (its first count), until ctx ends.
func (a *quotaAdmitter) runRepair(ctx context.Context) {
	go a.countNew(ctx)
	t := time.NewTicker(quotaRepairInterval)
	defer t.Stop()
	for {
		if err := a.repairAll(ctx); err != nil && ctx.Err() == nil {
			a.log.Warn("quota repair failed", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// countNew watches quotas and repairs at once one that is new (its first
// count) or whose status no longer follows from its spec (spec.hard
// changed), so its status is right without waiting for the next repair.
func (a *quotaAdmitter) countNew(ctx context.Context) {
	prefix := collectionPrefix(api.QuotaKind, scope{})
	for ctx.Err() == nil {
		ch, err := a.store.Watch(ctx, prefix, 0)
		if err == nil {
			for ev := range ch {
				if ev.Type == storage.EventPut && stale(ev.KV.Value) {
					a.repairOne(ctx, ev.KV.Key)
				}
			}
		}
		select { // the watch ended (store restarting, watcher behind)
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

// stale reports whether a stored quota was never counted or shows a
// status its ledger and spec do not give.
func stale(data []byte) bool {
	obj, err := decodeStored(api.QuotaKind, data)
	if err != nil {
		return false
	}
	q := obj.(*api.Quota)
	if q.Status.CountedAt == "" {
		return true
	}
	before := q.Status
	refreshQuota(q)
	return !sameStatus(before, q.Status)
}

// repairAll repairs every quota.
func (a *quotaAdmitter) repairAll(ctx context.Context) error {
	kvs, _, err := a.store.List(ctx, collectionPrefix(api.QuotaKind, scope{}))
	if err != nil {
		return err
	}
	for _, kv := range kvs {
		a.repairOne(ctx, kv.Key)
	}
	return nil
}

// repairOne repairs the quota at key qk, logging what it could not.
func (a *quotaAdmitter) repairOne(ctx context.Context, qk string) {
	if err := a.repair(ctx, qk); err != nil && !errors.Is(err, errQuotaGone) && ctx.Err() == nil {
		a.log.Warn("quota repair failed", "quota", qk, "error", err)
	}
}

// repair makes quota qk's ledger match the store: entries of objects that
// do not exist, and amounts that differ from the object's requests, are
// corrected once older than the grace; objects without an entry get one.
// Its used, state and message are recomputed (a changed spec.hard).
func (a *quotaAdmitter) repair(ctx context.Context, qk string) error {
	var exist map[string]api.Amounts
	list := func() error {
		kv, err := a.store.Get(ctx, qk)
		if errors.Is(err, api.ErrNotFound) {
			return errQuotaGone
		}
		if err != nil {
			return err
		}
		q, err := decodeStored(api.QuotaKind, kv.Value)
		if err != nil {
			return err
		}
		exist, err = a.existing(ctx, q.(*api.Quota))
		return err
	}
	var added map[string]api.QuotaEntry
	err := a.change(ctx, qk, list, func(q *api.Quota) (bool, error) {
		added = map[string]api.QuotaEntry{}
		return a.reconcile(q, exist, added), nil
	})
	if err != nil {
		return err
	}
	return a.confirmAdded(ctx, qk, added)
}

// confirmAdded takes back the entries this repair added for objects
// deleted between its list and its write: their release ran before the
// entry existed, so nothing else would remove it before the grace, and
// used would be above what exists meanwhile.
func (a *quotaAdmitter) confirmAdded(ctx context.Context, qk string, added map[string]api.QuotaEntry) error {
	var gone []string
	for ek := range added {
		k, pk, uid, ok := parseEntryKey(ek)
		parts := strings.SplitN(pk, "/", 4)
		if !ok || len(parts) != 4 {
			continue
		}
		kv, err := a.store.Get(ctx, objectKey(k, &api.Meta{Group: parts[1], Namespace: parts[2], ID: parts[3]}))
		if errors.Is(err, api.ErrNotFound) {
			gone = append(gone, ek)
			continue
		}
		if err != nil {
			return err
		}
		if o, err := decodeStored(k, kv.Value); err == nil && o.GetMeta().UID != uid {
			gone = append(gone, ek)
		}
	}
	if len(gone) == 0 {
		return nil
	}
	return a.change(ctx, qk, nil, func(q *api.Quota) (bool, error) {
		changed := false
		for _, ek := range gone {
			if e, ok := q.Status.Entries[ek]; ok && e == added[ek] {
				delete(q.Status.Entries, ek)
				changed = true
			}
		}
		if changed {
			refreshQuota(q)
		}
		return changed, nil
	})
}

// reconcile corrects q's ledger against exist (entry key -> requests of
// the objects stored in its scope) and says whether q changed.
func (a *quotaAdmitter) reconcile(q *api.Quota, exist map[string]api.Amounts, added map[string]api.QuotaEntry) bool {
	now := a.now()
	old := func(e api.QuotaEntry) bool {
		t, err := time.Parse(time.RFC3339Nano, e.Since)
		return err != nil || now.Sub(t) >= a.grace
	}
	changed := false
	if q.Status.Entries == nil {
		q.Status.Entries = map[string]api.QuotaEntry{}
	}
	for _, ek := range sortedEntryKeys(q.Status.Entries) {
		e := q.Status.Entries[ek]
		amounts, ok := exist[ek]
		switch {
		case !old(e), ok && amounts == e.Amounts():
		case !ok:
			a.log.Info("quota entry dropped: no such object", "quota", q.Meta.Group+"/"+q.Meta.ID, "entry", ek)
			delete(q.Status.Entries, ek)
			changed = true
		default:
			a.log.Info("quota entry corrected", "quota", q.Meta.Group+"/"+q.Meta.ID, "entry", ek)
			q.Status.Entries[ek] = api.NewQuotaEntry(amounts, stamp(now))
			changed = true
		}
	}
	for ek, amounts := range exist {
		if _, ok := q.Status.Entries[ek]; !ok {
			q.Status.Entries[ek] = api.NewQuotaEntry(amounts, stamp(now))
			added[ek] = q.Status.Entries[ek]
			changed = true
		}
	}
	before := q.Status
	refreshQuota(q)
	return changed || !sameStatus(before, q.Status)
}

// sameStatus compares the derived parts of two quota statuses.
func sameStatus(a, b api.QuotaStatus) bool {
	return a.State == b.State && a.Message == b.Message && reflect.DeepEqual(a.Used, b.Used)
}
