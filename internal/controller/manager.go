package controller

import (
	"context"
	"errors"
	"log/slog"
	"sync"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/controller/record"
)

// Runnable is a long-running part of an agent: an informer, a controller,
// a heartbeat loop. Start returns when ctx ends (nil) or on a fatal error.
type Runnable interface {
	Start(ctx context.Context) error
}

// RunnableFunc adapts a function to Runnable.
type RunnableFunc func(ctx context.Context) error

// Start implements Runnable.
func (f RunnableFunc) Start(ctx context.Context) error { return f(ctx) }

// Manager owns an agent's shared informers and runnables.
type Manager struct {
	Client *client.Client
	Log    *slog.Logger
	// Metrics, when set before controllers are added, is given to every
	// added Controller whose Options have no Metrics of their own.
	Metrics Metrics
	// Events is the agent's event sink, shared by its managers; whoever
	// sets it runs it (Add). Nil: events are discarded.
	Events *record.Sink

	mu        sync.Mutex
	informers map[informerKey]*Informer
	runnables []Runnable
}

type informerKey struct {
	kind   *api.Kind
	scope  client.Scope
	filter string
}

// NewManager returns a manager talking to the API through c.
func NewManager(c *client.Client, log *slog.Logger) *Manager {
	if log == nil {
		log = slog.Default()
	}
	return &Manager{Client: c, Log: log, informers: map[informerKey]*Informer{}}
}

// Informer returns the shared informer of kind k in every scope, filtered by
// filter (nil: all objects). Informers with the same filterName share one
// cache, so filterName must identify the filter.
func (m *Manager) Informer(k *api.Kind, filterName string, filter func(api.Object) bool) *Informer {
	m.mu.Lock()
	defer m.mu.Unlock()
	key := informerKey{kind: k, filter: filterName}
	if inf, ok := m.informers[key]; ok {
		return inf
	}
	inf := NewInformer(m.Client, k, client.Scope{}, filter, m.Log)
	m.informers[key] = inf
	return inf
}

// Recorder returns the event recorder of a controller or loop: its events
// name component as their source (docs/events.md lists the reasons).
func (m *Manager) Recorder(component string) record.Recorder {
	if m.Events == nil {
		return record.Discard
	}
	return m.Events.For(component)
}

// Add registers a runnable (a controller, a loop) to start with the manager.
func (m *Manager) Add(r Runnable) {
	if c, ok := r.(*Controller); ok && c.opts.Metrics == nil {
		c.opts.Metrics = m.Metrics
	}
	m.mu.Lock()
	m.runnables = append(m.runnables, r)
	m.mu.Unlock()
}

// Start runs every informer and runnable until ctx ends, and returns the
// first fatal error, cancelling the rest.
func (m *Manager) Start(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	m.mu.Lock()
	var all []Runnable
	for _, inf := range m.informers {
		all = append(all, RunnableFunc(inf.Run))
	}
	all = append(all, m.runnables...)
	m.mu.Unlock()
	errc := make(chan error, len(all))
	var wg sync.WaitGroup
	for _, r := range all {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := r.Start(ctx); err != nil {
				errc <- err
				cancel()
			}
		}()
	}
	wg.Wait()
	close(errc)
	var errs []error
	for err := range errc {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
