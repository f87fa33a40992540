package apiserver

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/registry"
	"github.com/humstack/humstack/internal/storage"
)

// A list is streamed: the store is read in chunks of listChunk keys, each
// in its own read (a bolt read transaction lasts one chunk, never a
// client's reading), each visible item is rendered and written as it comes,
// and the answer goes out through a listBuffer-sized buffer. Memory is a
// chunk and a buffer, whatever the length of the list.
//
// A list of at most listChunk keys is one read at one revision, as before.
// A longer one reads its later chunks at the first chunk's revision
// (storage.RangeOptions.Rev): exact on etcd; on bolt the keys created after
// it are left out and a key changed after it is given as it is now, which a
// watch from the list's resourceVersion brings to the same end.
const (
	listChunk  = 500
	listBuffer = 32 << 10
)

// maxListLimit bounds ?limit=, the items of one page.
const maxListLimit = 10000

// listQuery is what a list request asks for beyond its collection.
type listQuery struct {
	limit int    // items of a page; 0: the whole list
	after string // from ?continue=: the last key of the previous page
	rev   int64  // from ?continue=: the first page's revision
}

// streamList writes the visible items under prefix as a list answer, with
// a continue token when a page stopped before the end. A failure before
// the first byte left is answered as any error; after it, the response is
// aborted (the client sees a broken body, never a shorter valid list).
func (h *resource) streamList(w http.ResponseWriter, r *http.Request, prefix string, q listQuery) error {
	ctx := r.Context()
	lw := newListWriter(w, h.kind)
	visible := visibleFilter(ctx)
	var (
		ch      chunk
		item    []byte // one rendered item, reused
		emitted int
		last    string // the last key written: where a next page starts
	)
	rev, after := q.rev, q.after
	for {
		n := listChunk
		if q.limit > 0 {
			n = min(n, q.limit-emitted)
		}
		more, err := ch.read(ctx, h.s.store, prefix, storage.RangeOptions{After: after, Limit: n, Rev: rev})
		if q.rev != 0 && errors.Is(err, api.ErrInvalid) {
			err = api.Invalid("continue", "not a token this server gave (list again without it)")
		}
		if err != nil {
			return lw.fail(ctx, h, err)
		}
		rev = ch.rev
		for _, kv := range ch.kvs {
			if visible != nil && !visible(kv) {
				continue
			}
			var err error
			if item, err = h.appendItem(item[:0], kv); err != nil {
				return lw.fail(ctx, h, fmt.Errorf("stored %s: %w", kv.Key, err))
			}
			if err := lw.item(item); err != nil {
				return lw.fail(ctx, h, err)
			}
			emitted, last = emitted+1, kv.Key
		}
		switch {
		case more == "":
			return lw.end(ctx, h, rev, "")
		case q.limit > 0 && emitted == q.limit:
			return lw.end(ctx, h, rev, encodeContinue(rev, prefix, last))
		}
		after = more
	}
}

// appendItem appends kv rendered to dst: h.render's bytes, without an
// allocation per item for the kinds rendered as stored.
func (h *resource) appendItem(dst []byte, kv storage.KV) ([]byte, error) {
	if _, ok := h.strategy().(registry.OutputRedactor); ok {
		out, err := h.render(kv.Value, kv.ModRevision)
		return append(dst, out...), err
	}
	return api.AppendResourceVersion(dst, kv.Value, kv.ModRevision)
}

// chunk is one read of a list: the keys and values copied out of the
// store's memory into buffers reused by the next read.
type chunk struct {
	kvs   []storage.KV
	offs  []int // where each value starts in arena
	arena []byte
	rev   int64
}

func (c *chunk) read(ctx context.Context, st storage.Store, prefix string, opts storage.RangeOptions) (string, error) {
	c.kvs, c.offs, c.arena = c.kvs[:0], c.offs[:0], c.arena[:0]
	// The arena may move while it grows: values are slices of it only
	// once the read is over.
	rev, more, err := st.Range(ctx, prefix, opts, func(kv storage.KV) error {
		c.offs = append(c.offs, len(c.arena))
		c.arena = append(c.arena, kv.Value...)
		kv.Value = nil
		c.kvs = append(c.kvs, kv)
		return nil
	})
	if err != nil {
		return "", err
	}
	for i := range c.kvs {
		end := len(c.arena)
		if i+1 < len(c.offs) {
			end = c.offs[i+1]
		}
		c.kvs[i].Value = c.arena[c.offs[i]:end:end]
	}
	c.rev = rev
	return more, nil
}

// listWriter writes a list answer through a buffer; the status line goes
// out with the buffer's first flush, so an error found before it is still
// answered as an error.
type listWriter struct {
	out   *responseSink
	buf   *bufio.Writer
	items int
}

// responseSink is the buffer's writer: it sends the header on first use
// and marks its own failures, the client's, apart from the store's.
type responseSink struct {
	w       http.ResponseWriter
	started bool
}

// clientError is a failure to write to the client.
type clientError struct{ err error }

func (e clientError) Error() string { return "write list: " + e.err.Error() }
func (e clientError) Unwrap() error { return e.err }

func (s *responseSink) Write(p []byte) (int, error) {
	if !s.started {
		s.started = true
		s.w.Header().Set("Content-Type", "application/json")
		s.w.WriteHeader(http.StatusOK)
	}
	n, err := s.w.Write(p)
	if err != nil {
		return n, clientError{err}
	}
	return n, nil
}

func newListWriter(w http.ResponseWriter, k *api.Kind) *listWriter {
	lw := &listWriter{out: &responseSink{w: w}}
	lw.buf = bufio.NewWriterSize(lw.out, listBuffer)
	_, _ = lw.buf.WriteString(`{"code":200,"error":null,"data":{"`)
	_, _ = lw.buf.WriteString(k.Plural)
	_, _ = lw.buf.WriteString(`":[`)
	return lw
}

func (lw *listWriter) item(b []byte) error {
	if lw.items > 0 {
		if err := lw.buf.WriteByte(','); err != nil {
			return err
		}
	}
	lw.items++
	_, err := lw.buf.Write(b)
	return err
}

// end writes the list's revision, the continue token if any, and flushes.
func (lw *listWriter) end(ctx context.Context, h *resource, rev int64, cont string) error {
	b := lw.buf.AvailableBuffer()
	b = append(b, `]},"resourceVersion":"`...)
	b = strconv.AppendInt(b, rev, 10)
	if cont != "" {
		b = append(b, `","continue":"`...)
		b = append(b, cont...)
	}
	b = append(b, "\"}\n"...)
	if _, err := lw.buf.Write(b); err != nil {
		return lw.fail(ctx, h, err)
	}
	if err := lw.buf.Flush(); err != nil {
		return lw.fail(ctx, h, err)
	}
	return nil
}

// fail returns err to be answered when nothing has been sent yet, and
// otherwise aborts the response: its status line is out, so the one honest
// end is a broken body.
func (lw *listWriter) fail(ctx context.Context, h *resource, err error) error {
	if !lw.out.started {
		lw.buf.Reset(nil) // what the buffer held is dropped
		return err
	}
	var ce clientError
	if errors.As(err, &ce) || ctx.Err() != nil {
		h.s.log.DebugContext(ctx, "list client gone", "request_id", requestID(ctx), "kind", h.kind.Plural, "err", err)
	} else {
		h.s.log.ErrorContext(ctx, "list failed after its first bytes; response aborted",
			"request_id", requestID(ctx), "kind", h.kind.Plural, "err", err)
	}
	panic(http.ErrAbortHandler)
}
