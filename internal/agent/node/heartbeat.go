package node

import (
	"context"
	"errors"
	"time"

	"github.com/humstack/humstack/api"
)

// minBeatTimeout bounds one heartbeat write from below; above it, a write
// may take up to one interval before it is abandoned for the next beat.
const minBeatTimeout = 2 * time.Second

// Start heartbeats until ctx ends: every interval it writes status Ready
// with the time. A failed write is logged and retried at the next beat; it
// never stops the agent. Call Register first.
func (a *Agent) Start(ctx context.Context) error {
	t := time.NewTicker(a.opts.Heartbeat)
	defer t.Stop()
	a.beat(ctx)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			a.beat(ctx)
		}
	}
}

// beat writes one heartbeat, registering the node again if it was deleted.
func (a *Agent) beat(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, max(a.opts.Heartbeat, minBeatTimeout))
	defer cancel()
	var n *api.Node
	var err error
	if a.node != nil {
		n, err = a.writeStatus(ctx, a.node)
	}
	if a.node == nil || errors.Is(err, api.ErrNotFound) {
		if n, err = a.register(ctx); err == nil {
			a.log.Info("node registered again")
			n, err = a.writeStatus(ctx, n)
		}
	}
	if err != nil {
		if ctx.Err() == nil || errors.Is(ctx.Err(), context.DeadlineExceeded) {
			a.log.Warn("heartbeat failed; retrying at the next beat", "err", err)
		}
		return
	}
	a.node = n
	a.log.Debug("heartbeat written", "allocatedMemory", n.Status.AllocatedMemory, "allocatedVcpus", n.Status.AllocatedVcpus)
}
