package apiserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/humstack/humstack/api"
)

// backfill reserves the addresses of objects stored before the ledger
// existed (an upgrade), so the pool never hands them out again: every
// address a stored network, router or VM claims whose key is missing
// gets one naming it. It runs once when the API server starts; several
// API servers doing it at once create each key once (atomic create). An
// entry made for an object removed meanwhile is reclaimed like any stale
// one.
func (p *ipam) backfill(ctx context.Context) error {
	kvs, _, err := p.store.List(ctx, "/ipam/")
	if err != nil {
		return err
	}
	have := map[string]bool{}
	for _, kv := range kvs {
		have[kv.Key] = true
	}
	made := 0
	for _, k := range []*api.Kind{api.NetworkKind, api.VirtualRouterKind, api.VirtualMachineKind} {
		objs, _, err := p.store.List(ctx, "/"+k.Plural+"/")
		if err != nil {
			return err
		}
		for _, kv := range objs {
			obj, err := decodeStored(k, kv.Value)
			if err != nil {
				continue
			}
			m := obj.GetMeta()
			for _, c := range claimsOf(obj) {
				key := ipamKey(m.Group, m.Namespace, c.network, c.addr)
				if !c.addr.IsValid() || have[key] {
					continue
				}
				if err := p.backfillOne(ctx, k, m, c, key); err != nil {
					return err
				}
				have[key] = true
				made++
			}
		}
	}
	if made > 0 {
		p.log.Info("ipam: reserved the addresses of objects older than the ledger", "addresses", made)
	}
	return nil
}

// backfillOne creates key for claim c of m; a key another object holds
// means two objects were stored with one address before the ledger
// existed: it is logged, and the second keeps working unreserved.
func (p *ipam) backfillOne(ctx context.Context, k *api.Kind, m *api.Meta, c claim, key string) error {
	_, err := p.writeEntry(ctx, key, 0, k, m, c)
	if !errors.Is(err, api.ErrAlreadyExists) {
		return err
	}
	kv, err := p.store.Get(ctx, key)
	if err != nil {
		return nil // released meanwhile
	}
	var e ipamEntry
	if json.Unmarshal(kv.Value, &e) == nil && !e.ownedBy(k, m) {
		p.log.Warn("ipam: an address is held twice (stored before the ledger existed)",
			"key", key, "holder", e.holder(), "also", k.Name+" "+m.Namespace+"/"+m.ID)
	}
	return nil
}

// backfillWait bounds how long a write waits for the backfill before it
// is answered 503.
const backfillWait = 10 * time.Second

// awaitBackfill waits until the backfill is done (at most backfillWait).
func (p *ipam) awaitBackfill(ctx context.Context) error {
	if p.backfilled == nil {
		return nil
	}
	t := time.NewTimer(backfillWait)
	defer t.Stop()
	select {
	case <-p.backfilled:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return fmt.Errorf("the address pools are not ready yet (reserving the addresses of objects stored before them); try again: %w", api.ErrUnavailable)
	}
}

// runBackfill runs backfill until it succeeds or ctx ends, then lets
// admission go (awaitBackfill).
func (p *ipam) runBackfill(ctx context.Context) {
	for ctx.Err() == nil {
		err := p.backfill(ctx)
		if err == nil {
			if p.backfilled != nil {
				close(p.backfilled)
			}
			return
		}
		p.log.Warn("ipam: backfill failed; retrying", "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(5 * time.Second):
		}
	}
}
