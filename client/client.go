// Package client is humstack's Go client: one generic implementation of
// CRUD, status updates and resumable watches over every kind in the api
// registry, with a typed wrapper (Resource[T]) on top. Server errors come
// back as the api error classes: errors.Is(err, api.ErrNotFound) and so on.
package client

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/humstack/humstack/api"
)

// Client talks to one API server, or to the first answering of several
// (see failover.go).
type Client struct {
	bases []string     // normalized server URLs, in the caller's order
	cur   atomic.Int32 // index in bases of the server in use
	hc    *http.Client
	// token is sent as "Authorization: Bearer <token>" on every request.
	token string
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient replaces the default HTTP client.
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.hc = hc } }

// WithToken authenticates every request with a bearer token.
func WithToken(token string) Option { return func(c *Client) { c.token = token } }

// New returns a client for the API server at base, e.g. "http://localhost:8080"
// or "localhost:8080". A comma-separated list ("a:8080,b:8080") names
// several servers of one cluster: see NewMulti.
func New(base string, opts ...Option) (*Client, error) {
	return NewMulti(strings.Split(base, ","), opts...)
}

// NewMulti returns a client for several API servers serving the same
// store (an etcd cluster). It uses one at a time and moves to the next when
// the one in use cannot be reached; API errors never cause a move.
func NewMulti(bases []string, opts ...Option) (*Client, error) {
	c := &Client{hc: &http.Client{Transport: defaultTransport()}}
	for _, b := range bases {
		norm, err := normalize(strings.TrimSpace(b))
		if err != nil {
			return nil, err
		}
		c.bases = append(c.bases, norm)
	}
	if len(c.bases) == 0 {
		return nil, fmt.Errorf("no api server address")
	}
	for _, o := range opts {
		o(c)
	}
	return c, nil
}

func normalize(base string) (string, error) {
	raw := base
	if !strings.Contains(base, "://") {
		base = "http://" + base
	}
	u, err := url.Parse(base)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return "", fmt.Errorf("api server address %q: want host:port or http(s)://host:port", raw)
	}
	return strings.TrimRight(u.String(), "/"), nil
}

// Scope selects where objects live: a group and a namespace. Leaving either
// empty widens a list or watch to everything below; single-object calls need
// the fields the kind's scope has.
type Scope struct {
	Group, Namespace string
}

// ScopeOf returns the scope an object lives in.
func ScopeOf(o api.Object) Scope {
	m := o.GetMeta()
	return Scope{Group: m.Group, Namespace: m.Namespace}
}

func collectionPath(k *api.Kind, sc Scope) string {
	p := "/api/v0"
	if k.Scope >= api.ScopeGroup && sc.Group != "" {
		p += "/groups/" + url.PathEscape(sc.Group)
		if k.Scope == api.ScopeNamespace && sc.Namespace != "" {
			p += "/namespaces/" + url.PathEscape(sc.Namespace)
		}
	}
	return p + "/" + k.Plural
}

func objectPath(k *api.Kind, sc Scope, id string) (string, error) {
	if id == "" {
		return "", api.Invalid("meta.id", "required")
	}
	if k.Scope >= api.ScopeGroup && sc.Group == "" {
		return "", api.Invalid("meta.group", "required for %s", k.Name)
	}
	if k.Scope == api.ScopeNamespace && sc.Namespace == "" {
		return "", api.Invalid("meta.namespace", "required for %s", k.Name)
	}
	return collectionPath(k, sc) + "/" + url.PathEscape(id), nil
}

// envelope is the humstack response body.
type envelope struct {
	Code   int                        `json:"code"`
	Error  *string                    `json:"error"`
	Reason string                     `json:"reason"`
	Data   map[string]json.RawMessage `json:"data"`
}

// do sends a request and decodes the envelope, turning failures into api
// error classes.
func (c *Client) do(ctx context.Context, method, path string, body any) (*envelope, error) {
	raw, err := c.doRaw(ctx, method, path, body)
	if err != nil {
		return nil, err
	}
	var env envelope
	if err := json.Unmarshal(raw, &env); err != nil {
		return nil, fmt.Errorf("%s %s: unreadable response: %v", method, path, err)
	}
	return &env, nil
}

// doRaw sends a request and returns the body of a successful response.
func (c *Client) doRaw(ctx context.Context, method, path string, body any) ([]byte, error) {
	var payload []byte
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("encode request: %w", err)
		}
		payload = b
	}
	key := ""
	if method == http.MethodPost {
		// Lets the transport resend a create that met a pooled connection
		// the server had closed (after an API server restart). Creates are
		// safe to resend: a duplicate is refused with AlreadyExists.
		key = newKey()
	}
	resp, err := c.send(ctx, method, path, func(req *http.Request) {
		if payload != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		if key != "" {
			req.Header.Set("Idempotency-Key", key)
		}
	}, payload)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w: %w", method, path, tlsHint(unwrapURLError(err)), api.ErrUnavailable)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: read response: %v: %w", method, path, err, api.ErrUnavailable)
	}
	if resp.StatusCode >= 300 {
		return nil, responseError(resp.StatusCode, raw)
	}
	return raw, nil
}

func unwrapURLError(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err
	}
	return err
}

func decodeOne(k *api.Kind, env *envelope) (api.Object, error) {
	raw, ok := env.Data[k.Name]
	if !ok {
		return nil, fmt.Errorf("response has no %q object", k.Name)
	}
	obj := k.New()
	if err := json.Unmarshal(raw, obj); err != nil {
		return nil, fmt.Errorf("decode %s: %w", k.Name, err)
	}
	return obj, nil
}

// retryDelay is the reconnect backoff of watches: doubling, capped.
func retryDelay(attempt int) time.Duration {
	d := 100 * time.Millisecond << min(attempt, 6)
	return min(d, 5*time.Second)
}

func newKey() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
