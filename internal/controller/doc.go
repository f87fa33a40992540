// Package controller is the reconcile runtime every humstack controller runs
// on, after controller-runtime's shape: informers keep a list+watch cache of
// one kind (resuming after API server restarts), event handlers turn changes
// into keys on a de-duplicating work queue, and workers call a Reconciler
// with a key. Reconcilers are level-based: they re-read the object from the
// cache and converge; they never depend on seeing each event. Failed keys
// are retried with per-key exponential backoff; every key is re-queued on a
// periodic resync; panics are recovered and retried like errors.
package controller
