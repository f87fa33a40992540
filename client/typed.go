package client

import (
	"context"

	"github.com/humstack/humstack/api"
)

// Resource is a typed view of one kind, e.g. For[*api.VirtualMachine](c).
type Resource[T api.Object] struct {
	c    *Client
	kind *api.Kind
}

// For returns the typed client of the kind whose objects are T.
func For[T api.Object](c *Client) Resource[T] {
	return Resource[T]{c: c, kind: api.KindFor[T]()}
}

// Get returns one object.
func (r Resource[T]) Get(ctx context.Context, sc Scope, id string) (T, error) {
	return typed[T](r.c.Get(ctx, r.kind, sc, id))
}

// List returns the objects in sc and the revision to watch from.
func (r Resource[T]) List(ctx context.Context, sc Scope) ([]T, int64, error) {
	objs, rev, err := r.c.List(ctx, r.kind, sc)
	if err != nil {
		return nil, 0, err
	}
	out := make([]T, len(objs))
	for i, o := range objs {
		out[i] = o.(T)
	}
	return out, rev, nil
}

// ListPage returns one page of at most limit objects (see Client.ListPage).
func (r Resource[T]) ListPage(ctx context.Context, sc Scope, limit int, cont string) ([]T, int64, string, error) {
	objs, rev, next, err := r.c.ListPage(ctx, r.kind, sc, limit, cont)
	if err != nil {
		return nil, 0, "", err
	}
	out := make([]T, len(objs))
	for i, o := range objs {
		out[i] = o.(T)
	}
	return out, rev, next, nil
}

// Create stores a new object.
func (r Resource[T]) Create(ctx context.Context, obj T) (T, error) {
	return typed[T](r.c.Create(ctx, obj))
}

// Update replaces meta and spec (see Client.Update).
func (r Resource[T]) Update(ctx context.Context, obj T) (T, error) {
	return typed[T](r.c.Update(ctx, obj))
}

// UpdateStatus replaces status only.
func (r Resource[T]) UpdateStatus(ctx context.Context, obj T) (T, error) {
	return typed[T](r.c.UpdateStatus(ctx, obj))
}

// Delete removes or marks an object (see Client.Delete).
func (r Resource[T]) Delete(ctx context.Context, sc Scope, id string, opts DeleteOptions) (T, error) {
	return typed[T](r.c.Delete(ctx, r.kind, sc, id, opts))
}

// Watch streams changes (see Client.Watch).
func (r Resource[T]) Watch(ctx context.Context, sc Scope, rev int64) (<-chan Event, error) {
	return r.c.Watch(ctx, r.kind, sc, rev)
}

func typed[T api.Object](o api.Object, err error) (T, error) {
	var zero T
	if err != nil {
		return zero, err
	}
	return o.(T), nil
}
