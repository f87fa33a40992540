package controller

import (
	"time"
)

// Outcomes of a reconcile, as metrics count them.
const (
	OutcomeSuccess = "success" // no error, nothing to look at again
	OutcomeRequeue = "requeue" // no error, asked to be reconciled again later
	OutcomeError   = "error"   // failed (retried with backoff, or terminal)
)

// OutcomeOf names the outcome of a reconcile that returned res and err.
func OutcomeOf(res Result, err error) string {
	switch {
	case err != nil:
		return OutcomeError
	case res.RequeueAfter > 0:
		return OutcomeRequeue
	}
	return OutcomeSuccess
}

// OutcomeMetrics is a Metrics that also wants each reconcile's outcome
// (a requeue is not a plain success); the runtime calls ReconciledOutcome
// instead of Reconciled when the Metrics has it.
type OutcomeMetrics interface {
	Metrics
	ReconciledOutcome(controller string, d time.Duration, outcome string, err error)
}

// QueueStats is a controller's queue seen from outside: keys waiting, and
// how long the oldest has waited.
type QueueStats func() (depth int, oldest time.Duration)

// QueueMetrics is a Metrics that also reads the controllers' queues (at
// scrape time, not on every add). WatchQueue is called when a controller
// starts; the returned func, when it stops.
type QueueMetrics interface {
	Metrics
	WatchQueue(controller string, stats QueueStats) (stop func())
}

// observe reports one reconcile to the controller's Metrics, if any.
func (c *Controller) observe(d time.Duration, res Result, err error) {
	switch m := c.opts.Metrics.(type) {
	case nil:
	case OutcomeMetrics:
		m.ReconciledOutcome(c.name, d, OutcomeOf(res, err), err)
	default:
		m.Reconciled(c.name, d, err)
	}
}

// watchQueue lets the controller's Metrics read its queue while it runs.
func (c *Controller) watchQueue() (stop func()) {
	if m, ok := c.opts.Metrics.(QueueMetrics); ok {
		return m.WatchQueue(c.name, c.queue.Stats)
	}
	return func() {}
}

// Name is the controller's name (the metrics' controller label).
func (c *Controller) Name() string { return c.name }
