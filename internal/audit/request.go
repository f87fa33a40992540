package audit

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/auth"
)

// Bounds of what a client controls in a line, so one request cannot
// write a megabyte of log (the server takes 1 MB of headers).
const (
	maxForwardedFor = 256
	maxUserAgent    = 512
	maxPath         = 2048
)

// clip cuts s to n bytes.
func clip(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// Request is the audit record of one HTTP request in flight. A nil
// *Request (the log is off) accepts every call and does nothing.
type Request struct {
	l     *Logger
	start time.Time
	base  Event // time, request id, verb, object, method, path, source, agent

	mu       sync.Mutex
	id       *auth.Identity
	denied   bool
	kept     bool // a read worth its line (Keep)
	reason   string
	attached bool // a console session took over the request's audit
}

type ctxKey struct{}

// Begin opens the audit record of r, with its request id, and returns ctx
// carrying it. With a nil Logger it returns ctx and a nil Request.
func (l *Logger) Begin(ctx context.Context, r *http.Request, requestID string) (context.Context, *Request) {
	if l == nil {
		return ctx, nil
	}
	verb, obj := Describe(r)
	full := strings.Join(r.Header.Values("X-Forwarded-For"), ",") // several header lines are one list
	src, proxy := source(r.RemoteAddr, full, l.trusted)
	now := time.Now()
	a := &Request{l: l, start: now, base: Event{
		Time: now, Event: EventRequest, RequestID: requestID, Verb: verb, Object: obj,
		Method: r.Method, Path: clip(r.URL.EscapedPath(), maxPath), SourceAddress: src, Proxy: proxy,
		ForwardedFor: clip(full, maxForwardedFor), UserAgent: clip(r.UserAgent(), maxUserAgent),
	}}
	return context.WithValue(ctx, ctxKey{}, a), a
}

// FromContext returns the audit record ctx carries, or nil.
func FromContext(ctx context.Context) *Request {
	a, _ := ctx.Value(ctxKey{}).(*Request)
	return a
}

// SetIdentity records who the caller is, once authentication has decided.
func (a *Request) SetIdentity(id *auth.Identity) {
	if a == nil {
		return
	}
	a.mu.Lock()
	a.id = id
	a.mu.Unlock()
}

// Deny marks the request as denied with a reason. Authentication and
// authorization call it; it is what makes a 404 that hides an object (an
// authorization decision) audited like a 403. Safe on a nil Request.
func (a *Request) Deny(reason string) {
	if a == nil {
		return
	}
	a.mu.Lock()
	a.denied, a.reason = true, reason
	a.mu.Unlock()
}

// Deny marks the request ctx belongs to as denied (see Request.Deny); a
// no-op when the audit log is off. This is the hook for the authorizer.
func Deny(ctx context.Context, reason string) { FromContext(ctx).Deny(reason) }

// Keep marks the request ctx belongs to as audited even if it is a
// successful read: a public answer that matters to the operator (a join
// token's cluster info, given to an anonymous caller). A no-op when the
// audit log is off.
func Keep(ctx context.Context) {
	if a := FromContext(ctx); a != nil {
		a.mu.Lock()
		a.kept = true
		a.mu.Unlock()
	}
}

// SetObject fills what the path did not say about the object: a create
// names its id (and, on the id-only routes, its scope) in the body. Safe
// when the log is off. Values that are not ids are left out.
func SetObject(ctx context.Context, group, namespace, id string) {
	a := FromContext(ctx)
	if a == nil {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	o := &a.base.Object
	for _, f := range []struct {
		dst *string
		v   string
	}{{&o.Group, group}, {&o.Namespace, namespace}, {&o.ID, id}} {
		if *f.dst == "" && api.IsID(f.v) { // what the body says is the client's: only ids get in
			*f.dst = f.v
		}
	}
}

// End writes the request's line if it is audited: a write, a denial (401,
// 403, or a request marked with Deny), a request marked with Keep, or a
// console request that did not start a session (a started one is audited
// by its session's lines).
func (a *Request) End(code int) {
	if a == nil {
		return
	}
	a.mu.Lock()
	e, denied, attached, kept := a.event(), a.denied, a.attached, a.kept
	a.mu.Unlock()
	denied = denied || code == http.StatusUnauthorized || code == http.StatusForbidden
	console := e.Verb == "console"
	if attached || !(isWrite(e.Method) || denied || console || kept) {
		return
	}
	e.Code = code
	e.DurationMs = ms(time.Since(a.start))
	a.l.Log(e)
}

// event is the base event with the identity and reason; a.mu held.
func (a *Request) event() Event {
	e := a.base
	e.Identity = identityOf(a.id)
	e.Reason = a.reason
	return e
}

// Console is an audited console session.
type Console struct {
	a     *Request
	start time.Time
	code  int
}

// StartConsole writes the console.start line of the session the request
// in ctx has opened (code is what the user was answered: 101 for a
// websocket, 200 for the log) and returns the session, whose End writes
// console.end. It returns nil (a valid, silent session) when the log is off.
func StartConsole(ctx context.Context, code int) *Console {
	a := FromContext(ctx)
	if a == nil {
		return nil
	}
	a.mu.Lock()
	a.attached = true
	e := a.event()
	a.mu.Unlock()
	e.Event, e.Code, e.Time = EventConsoleStart, code, time.Now()
	a.l.Log(e)
	return &Console{a: a, start: e.Time, code: code}
}

// End writes the session's console.end line: its duration, and the bytes
// the user sent (in) and received (out).
func (c *Console) End(in, out int64) {
	if c == nil {
		return
	}
	c.a.mu.Lock()
	e := c.a.event()
	c.a.mu.Unlock()
	now := time.Now()
	e.Event, e.Time, e.DurationMs, e.BytesIn, e.BytesOut = EventConsoleEnd, now, ms(now.Sub(c.start)), in, out
	e.Code = c.code
	c.a.l.Log(e)
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
