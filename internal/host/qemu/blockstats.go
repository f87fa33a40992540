package qemu

import (
	"context"
	"strings"
)

// BlockStats are a disk's I/O counters since QEMU started.
type BlockStats struct {
	ReadBytes, WriteBytes int64
	Reads, Writes         int64 // operations
}

// BlockStats returns the I/O counters of the guest's disks by disk ID (the
// block node name of Disk.ID), from query-blockstats. Drives that are not
// disks of the machine (the cloud-init CD) are left out.
func (q *QMP) BlockStats(ctx context.Context) (map[string]BlockStats, error) {
	var devs []struct {
		NodeName string `json:"node-name"`
		QDev     string `json:"qdev"`
		Stats    struct {
			RdBytes int64 `json:"rd_bytes"`
			WrBytes int64 `json:"wr_bytes"`
			RdOps   int64 `json:"rd_operations"`
			WrOps   int64 `json:"wr_operations"`
		} `json:"stats"`
	}
	if err := q.Run(ctx, "query-blockstats", nil, &devs); err != nil {
		return nil, err
	}
	out := map[string]BlockStats{}
	for _, d := range devs {
		id := diskOf(d.NodeName, d.QDev)
		if id == "" {
			continue
		}
		out[id] = BlockStats{ReadBytes: d.Stats.RdBytes, WriteBytes: d.Stats.WrBytes, Reads: d.Stats.RdOps, Writes: d.Stats.WrOps}
	}
	return out, nil
}

// diskOf is the disk ID of a query-blockstats entry: its root node's name
// (diskArgs names it after the disk), else the disk's device
// ("/machine/peripheral/<id>_blk/virtio-backend"); "" for other drives.
func diskOf(nodeName, qdev string) string {
	if diskIDRE.MatchString(nodeName) && nodeName != seedNode {
		return nodeName
	}
	for _, part := range strings.Split(qdev, "/") {
		if id, ok := strings.CutSuffix(part, "_blk"); ok && diskIDRE.MatchString(id) {
			return id
		}
	}
	return ""
}
