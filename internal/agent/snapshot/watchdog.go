package snapshot

import (
	"context"
	"errors"
	"io"
	"time"
)

// DefaultStallTimeout is how long a fetch from another node waits for the
// response headers, and then for each next byte of the body.
const DefaultStallTimeout = 30 * time.Second

// watchdog cancels its context when it is not fed for d: from the start
// until the response headers, then between reads of the body that bring
// data. A whole transfer may take long; a silent peer may not.
type watchdog struct {
	t      *time.Timer
	d      time.Duration
	cancel context.CancelCauseFunc
	ctx    context.Context
	cause  error
}

// newWatchdog returns a context of ctx that is cancelled with cause when
// the watchdog is not fed for d.
func newWatchdog(ctx context.Context, d time.Duration, cause error) (context.Context, *watchdog) {
	ctx, cancel := context.WithCancelCause(ctx)
	w := &watchdog{d: d, cancel: cancel, ctx: ctx, cause: cause}
	w.t = time.AfterFunc(d, func() { cancel(cause) })
	return ctx, w
}

// stop ends the watchdog and its context.
func (w *watchdog) stop() {
	w.t.Stop()
	w.cancel(nil)
}

// explain is err, or the watchdog's cause when it fired (the transport
// only says "context canceled").
func (w *watchdog) explain(err error) error {
	if c := context.Cause(w.ctx); errors.Is(c, w.cause) {
		return c
	}
	return err
}

// reader is r feeding the watchdog with each read that brings data.
func (w *watchdog) reader(r io.Reader) io.Reader { return fedReader{r, w} }

type fedReader struct {
	r io.Reader
	w *watchdog
}

func (f fedReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if n > 0 {
		f.w.t.Reset(f.w.d)
	}
	return n, err
}
