package qemu

import (
	"testing"
	"time"
)

// TestBlockStats: the disks' counters by disk ID, from the node name or
// else the device path; the seed CD and unnamed nodes are left out.
func TestBlockStats(t *testing.T) {
	dir := t.TempDir()
	serveFakeQMP(t, dir, func(cmd map[string]any) []string {
		switch cmd["execute"] {
		case "qmp_capabilities":
			return []string{`{"return": {}, "id": ID}`}
		case "query-blockstats":
			return []string{`{"return": [` +
				`{"device": "", "node-name": "disk0", "qdev": "/machine/peripheral/disk0_blk/virtio-backend",` +
				` "stats": {"rd_bytes": 4096, "wr_bytes": 512, "rd_operations": 3, "wr_operations": 1, "flush_operations": 9}},` +
				`{"device": "", "qdev": "/machine/peripheral/disk1_blk/virtio-backend",` +
				` "stats": {"rd_bytes": 7, "wr_bytes": 8, "rd_operations": 9, "wr_operations": 10}},` +
				`{"device": "", "node-name": "hs_seed", "qdev": "hs_seed_cd", "stats": {"rd_bytes": 100}},` +
				`{"device": "", "node-name": "#block412", "stats": {"rd_bytes": 100}}` +
				`], "id": ID}`}
		}
		return []string{`{"error": {"class": "CommandNotFound", "desc": "no"}, "id": ID}`}
	})
	ctx := testCtx(t, 10*time.Second)
	q, err := DialQMP(ctx, dir)
	must(t, err)
	defer q.Close()
	got, err := q.BlockStats(ctx)
	must(t, err)
	want := map[string]BlockStats{
		"disk0": {ReadBytes: 4096, WriteBytes: 512, Reads: 3, Writes: 1},
		"disk1": {ReadBytes: 7, WriteBytes: 8, Reads: 9, Writes: 10},
	}
	if len(got) != len(want) || got["disk0"] != want["disk0"] || got["disk1"] != want["disk1"] {
		t.Fatalf("BlockStats = %+v, want %+v", got, want)
	}
}
