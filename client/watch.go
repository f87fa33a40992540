package client

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/humstack/humstack/api"
)

// Event types of a watch.
const (
	Added    = "ADDED"
	Modified = "MODIFIED"
	Deleted  = "DELETED"
)

// Event is one change seen by a watch. The last event of a watch that ends
// for a reason other than its context carries Err (api.ErrGone means: list
// again and watch from the list's revision).
type Event struct {
	Type     string
	Object   api.Object
	Revision int64
	Err      error
}

// idleTimeout is how long a stream may stay silent before it is presumed
// dead; the server sends heartbeats far more often.
const idleTimeout = 45 * time.Second

// Watch streams changes of kind k in sc after revision rev (0: from now).
// It reconnects by itself after network errors and server restarts,
// resuming after the last revision it delivered, so every change arrives
// exactly once and in order. The channel closes when ctx ends or a resume
// is impossible (then the last event has Err set).
func (c *Client) Watch(ctx context.Context, k *api.Kind, sc Scope, rev int64) (<-chan Event, error) {
	// The first connection is made synchronously so an immediate failure
	// (bad scope, compacted revision, no server) is returned to the caller.
	resp, err := c.openWatch(ctx, k, sc, rev)
	if err != nil {
		return nil, err
	}
	ch := make(chan Event, 64)
	go c.watchLoop(ctx, k, sc, rev, resp, ch)
	return ch, nil
}

func (c *Client) watchLoop(ctx context.Context, k *api.Kind, sc Scope, rev int64, resp *http.Response, ch chan<- Event) {
	defer close(ch)
	for attempt := 0; ; {
		if resp != nil {
			last, err := c.readStream(ctx, k, resp, ch)
			if last > rev {
				rev, attempt = last, 0
			}
			if err != nil { // undecodable data: a server bug, not a network blip
				send(ctx, ch, Event{Err: err})
				return
			}
		}
		if ctx.Err() != nil {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(retryDelay(attempt)):
		}
		attempt++
		var err error
		if resp, err = c.openWatch(ctx, k, sc, rev); err != nil {
			if errors.Is(err, api.ErrGone) || errors.Is(err, api.ErrInvalid) || errors.Is(err, api.ErrNotFound) {
				send(ctx, ch, Event{Err: err})
				return
			}
			resp = nil // unavailable: try again
		}
	}
}

func send(ctx context.Context, ch chan<- Event, ev Event) bool {
	select {
	case ch <- ev:
		return true
	case <-ctx.Done():
		return false
	}
}

func (c *Client) openWatch(ctx context.Context, k *api.Kind, sc Scope, rev int64) (*http.Response, error) {
	p := collectionPath(k, sc) + "?watch=true&resourceVersion=" + strconv.FormatInt(rev, 10)
	resp, err := c.send(ctx, http.MethodGet, p, func(req *http.Request) {
		req.Header.Set("Accept", "text/event-stream")
	}, nil)
	if err != nil {
		return nil, fmt.Errorf("watch %s: %w: %w", k.Plural, tlsHint(unwrapURLError(err)), api.ErrUnavailable)
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		return nil, responseError(resp.StatusCode, b)
	}
	return resp, nil
}

// readStream delivers the events of one connection and returns the last
// revision delivered. A nil error means the connection ended (resume).
func (c *Client) readStream(ctx context.Context, k *api.Kind, resp *http.Response, ch chan<- Event) (int64, error) {
	defer resp.Body.Close()
	idle := time.AfterFunc(idleTimeout, func() { resp.Body.Close() })
	defer idle.Stop()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64*1024), 2*api.MaxObjectSize)
	var last int64
	var id, typ, data string
	for sc.Scan() {
		idle.Reset(idleTimeout)
		line := sc.Text()
		switch {
		case line == "":
			if data == "" {
				continue
			}
			ev, err := decodeEvent(k, id, typ, data)
			if err != nil {
				return last, err
			}
			if !send(ctx, ch, ev) {
				return last, nil
			}
			last, id, typ, data = ev.Revision, "", "", ""
		case strings.HasPrefix(line, "id: "):
			id = line[4:]
		case strings.HasPrefix(line, "event: "):
			typ = line[7:]
		case strings.HasPrefix(line, "data: "):
			data = line[6:]
		}
	}
	return last, nil
}

func decodeEvent(k *api.Kind, id, typ, data string) (Event, error) {
	rev, err := strconv.ParseInt(id, 10, 64)
	if err != nil {
		return Event{}, fmt.Errorf("watch %s: bad event id %q", k.Plural, id)
	}
	var body struct {
		Object json.RawMessage `json:"object"`
	}
	obj := k.New()
	if err := json.Unmarshal([]byte(data), &body); err != nil {
		return Event{}, fmt.Errorf("watch %s: bad event: %w", k.Plural, err)
	}
	if err := json.Unmarshal(body.Object, obj); err != nil {
		return Event{}, fmt.Errorf("watch %s: bad object: %w", k.Plural, err)
	}
	return Event{Type: typ, Object: obj, Revision: rev}, nil
}
