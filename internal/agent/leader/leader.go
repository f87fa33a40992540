// Package leader elects one agent among several to run a set of
// controllers: the Core agents elect the one that runs the cluster-wide
// controllers, so two never act at once.
//
// Agents reach only the API, never etcd, so the lock is an API object: a
// corev0/lease. It is taken and renewed with updates conditional on its
// meta.resourceVersion (compare-and-swap in the store), so of two agents
// racing for it exactly one wins. The holder renews it every RenewPeriod.
// The others judge expiry by their own clock: a lease whose
// resourceVersion they have seen unchanged for LeaseDuration is taken
// over. Clocks of different machines are never compared.
//
// Safety: the holder stops its controllers when it has failed to renew for
// RenewDeadline (< LeaseDuration), before any other agent may take over;
// and it stops at once when a renewal is refused (someone else holds it).
// Liveness: a holder that dies is replaced within LeaseDuration plus a
// RetryPeriod or two (about 12 s with the defaults).
package leader

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
)

// Defaults of zero Config fields.
const (
	DefaultLease         = "core-controllers"
	DefaultLeaseDuration = 10 * time.Second
	DefaultRenewPeriod   = 2 * time.Second
	DefaultRetryPeriod   = time.Second
)

// Config configures an Elector.
type Config struct {
	Client *client.Client
	// Lease is the lease's id; "" means DefaultLease.
	Lease string
	// Identity is this agent's node name, written as the holder.
	Identity string
	// LeaseDuration, RenewPeriod and RetryPeriod: see the package doc.
	// RenewDeadline is LeaseDuration - 1.5 RenewPeriod.
	LeaseDuration, RenewPeriod, RetryPeriod time.Duration
	Log                                     *slog.Logger
}

// Elector campaigns for the lease and runs lead while it holds it.
type Elector struct {
	cfg    Config
	leases client.Resource[*api.Lease]
	lead   func(ctx context.Context) error
	log    *slog.Logger
	now    func() time.Time

	// observed is the lease's last resourceVersion this agent saw, and
	// when it first saw it: the base of its expiry judgement.
	observedRV string
	observedAt time.Time
	// crash skips the release on stop (tests simulate a killed agent).
	crash bool
}

// New returns an elector; add it to a controller.Manager (it is a
// Runnable). lead runs while this agent leads, with a context that ends
// when leadership ends; it must return promptly then. An error from lead
// ends the elector with that error.
func New(cfg Config, lead func(ctx context.Context) error) *Elector {
	if cfg.Lease == "" {
		cfg.Lease = DefaultLease
	}
	if cfg.LeaseDuration <= 0 {
		cfg.LeaseDuration = DefaultLeaseDuration
	}
	if cfg.RenewPeriod <= 0 {
		cfg.RenewPeriod = DefaultRenewPeriod
	}
	if cfg.RetryPeriod <= 0 {
		cfg.RetryPeriod = DefaultRetryPeriod
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	return &Elector{
		cfg: cfg, leases: client.For[*api.Lease](cfg.Client), lead: lead, now: time.Now,
		log: cfg.Log.With("component", "leader", "lease", cfg.Lease, "identity", cfg.Identity),
	}
}

// Start campaigns until ctx ends; it implements controller.Runnable.
func (e *Elector) Start(ctx context.Context) error {
	for {
		l := e.acquire(ctx)
		if l == nil {
			return nil // ctx ended
		}
		if err := e.hold(ctx, l); err != nil || ctx.Err() != nil {
			return err
		}
	}
}

// acquire returns the lease once this agent holds it, or nil when ctx ends.
func (e *Elector) acquire(ctx context.Context) *api.Lease {
	warned := false
	for {
		l, err := e.tryAcquire(ctx)
		if l != nil {
			return l
		}
		switch {
		case err == nil || ctx.Err() != nil:
		case errors.Is(err, api.ErrForbidden) && !warned:
			// An RBAC cluster grants the lease to nodes bound to the
			// built-in role core-agent only: say so once, loudly, instead
			// of never leading in silence.
			warned = true
			e.log.Error("this node may not hold the Core lease: bind it to the role core-agent (a clusterrolebinding with subject kind node; docs/security.md)",
				"identity", e.cfg.Identity, "err", err)
		default:
			e.log.Debug("lease not acquired", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(e.cfg.RetryPeriod):
		}
	}
}

// tryAcquire takes the lease if it is free, expired or already ours.
func (e *Elector) tryAcquire(ctx context.Context) (*api.Lease, error) {
	c, cancel := context.WithTimeout(ctx, e.cfg.RetryPeriod+3*time.Second)
	defer cancel()
	l, err := e.leases.Get(c, client.Scope{}, e.cfg.Lease)
	if errors.Is(err, api.ErrNotFound) {
		l = api.LeaseKind.New().(*api.Lease)
		l.Meta.ID = e.cfg.Lease
		e.fill(l, true)
		return e.leases.Create(c, l)
	}
	if err != nil {
		return nil, err
	}
	now := e.now()
	if l.Meta.ResourceVersion != e.observedRV {
		e.observedRV, e.observedAt = l.Meta.ResourceVersion, now
	}
	holder := l.Spec.HolderIdentity
	expired := now.Sub(e.observedAt) >= e.durationOf(l)
	if holder != "" && holder != e.cfg.Identity && !expired {
		return nil, nil
	}
	e.fill(l, holder != e.cfg.Identity)
	return e.leases.Update(c, l) // conditional on the resourceVersion read
}

// durationOf is the holder's published lease duration, or ours.
func (e *Elector) durationOf(l *api.Lease) time.Duration {
	if d := l.Spec.LeaseDurationSeconds; d > 0 {
		return time.Duration(d) * time.Second
	}
	return e.cfg.LeaseDuration
}

// fill writes this agent as holder; taking marks a change of holder.
func (e *Elector) fill(l *api.Lease, taking bool) {
	now := e.now().UTC().Format(time.RFC3339Nano)
	if taking {
		if l.Spec.HolderIdentity != "" || l.Spec.AcquireTime != "" {
			l.Spec.LeaseTransitions++
		}
		l.Spec.AcquireTime = now
	}
	l.Spec.HolderIdentity = e.cfg.Identity
	l.Spec.LeaseDurationSeconds = int((e.cfg.LeaseDuration + time.Second - 1) / time.Second)
	l.Spec.RenewTime = now
}

// hold runs lead and renews the lease until leadership ends: ctx ends
// (release it), a renewal is refused, renewals fail past the deadline, or
// lead returns.
func (e *Elector) hold(ctx context.Context, l *api.Lease) error {
	e.log.Info("leader elected", "transitions", l.Spec.LeaseTransitions)
	leadCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- e.lead(leadCtx) }()
	stop := func(why string, err error) error {
		cancel()
		lerr := <-done
		e.log.Info("leadership ended", "reason", why, "err", err)
		return lerr
	}
	deadline := e.cfg.LeaseDuration - e.cfg.RenewPeriod*3/2
	lastRenew := e.now()
	tick := time.NewTicker(e.cfg.RenewPeriod)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			e.release(l)
			if err == nil && ctx.Err() == nil {
				e.log.Warn("leader's controllers returned; campaigning again")
			}
			return err
		case <-ctx.Done():
			err := stop("stopping", nil)
			e.release(l)
			return err
		case <-tick.C:
		}
		renewed, err := e.renew(ctx, l)
		switch {
		case err == nil:
			l, lastRenew = renewed, e.now()
		case errors.Is(err, api.ErrConflict) || errors.Is(err, api.ErrNotFound):
			return stop("lease taken by another agent", err)
		case e.now().Sub(lastRenew) >= deadline:
			return stop("lease not renewed in time", err)
		default:
			e.log.Warn("lease renewal failed", "err", err)
		}
	}
}

func (e *Elector) renew(ctx context.Context, l *api.Lease) (*api.Lease, error) {
	c, cancel := context.WithTimeout(ctx, e.cfg.RenewPeriod+time.Second)
	defer cancel()
	next := *l
	e.fill(&next, false)
	return e.leases.Update(c, &next)
}

// release gives the lease up, so another agent takes over at once instead
// of after LeaseDuration. Best effort: failing, the lease just expires.
func (e *Elector) release(l *api.Lease) {
	if e.crash {
		return
	}
	c, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	next := *l
	next.Spec.HolderIdentity = ""
	if _, err := e.leases.Update(c, &next); err != nil {
		e.log.Debug("lease not released", "err", err)
		return
	}
	e.log.Info("lease released")
}
