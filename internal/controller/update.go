package controller

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
)

// maxConflicts bounds the re-read-and-retry loop of the write helpers.
const maxConflicts = 10

// write applies mutate to a fresh copy of the object and writes it with
// put, re-reading and re-applying on conflict. mutate reports whether it
// changed anything; nothing is written if not. A missing object is
// api.ErrNotFound.
func write(ctx context.Context, c *client.Client, obj api.Object, mutate func(api.Object) bool,
	put func(context.Context, api.Object) (api.Object, error)) (api.Object, error) {
	k, err := api.KindOf(obj)
	if err != nil {
		return nil, err
	}
	cur := obj
	for i := 0; ; i++ {
		next, err := clone(k, cur)
		if err != nil {
			return nil, err
		}
		if !mutate(next) {
			return cur, nil
		}
		out, err := put(ctx, next)
		if !errors.Is(err, api.ErrConflict) || i >= maxConflicts {
			return out, err
		}
		// The first conflict is usually a stale cached copy: re-read at
		// once. Later ones mean another writer is active. Retrying at once
		// races it on even odds every round, so two writers in a loop made
		// one of them lose maxConflicts+1 rounds in a row and give up with
		// ErrConflict (TestConcurrentWritersLoseNothing failed in about one
		// `go test -race -count=5` run in three). Waiting a random part of a
		// doubling delay lets the other writer's burst finish and breaks the
		// lockstep.
		if i > 0 {
			if err := sleepCtx(ctx, rand.N(Backoff(min(i-1, 6)))); err != nil {
				return nil, err
			}
		}
		if cur, err = c.Get(ctx, k, client.ScopeOf(obj), obj.GetMeta().ID); err != nil {
			return nil, err
		}
	}
}

// UpdateStatus sets status through the status endpoint: mutate changes a
// copy of obj; on conflict the object is re-read and mutate applied again.
func UpdateStatus[T api.Object](ctx context.Context, c *client.Client, obj T, mutate func(T) bool) (T, error) {
	out, err := write(ctx, c, obj, func(o api.Object) bool { return mutate(o.(T)) }, c.UpdateStatus)
	return cast[T](out, err)
}

// Update changes meta or spec like UpdateStatus does status.
func Update[T api.Object](ctx context.Context, c *client.Client, obj T, mutate func(T) bool) (T, error) {
	out, err := write(ctx, c, obj, func(o api.Object) bool { return mutate(o.(T)) }, c.Update)
	return cast[T](out, err)
}

// AddFinalizer makes sure obj carries finalizer f.
func AddFinalizer[T api.Object](ctx context.Context, c *client.Client, obj T, f string) (T, error) {
	return Update(ctx, c, obj, func(o T) bool {
		m := o.GetMeta()
		if slices.Contains(m.Finalizers, f) {
			return false
		}
		m.Finalizers = append(m.Finalizers, f)
		return true
	})
}

// RemoveFinalizer drops finalizer f; the API server removes an object that
// is being deleted once its last finalizer is gone.
func RemoveFinalizer[T api.Object](ctx context.Context, c *client.Client, obj T, f string) error {
	_, err := Update(ctx, c, obj, func(o T) bool {
		m := o.GetMeta()
		i := slices.Index(m.Finalizers, f)
		if i < 0 {
			return false
		}
		m.Finalizers = slices.Delete(slices.Clone(m.Finalizers), i, i+1)
		if m.Finalizers == nil {
			m.Finalizers = []string{}
		}
		return true
	})
	if errors.Is(err, api.ErrNotFound) {
		return nil // already gone
	}
	return err
}

// sleepCtx waits d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func cast[T api.Object](o api.Object, err error) (T, error) {
	var zero T
	if err != nil {
		return zero, err
	}
	t, ok := o.(T)
	if !ok {
		return zero, fmt.Errorf("got %T, want %T", o, zero)
	}
	return t, nil
}

// clone deep-copies an object through JSON, so a mutation never touches
// the shared cache.
func clone(k *api.Kind, o api.Object) (api.Object, error) {
	b, err := api.Encode(o)
	if err != nil {
		return nil, err
	}
	out := k.New()
	if err := api.DecodeInto(b, out); err != nil {
		return nil, fmt.Errorf("clone %s: %w", k.Name, err)
	}
	return out, nil
}
