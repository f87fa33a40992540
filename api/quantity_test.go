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
