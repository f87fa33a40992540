package qemu

import (
	"context"
	"errors"
	"fmt"
)

// ErrShrink is returned by BlockResize for a size below the disk's
// current one: shrinking a disk under a running guest destroys its data.
var ErrShrink = errors.New("disk would shrink")

// DiskSize is the virtual size in bytes of the disk with ID diskID (its
// block node).
func (q *QMP) DiskSize(ctx context.Context, diskID string) (int64, error) {
	var nodes []struct {
		NodeName string `json:"node-name"`
		Image    struct {
			VirtualSize int64 `json:"virtual-size"`
		} `json:"image"`
	}
	if err := q.Run(ctx, "query-named-block-nodes", map[string]any{"flat": true}, &nodes); err != nil {
		return 0, err
	}
	for _, n := range nodes {
		if n.NodeName == diskID {
			return n.Image.VirtualSize, nil
		}
	}
	return 0, fmt.Errorf("qmp: no disk %q", diskID)
}

// BlockResize grows the disk with ID diskID to bytes while the guest runs
// (the guest sees the new capacity at once). It is idempotent: the current
// size does nothing, and a smaller one is refused with ErrShrink. QEMU
// requires qcow2 sizes to be multiples of 512.
func (q *QMP) BlockResize(ctx context.Context, diskID string, bytes int64) error {
	if !diskIDRE.MatchString(diskID) {
		return fmt.Errorf("block resize: disk id %q: %w", diskID, ErrInvalid)
	}
	cur, err := q.DiskSize(ctx, diskID)
	if err != nil {
		return fmt.Errorf("block resize %s: %w", diskID, err)
	}
	switch {
	case bytes == cur:
		return nil
	case bytes < cur:
		return fmt.Errorf("block resize %s from %d to %d bytes: %w", diskID, cur, bytes, ErrShrink)
	}
	if err := q.Run(ctx, "block_resize", map[string]any{"node-name": diskID, "size": bytes}, nil); err != nil {
		return fmt.Errorf("block resize %s to %d bytes: %w", diskID, bytes, err)
	}
	return nil
}
