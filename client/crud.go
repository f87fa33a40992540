package client

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"sync"

	gojson "github.com/goccy/go-json"

	"github.com/humstack/humstack/api"
)

// Get returns one object.
func (c *Client) Get(ctx context.Context, k *api.Kind, sc Scope, id string) (api.Object, error) {
	p, err := objectPath(k, sc, id)
	if err != nil {
		return nil, err
	}
	env, err := c.do(ctx, http.MethodGet, p, nil)
	if err != nil {
		return nil, err
	}
	return decodeOne(k, env)
}

// List returns the objects of kind k in sc and the revision to watch from.
func (c *Client) List(ctx context.Context, k *api.Kind, sc Scope) ([]api.Object, int64, error) {
	objs, rev, _, err := c.list(ctx, k, collectionPath(k, sc))
	return objs, rev, err
}

// ListPage returns one page of at most limit objects of kind k in sc,
// starting where the page that gave cont ended ("" for the first page).
// Every page carries the first page's revision; next is "" after the last
// page, else the cont of the next one. A cont too old for the server's
// history is api.ErrGone: list again from the first page.
func (c *Client) ListPage(ctx context.Context, k *api.Kind, sc Scope, limit int, cont string) (objs []api.Object, rev int64, next string, err error) {
	q := url.Values{"limit": {strconv.Itoa(limit)}}
	if cont != "" {
		q.Set("continue", cont)
	}
	return c.list(ctx, k, collectionPath(k, sc)+"?"+q.Encode())
}

func (c *Client) list(ctx context.Context, k *api.Kind, path string) ([]api.Object, int64, string, error) {
	body, err := c.doRaw(ctx, http.MethodGet, path, nil)
	if err != nil {
		return nil, 0, "", err
	}
	// Decode in one pass into {"data": {"<plural>": []*T}, "resourceVersion": "",
	// "continue": ""}: a list of thousands is dominated by JSON scanning, so
	// scan it once.
	lt := listType(k)
	v := reflect.New(lt)
	if err := gojson.Unmarshal(body, v.Interface()); err != nil {
		return nil, 0, "", fmt.Errorf("decode %s: %w", k.Plural, err)
	}
	rev, err := api.ParseRevision(v.Elem().Field(1).String())
	if err != nil {
		return nil, 0, "", err
	}
	items := v.Elem().Field(0).Field(0)
	out := make([]api.Object, items.Len())
	for i := range out {
		out[i] = items.Index(i).Interface().(api.Object)
		out[i].GetMeta().APIType = k.APIType
	}
	return out, rev, v.Elem().Field(2).String(), nil
}

var listTypes sync.Map // *api.Kind -> reflect.Type

// listType builds (once per kind) the struct type of a list response.
func listType(k *api.Kind) reflect.Type {
	if t, ok := listTypes.Load(k); ok {
		return t.(reflect.Type)
	}
	elem := reflect.TypeOf(k.New())
	data := reflect.StructOf([]reflect.StructField{
		{Name: "Items", Type: reflect.SliceOf(elem), Tag: reflect.StructTag(`json:"` + k.Plural + `"`)},
	})
	t := reflect.StructOf([]reflect.StructField{
		{Name: "Data", Type: data, Tag: `json:"data"`},
		{Name: "ResourceVersion", Type: reflect.TypeFor[string](), Tag: `json:"resourceVersion"`},
		{Name: "Continue", Type: reflect.TypeFor[string](), Tag: `json:"continue"`},
	})
	listTypes.Store(k, t)
	return t
}

// Create stores a new object in the scope its meta names.
func (c *Client) Create(ctx context.Context, obj api.Object) (api.Object, error) {
	k, err := api.KindOf(obj)
	if err != nil {
		return nil, err
	}
	sc := ScopeOf(obj)
	if _, err := objectPath(k, sc, obj.GetMeta().ID); err != nil {
		return nil, err
	}
	env, err := c.do(ctx, http.MethodPost, collectionPath(k, sc), obj)
	if err != nil {
		return nil, err
	}
	return decodeOne(k, env)
}

// Update replaces meta and spec. With meta.resourceVersion set, it fails with
// api.ErrConflict if the object changed since; without, it applies on top of
// whatever is stored. Status is never changed by Update.
func (c *Client) Update(ctx context.Context, obj api.Object) (api.Object, error) {
	return c.put(ctx, obj, "")
}

// UpdateStatus replaces status only.
func (c *Client) UpdateStatus(ctx context.Context, obj api.Object) (api.Object, error) {
	return c.put(ctx, obj, "/status")
}

func (c *Client) put(ctx context.Context, obj api.Object, suffix string) (api.Object, error) {
	k, err := api.KindOf(obj)
	if err != nil {
		return nil, err
	}
	p, err := objectPath(k, ScopeOf(obj), obj.GetMeta().ID)
	if err != nil {
		return nil, err
	}
	env, err := c.do(ctx, http.MethodPut, p+suffix, obj)
	if err != nil {
		return nil, err
	}
	return decodeOne(k, env)
}

// DeleteOptions modify Delete.
type DeleteOptions struct {
	// Force removes the object even if finalizers remain: for objects whose
	// owning agent is gone for good. What that agent made stays behind.
	Force bool
}

// Delete removes an object, or marks it for deletion when finalizers
// remain; the returned object says which (meta.deleteState Done or Delete).
func (c *Client) Delete(ctx context.Context, k *api.Kind, sc Scope, id string, opts DeleteOptions) (api.Object, error) {
	p, err := objectPath(k, sc, id)
	if err != nil {
		return nil, err
	}
	if opts.Force {
		p += "?force=true"
	}
	env, err := c.do(ctx, http.MethodDelete, p, nil)
	if err != nil {
		return nil, err
	}
	return decodeOne(k, env)
}
