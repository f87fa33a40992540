package api

import "testing"

func TestParseSize(t *testing.T) {
	good := map[string]int64{"0": 0, "512": 512, "1K": 1 << 10, "1Ki": 1 << 10, "10G": 10 << 30, "1Gi": 1 << 30, "2T": 2 << 40, "3M": 3 << 20}
	for s, want := range good {
		if got, err := ParseSize(s); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", s, got, err, want)
		}
	}
	for _, s := range []string{"", "1X", "G", "-1G", "+1G", "1.5G", "1 G", "99999999999T", "1g"} {
		if _, err := ParseSize(s); err == nil {
			t.Errorf("ParseSize(%q) accepted", s)
		}
	}
}

func TestParseCPU(t *testing.T) {
	good := map[string]int64{"1000m": 1000, "1": 1000, "0.5": 500, "2": 2000, "1m": 1, "1500m": 1500}
	for s, want := range good {
		if got, err := ParseCPU(s); err != nil || got != want {
			t.Errorf("ParseCPU(%q) = %d, %v; want %d", s, got, err, want)
		}
	}
	for _, s := range []string{"", "0m", "0", "0.0001", "-1", "m", "1e3", "NaN", "Inf", "+1", "1.5m", "0x10"} {
		if _, err := ParseCPU(s); err == nil {
			t.Errorf("ParseCPU(%q) accepted", s)
		}
	}
	if VCPUs(1) != 1 || VCPUs(1000) != 1 || VCPUs(1001) != 2 {
		t.Error("VCPUs rounds up")
	}
}

func FuzzQuantities(f *testing.F) {
	for _, s := range []string{"1G", "1000m", "0.5", "1Ki", "1X"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if n, err := ParseSize(s); err == nil && n < 0 {
			t.Fatalf("ParseSize(%q) = %d", s, n)
		}
		if m, err := ParseCPU(s); err == nil && (m < 1 || VCPUs(m) < 1) {
			t.Fatalf("ParseCPU(%q) = %d", s, m)
		}
	})
}

func TestHumanSize(t *testing.T) {
	for _, c := range []struct {
		in   int64
		want string
	}{
		{0, "0"},
		{1023, "1023"},
		{1 << 10, "1K"},
		{1536, "1.5K"},
		{1587, "1.5K"},            // 1.4990 rounds down
		{1588, "1.6K"},            // 1.5508 rounds up
		{5 << 30, "5G"},           // whole: no ".0"
		{24683584 << 10, "23.5G"}, // the node's detected memory, 23.539 G
		{1536 << 20, "1.5G"},
		{100 << 20, "100M"},
		{(1 << 30) - 1, "1G"},       // 1023.9999M rounds to 1024M: the next unit
		{(1 << 20) - 52, "1023.9K"}, // 1023.949K stays below
		{(1 << 20) - 51, "1M"},      // 1023.950K rounds up to 1024K
		{3 << 40, "3T"},
		{2560 << 40, "2560T"}, // no unit above T
		{(1 << 40) + (1 << 39), "1.5T"},
	} {
		if got := HumanSize(c.in); got != c.want {
			t.Errorf("HumanSize(%d) = %q, want %q", c.in, got, c.want)
		}
	}
}

// TestNodeColumns: `humcli get node` shows capacity as it is written in
// YAML, not the raw stored quantities.
func TestNodeColumns(t *testing.T) {
	n := &Node{Spec: NodeSpec{LimitMemory: "24683584K", LimitVcpus: "8000m"},
		Status: NodeStatus{AllocatedMemory: "5G", AllocatedVcpus: "2000m", AllocatedStorage: "10737418240"}}
	cols := func() map[string]string {
		got := map[string]string{}
		for _, c := range NodeKind.Columns {
			got[c.Header] = c.Value(n)
		}
		return got
	}
	if got := cols(); got["MEMORY"] != "5G/23.5G" || got["DISKS"] != "10G" || got["VCPUS"] != "2000m/8000m" {
		t.Errorf("MEMORY %q, DISKS %q, VCPUS %q; want 5G/23.5G, 10G, 2000m/8000m", got["MEMORY"], got["DISKS"], got["VCPUS"])
	}
	// With the server's allocatable (ratio 4 for vCPUs) and a cordon.
	n.Spec.Unschedulable, n.Status.State = true, NodeReady
	n.Status.Allocatable = &Amounts{MilliCPU: 32000, Memory: 24683584 << 10, Storage: -1}
	if got := cols(); got["VCPUS"] != "2000m/32000m" || got["MEMORY"] != "5G/23.5G" || got["DISKS"] != "10G" || got["STATE"] != "Ready,SchedulingDisabled" {
		t.Errorf("with allocatable: %v", got)
	}
	n.Status.Allocatable, n.Spec.Unschedulable = nil, false
	n.Spec.LimitMemory, n.Status.AllocatedMemory = "bogus", ""
	if got := cols()["MEMORY"]; got != "/bogus" {
		t.Errorf("unparsable quantities: MEMORY %q, want them as they are", got)
	}
}
