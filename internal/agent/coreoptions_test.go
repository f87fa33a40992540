package agent

import (
	"testing"

	"github.com/humstack/humstack/internal/scheduler"
)

// TestCoreOptionsCarryThePolicy: the configured scheduler.policy reaches
// both the scheduler and the migration target chooser (core.Setup), not
// only the scheduler; resets.perNode reaches the reset queue.
func TestCoreOptionsCarryThePolicy(t *testing.T) {
	cfg := defaults()
	cfg.Scheduler.Policy, cfg.Resets.PerNode = "pack", 5
	opts := coreOptions(cfg, quiet)
	if opts.Resets.PerNode != 5 {
		t.Errorf("core options resets per node %d, want 5", opts.Resets.PerNode)
	}
	if opts.Scheduler.Policy != scheduler.Pack {
		t.Errorf("core options policy %q, want %q", opts.Scheduler.Policy, scheduler.Pack)
	}
	if opts.Resync != cfg.Resync() || opts.Log != quiet {
		t.Errorf("core options %+v lost the resync or the logger", opts)
	}
}
