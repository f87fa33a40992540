package placement

import (
	"testing"

	"github.com/humstack/humstack/api"
)

func TestFormatSize(t *testing.T) {
	for _, c := range []struct {
		in   int64
		want string
	}{
		{0, "0"}, {1, "1"}, {1000, "1000"}, {1024, "1K"}, {1536, "1536"},
		{3 << 10, "3K"}, {2 << 30, "2G"}, {1536 << 20, "1536M"}, {8 << 40, "8T"},
		{1<<30 + 1<<20, "1025M"}, {16318040 << 10, "16318040K"},
	} {
		if got := FormatSize(c.in); got != c.want {
			t.Errorf("FormatSize(%d) = %q, want %q", c.in, got, c.want)
		}
		if back, err := api.ParseSize(FormatSize(c.in)); err != nil || back != c.in {
			t.Errorf("ParseSize(FormatSize(%d)) = %d, %v", c.in, back, err)
		}
	}
}

func TestFormatMilliCPU(t *testing.T) {
	for _, c := range []struct {
		in   int64
		want string
	}{{0, "0m"}, {1500, "1500m"}, {8000, "8000m"}} {
		if got := FormatMilliCPU(c.in); got != c.want {
			t.Errorf("FormatMilliCPU(%d) = %q, want %q", c.in, got, c.want)
		}
	}
	if back, err := api.ParseCPU(FormatMilliCPU(1500)); err != nil || back != 1500 {
		t.Errorf("ParseCPU(FormatMilliCPU(1500)) = %d, %v", back, err)
	}
}
