package api

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

var sizeUnits = []struct {
	suffix string
	mult   int64
}{
	{"Ki", 1 << 10}, {"Mi", 1 << 20}, {"Gi", 1 << 30}, {"Ti", 1 << 40},
	{"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"T", 1 << 40},
}

// ParseSize parses a byte size: a whole number with an optional binary unit
// K, M, G, T (or Ki, Mi, Gi, Ti). "1G" is 1<<30 bytes.
func ParseSize(s string) (int64, error) {
	num, mult := s, int64(1)
	for _, u := range sizeUnits {
		if strings.HasSuffix(s, u.suffix) {
			num, mult = strings.TrimSuffix(s, u.suffix), u.mult
			break
		}
	}
	// No sign at all: ParseInt would take "+1" and "-0" (which n < 0 misses).
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 || num == "" || num[0] == '+' || num[0] == '-' {
		return 0, fmt.Errorf("invalid size %q (want a whole number with an optional unit K, M, G, T)", s)
	}
	if n > math.MaxInt64/mult {
		return 0, fmt.Errorf("size %q is too large", s)
	}
	return n * mult, nil
}

// ParseCPU parses a CPU quantity into millicores: "1000m", "1" and "0.5" are
// accepted; zero, negative and values that round to 0m are not.
func ParseCPU(s string) (int64, error) {
	bad := fmt.Errorf("invalid cpu quantity %q (want e.g. 1000m or 1)", s)
	var milli float64
	if num, ok := strings.CutSuffix(s, "m"); ok {
		n, err := strconv.ParseInt(num, 10, 64)
		if err != nil || num == "" || num[0] == '+' {
			return 0, bad
		}
		milli = float64(n)
	} else {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || s == "" || strings.ContainsAny(s, "eEInN+xXpP_") {
			return 0, bad
		}
		milli = math.Round(f * 1000)
	}
	if milli < 1 {
		return 0, fmt.Errorf("cpu quantity %q must be at least 1m", s)
	}
	if milli > 1e9 {
		return 0, fmt.Errorf("cpu quantity %q is too large", s)
	}
	return int64(milli), nil
}

// VCPUs converts millicores to whole vCPUs, rounding up.
func VCPUs(milli int64) int64 { return (milli + 999) / 1000 }

// humanUnits are the units HumanSize writes, smallest first.
var humanUnits = []string{"K", "M", "G", "T"}

// HumanSize renders bytes as sizes are written in YAML, for people: the
// largest binary unit K, M, G or T the size reaches, with at most one
// decimal, rounded half away from zero and without a trailing ".0":
// 5<<30 is "5G", 24683584<<10 is "23.5G", 1536 is "1.5K". Sizes under 1K
// are plain bytes. A size that rounds up to 1024 of a unit moves to the
// next one ("1G", not "1024M"). It is for display: ParseSize takes whole
// numbers only.
func HumanSize(bytes int64) string {
	if bytes < 1<<10 {
		return strconv.FormatInt(bytes, 10)
	}
	v := float64(bytes)
	u := -1
	for u+1 < len(humanUnits) && (u < 0 || v >= 1<<10) {
		v /= 1 << 10
		u++
	}
	r := math.Round(v*10) / 10
	if r >= 1<<10 && u+1 < len(humanUnits) {
		r, u = math.Round(r/(1<<10)*10)/10, u+1
	}
	return strings.TrimSuffix(strconv.FormatFloat(r, 'f', 1, 64), ".0") + humanUnits[u]
}

// humanQuantity is HumanSize of a size as written ("24683584K"); what
// does not parse is shown as it is.
func humanQuantity(s string) string {
	n, err := ParseSize(s)
	if err != nil {
		return s
	}
	return HumanSize(n)
}
