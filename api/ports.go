package api

import (
	"fmt"
	"strconv"
	"strings"
)

// PortRange is an inclusive range of TCP or UDP ports; First == Last for
// one port.
type PortRange struct{ First, Last uint16 }

// ParsePortRange reads "22" or "8000-8080" (ports 1..65535, first <= last).
func ParsePortRange(s string) (PortRange, error) {
	lo, hi, isRange := strings.Cut(s, "-")
	first, err := parsePort(lo)
	if err != nil {
		return PortRange{}, err
	}
	last := first
	if isRange {
		if last, err = parsePort(hi); err != nil {
			return PortRange{}, err
		}
		if last < first {
			return PortRange{}, fmt.Errorf("%q: the range ends before it starts", s)
		}
	}
	return PortRange{first, last}, nil
}

func parsePort(s string) (uint16, error) {
	n, err := strconv.ParseUint(s, 10, 16)
	if err != nil || n == 0 || s != strconv.FormatUint(n, 10) {
		return 0, fmt.Errorf("%q is not a port: want 1 to 65535", s)
	}
	return uint16(n), nil
}

// Len is how many ports the range holds.
func (r PortRange) Len() int { return int(r.Last) - int(r.First) + 1 }

// String is "22" or "8000-8080".
func (r PortRange) String() string {
	if r.First == r.Last {
		return strconv.Itoa(int(r.First))
	}
	return fmt.Sprintf("%d-%d", r.First, r.Last)
}
