// Package core holds the cluster-wide controllers a Core agent runs:
// cascading deletion of groups and namespaces (in the order the kinds'
// DeleteWaitsFor declarations give, saying in their status what a deletion
// waits for), external IP bookkeeping (with the router holding each
// external IP and NAT gateway address: externalip.go, routerhold.go),
// security groups' members (secgroup.go), the scheduler (placing VMs,
// disks and routers that have no node annotation: schedule.go), and the
// phases of cold migrations (migration.go), and the reset queue of
// environments (reset.go).
// They act only through the API; nothing here touches a host.
package core

import (
	"log/slog"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/controller"
)

// Options configure the core controllers.
type Options struct {
	Log *slog.Logger
	// Workers per controller; 0 means the runtime's default.
	Workers int
	// Resync is how often every object is reconciled without a change
	// (the seed's pollingSeconds); 0 means the runtime's default.
	Resync time.Duration
	// Scheduler configures the scheduler.
	Scheduler SchedulerOptions
	// Chooser picks migration targets; nil: the scheduler's decision
	// (SchedulerChooser) under Scheduler's policy.
	Chooser TargetChooser
	// Resets configures the reset queue of environments (reset.go).
	Resets ResetOptions
}

// Setup adds the core controllers to m.
func Setup(m *controller.Manager, opts Options) error {
	if opts.Log == nil {
		opts.Log = m.Log
	}
	copts := controller.Options{Workers: opts.Workers, Log: opts.Log, Resync: opts.Resync}
	all := func(k *api.Kind) *controller.Informer { return m.Informer(k, "", nil) }
	if err := setupCascade(m, all, copts); err != nil {
		return err
	}
	setupExternalIPs(m, all, copts)
	setupSecGroupMembers(m, all, copts)
	setupEnvironments(m, all, copts)
	chooser := opts.Chooser
	if chooser == nil {
		chooser = SchedulerChooser{Policy: opts.Scheduler.Policy}
	}
	setupMigrations(m, all, copts, chooser)
	setupHolds(m, all, copts)
	setupResets(m, all, copts, opts.Resets)
	return nil
}

// SetupScheduler adds the scheduler to m: a controller each for VMs,
// disks and routers. It is apart from Setup so that tests of the other
// controllers (which place objects on nodes they never register) run
// without it.
func SetupScheduler(m *controller.Manager, opts Options) {
	if opts.Log == nil {
		opts.Log = m.Log
	}
	copts := controller.Options{Log: opts.Log, Resync: opts.Resync}
	setupScheduler(m, func(k *api.Kind) *controller.Informer { return m.Informer(k, "", nil) }, copts, opts.Scheduler)
}
