package client

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"time"
)

// A Client with several servers sends each request to the server in use
// and, when that server cannot be reached, to the next one, and stays
// there. Only transport failures move it; an answer of any status is the
// answer. Which failures are safe to retry elsewhere:
//
//   - the connection could not be made (refused, unreachable, dial
//     timeout): the request never left, so any request moves on;
//   - the connection broke after the request was sent: a read (GET) moves
//     on; a write does not, because the dead server may have applied it,
//     and resending a create or a conditional update elsewhere would
//     report a misleading AlreadyExists or Conflict. The caller sees
//     api.ErrUnavailable and retries; its next request finds the server
//     gone at dial time and moves on.
//
// Watches reconnect through the same path and resume after the last
// revision they delivered, so with an etcd backend a watch carries on
// through another server without losing or repeating an event.

// dialTimeout bounds connecting to one server, so a dead host (no RST)
// costs seconds, not the kernel's minutes, before the next is tried.
const dialTimeout = 3 * time.Second

// maxIdlePerHost is how many idle connections to one API server a
// client keeps.
const maxIdlePerHost = 64

func defaultTransport() *http.Transport {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = (&net.Dialer{Timeout: dialTimeout, KeepAlive: 15 * time.Second}).DialContext
	// HTTP/1.1, one connection per stream: the apiserver also offers
	// HTTP/2 (for browsers), but a client's watches on separate
	// connections keep one slow stream from holding up the others', and
	// failover (above) closes exactly the connection that failed.
	tr.ForceAttemptHTTP2 = false
	// Go's default keeps 2 idle connections per host: a client with more
	// requests in flight (an agent's reconcilers, a controller) would close
	// the others after each request and pay a TLS handshake for the next.
	tr.MaxIdleConnsPerHost = maxIdlePerHost
	return tr
}

// Servers returns the client's API server URLs, the one in use first.
func (c *Client) Servers() []string {
	n := len(c.bases)
	cur := int(c.cur.Load())
	out := make([]string, 0, n)
	for i := range n {
		out = append(out, c.bases[(cur+i)%n])
	}
	return out
}

// base is the URL of the server in use.
func (c *Client) base() string { return c.bases[c.cur.Load()] }

// send makes the request on the server in use, moving on to the next as
// described above; set, if not nil, adds headers to each attempt.
func (c *Client) send(ctx context.Context, method, path string, set func(*http.Request), body []byte) (*http.Response, error) {
	n := len(c.bases)
	start := c.cur.Load()
	var last error
	for i := range int32(n) {
		idx := (start + i) % int32(n)
		var rd io.Reader
		if body != nil {
			rd = bytes.NewReader(body)
		}
		req, err := http.NewRequestWithContext(ctx, method, c.bases[idx]+path, rd)
		if err != nil {
			return nil, err
		}
		if c.token != "" {
			req.Header.Set("Authorization", "Bearer "+c.token)
		}
		if set != nil {
			set(req)
		}
		resp, err := c.hc.Do(req)
		if err == nil {
			if idx != start {
				c.cur.CompareAndSwap(start, idx)
			}
			return resp, nil
		}
		last = err
		if ctx.Err() != nil || !(notConnected(err) || method == http.MethodGet) {
			return nil, err
		}
	}
	return nil, last
}

// notConnected reports whether err happened before a connection existed,
// so the request was certainly not received.
func notConnected(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// BaseURL is the address of the API server in use, e.g.
// "http://localhost:8080": what a path the server answered with (a console
// link's URLs) is relative to.
func (c *Client) BaseURL() string { return c.base() }
