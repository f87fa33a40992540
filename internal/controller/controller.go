package controller

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"runtime/debug"
	"sync"
	"time"

	"github.com/humstack/humstack/api"
)

// Result tells the runtime when to look at a key again without a change.
type Result struct {
	// RequeueAfter > 0 reconciles the key again after that long: for
	// polling external state (a download, a process, a deadline).
	RequeueAfter time.Duration
}

// Reconciler converges one object. It must be idempotent and level-based:
// re-read the object (it may be gone), compare with the world, act.
type Reconciler interface {
	Reconcile(ctx context.Context, key Key) (Result, error)
}

// ReconcilerFunc adapts a function to Reconciler.
type ReconcilerFunc func(ctx context.Context, key Key) (Result, error)

// Reconcile implements Reconciler.
func (f ReconcilerFunc) Reconcile(ctx context.Context, key Key) (Result, error) { return f(ctx, key) }

type terminalError struct{ err error }

func (e terminalError) Error() string { return e.err.Error() }
func (e terminalError) Unwrap() error { return e.err }

// Terminal marks an error that retrying cannot fix (bad input the API
// accepted, a missing host feature): it is logged, not retried, until the
// object changes or the resync comes round.
func Terminal(err error) error { return terminalError{err} }

// Metrics receives one observation per reconcile; nil discards them.
type Metrics interface {
	Reconciled(controller string, d time.Duration, err error)
}

// Options configure a Controller.
type Options struct {
	Workers int           // default 2
	Resync  time.Duration // default 5m; every key is reconciled this often
	Log     *slog.Logger
	Metrics Metrics
}

// Controller feeds keys of its primary informer (and of anything mapped to
// them) to a Reconciler.
type Controller struct {
	name    string
	r       Reconciler
	opts    Options
	queue   *Queue[Key]
	primary *Informer
	watched []*Informer
	log     *slog.Logger
}

// New returns a controller reconciling the objects of primary.
func New(name string, primary *Informer, r Reconciler, opts Options) *Controller {
	if opts.Workers <= 0 {
		opts.Workers = 2
	}
	if opts.Resync <= 0 {
		opts.Resync = 5 * time.Minute
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	c := &Controller{name: name, r: r, opts: opts, queue: NewQueue[Key](), primary: primary,
		log: opts.Log.With("controller", name)}
	primary.AddHandler(func(old, new api.Object) {
		if new != nil {
			c.queue.Add(KeyOf(new))
		} else if old != nil {
			c.queue.Add(KeyOf(old))
		}
	})
	return c
}

// Watch also reconciles the keys mapFn returns for each change in inf:
// e.g. the VMs that use a disk when the disk changes.
func (c *Controller) Watch(inf *Informer, mapFn func(api.Object) []Key) {
	c.watched = append(c.watched, inf)
	inf.AddHandler(func(old, new api.Object) {
		for _, o := range []api.Object{old, new} {
			if o != nil {
				for _, k := range mapFn(o) {
					c.queue.Add(k)
				}
			}
		}
	})
}

// Enqueue asks for a reconcile of k.
func (c *Controller) Enqueue(k Key) { c.queue.Add(k) }

// Start runs the workers until ctx ends. The informers must be running; keys
// are processed once the primary and every watched informer have synced: a
// reconciler that reads a cache still empty after a restart would conclude
// that nothing uses a network, or that a namespace is empty, and act on it.
func (c *Controller) Start(ctx context.Context) error {
	for _, inf := range append([]*Informer{c.primary}, c.watched...) {
		if !inf.WaitSynced(ctx) {
			return nil
		}
	}
	defer c.watchQueue()()
	var wg sync.WaitGroup
	for i := 0; i < c.opts.Workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c.processNext(ctx) {
			}
		}()
	}
	go c.resyncLoop(ctx)
	<-ctx.Done()
	c.queue.ShutDown()
	wg.Wait()
	return nil
}

func (c *Controller) resyncLoop(ctx context.Context) {
	for {
		// Jitter spreads the resyncs of many agents and controllers.
		d := c.opts.Resync + time.Duration(rand.Int64N(int64(c.opts.Resync)/10+1))
		select {
		case <-ctx.Done():
			return
		case <-time.After(d):
		}
		for _, o := range c.primary.List() {
			c.queue.Add(KeyOf(o))
		}
	}
}

func (c *Controller) processNext(ctx context.Context) bool {
	key, ok := c.queue.Get()
	if !ok {
		return false
	}
	defer c.queue.Done(key)
	id := reconcileID()
	log := c.log.With("key", key.String(), "reconcile_id", id)
	start := time.Now()
	res, err := c.reconcile(WithLogger(ctx, log), key)
	c.observe(time.Since(start), res, err)
	var term terminalError
	switch {
	case ctx.Err() != nil:
	case errors.As(err, &term):
		log.Error("reconcile failed; not retrying", "err", err)
		c.queue.Forget(key)
	case err != nil:
		log.Warn("reconcile failed; will retry", "err", err, "attempt", c.queue.Failures(key)+1)
		c.queue.AddRateLimited(key)
	default:
		c.queue.Forget(key)
		if res.RequeueAfter > 0 {
			c.queue.AddAfter(key, res.RequeueAfter)
		}
	}
	return true
}

// reconcile calls the reconciler, turning a panic into an error.
func (c *Controller) reconcile(ctx context.Context, key Key) (res Result, err error) {
	defer func() {
		if p := recover(); p != nil {
			Logger(ctx).Error("reconciler panicked", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	return c.r.Reconcile(ctx, key)
}

func reconcileID() string {
	var b [6]byte
	_, _ = crand.Read(b[:])
	return hex.EncodeToString(b[:])
}

type logKey struct{}

// WithLogger returns ctx carrying log.
func WithLogger(ctx context.Context, log *slog.Logger) context.Context {
	return context.WithValue(ctx, logKey{}, log)
}

// Logger returns the logger in ctx (with controller, key and reconcile id).
func Logger(ctx context.Context) *slog.Logger {
	if l, ok := ctx.Value(logKey{}).(*slog.Logger); ok {
		return l
	}
	return slog.Default()
}
