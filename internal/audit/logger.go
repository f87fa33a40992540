package audit

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultBuffer is how many lines may wait for the writer before new ones
// are counted as lost rather than holding up requests.
const DefaultBuffer = 4096

// warnEvery spaces the warnings about lost lines, so a full disk does not
// flood the server's own log.
const warnEvery = 10 * time.Second

// Options configure a Logger.
type Options struct {
	Log *slog.Logger // the server's own log, for losses; nil: slog.Default()
	// Buffer bounds the lines waiting for the writer; 0: DefaultBuffer.
	Buffer int
	// TrustedProxies are the reverse proxies whose X-Forwarded-For gives
	// the source address (ParseTrustedProxies); none: the TCP peer always.
	TrustedProxies []netip.Prefix
}

// Logger writes audit events as JSON lines to one sink, from one goroutine.
// A nil *Logger is valid and audits nothing (the audit log is off).
type Logger struct {
	sink    io.Writer
	log     *slog.Logger
	trusted []netip.Prefix
	ch      chan []byte
	done    chan struct{}

	mu     sync.RWMutex // guards closed against a send on a closed channel
	closed bool

	written, dropped, failed atomic.Int64
	pending                  atomic.Int64 // lost lines not yet reported in the log itself
	lastWarn                 atomic.Int64 // unix nanos of the last loss warning
}

// Stats counts a Logger's lines.
type Stats struct {
	Written int64 // lines written to the sink
	Dropped int64 // lines lost because the buffer was full
	Failed  int64 // lines lost because the sink's write failed
}

// New starts a Logger writing to sink. Close it to flush and stop; Close
// closes sink when it is an io.Closer.
func New(sink io.Writer, opts Options) *Logger {
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	if opts.Buffer <= 0 {
		opts.Buffer = DefaultBuffer
	}
	l := &Logger{sink: sink, log: opts.Log, trusted: opts.TrustedProxies, ch: make(chan []byte, opts.Buffer), done: make(chan struct{})}
	go l.run()
	return l
}

// Log queues e. It never blocks: when the buffer is full the line is
// counted as lost.
func (l *Logger) Log(e Event) {
	if l == nil {
		return
	}
	e.Time = e.Time.UTC()
	b, err := json.Marshal(e)
	if err != nil { // Event holds only strings and numbers
		l.lose(&l.failed, err)
		return
	}
	b = append(b, '\n')
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		l.lose(&l.dropped, errClosed)
		return
	}
	select {
	case l.ch <- b:
	default:
		l.lose(&l.dropped, errFull)
	}
}

type lossError string

func (e lossError) Error() string { return string(e) }

const (
	errFull   lossError = "the audit buffer is full: the sink is slower than the requests"
	errClosed lossError = "the audit log is closed"
)

// lose counts a lost line and warns, at most every warnEvery.
func (l *Logger) lose(counter *atomic.Int64, err error) {
	counter.Add(1)
	l.pending.Add(1)
	now := time.Now().UnixNano()
	last := l.lastWarn.Load()
	if now-last < int64(warnEvery) || !l.lastWarn.CompareAndSwap(last, now) {
		return
	}
	l.log.Warn("audit log lines lost", "err", err, "dropped", l.dropped.Load(), "failed", l.failed.Load())
}

// run writes queued lines until Close.
func (l *Logger) run() {
	defer close(l.done)
	for b := range l.ch {
		if n := l.pending.Load(); n > 0 {
			// Not counted itself: it is the log's note, not an event.
			if _, err := l.sink.Write(lostLine(n)); err == nil {
				l.pending.Add(-n)
			}
		}
		l.write(b)
	}
}

// write writes one line; a failure is counted and reported.
func (l *Logger) write(b []byte) bool {
	if _, err := l.sink.Write(b); err != nil {
		l.lose(&l.failed, err)
		return false
	}
	l.written.Add(1)
	return true
}

func lostLine(n int64) []byte {
	b, _ := json.Marshal(Event{Time: time.Now().UTC(), Event: EventLost, Lost: n})
	return append(b, '\n')
}

// Stats returns the Logger's counts so far.
func (l *Logger) Stats() Stats {
	if l == nil {
		return Stats{}
	}
	return Stats{Written: l.written.Load(), Dropped: l.dropped.Load(), Failed: l.failed.Load()}
}

// Close writes what is queued, stops the writer and closes the sink.
func (l *Logger) Close() error {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	close(l.ch)
	l.mu.Unlock()
	<-l.done
	if s := l.Stats(); s.Dropped+s.Failed > 0 {
		l.log.Warn("audit log closed with lines lost", "written", s.Written, "dropped", s.Dropped, "failed", s.Failed)
	}
	if c, ok := l.sink.(io.Closer); ok {
		return c.Close()
	}
	return nil
}
