package agent

import (
	"testing"
	"time"

	"github.com/humstack/humstack/internal/scheduler"
)

// TestCoreOptionsCarryThePolicy: the configured scheduler.policy reaches
// both the scheduler and the migration target chooser (core.Setup), not
// only the scheduler; resets.perNode and resets.timeoutSeconds reach the
// reset queue.
func TestCoreOptionsCarryThePolicy(t *testing.T) {
	cfg := defaults()
	if cfg.Resets.TimeoutSeconds != 600 {
		t.Errorf("default resets.timeoutSeconds %d, want 600", cfg.Resets.TimeoutSeconds)
	}
	cfg.Scheduler.Policy, cfg.Resets.PerNode, cfg.Resets.TimeoutSeconds = "pack", 5, 90
	opts := coreOptions(cfg, quiet)
	if opts.Resets.PerNode != 5 || opts.Resets.Timeout != 90*time.Second {
		t.Errorf("core options resets per node %d, timeout %v: want 5, 1m30s", opts.Resets.PerNode, opts.Resets.Timeout)
	}
	if opts.Scheduler.Policy != scheduler.Pack {
		t.Errorf("core options policy %q, want %q", opts.Scheduler.Policy, scheduler.Pack)
	}
	if opts.Resync != cfg.Resync() || opts.Log != quiet {
		t.Errorf("core options %+v lost the resync or the logger", opts)
	}
}
