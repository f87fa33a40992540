package metrics

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// userHZ is the unit of utime and stime in /proc/<pid>/stat: USER_HZ,
// which the kernel's ABI fixes at 100 on every architecture humstack runs
// on (sysconf(_SC_CLK_TCK)).
const userHZ = 100

// procCPUSeconds is the user + system CPU time of process pid, all its
// threads, from <procRoot>/<pid>/stat.
func procCPUSeconds(procRoot string, pid int) (float64, error) {
	b, err := os.ReadFile(filepath.Join(procRoot, strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0, err
	}
	// The command (field 2) is in parentheses and may hold spaces and
	// parentheses itself: the fields that follow start after the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errors.New("malformed stat: no ')'")
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state): utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return 0, fmt.Errorf("malformed stat: %d fields after the command", len(f))
	}
	utime, err1 := strconv.ParseUint(f[11], 10, 64)
	stime, err2 := strconv.ParseUint(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("malformed stat: %w", err)
	}
	return float64(utime+stime) / userHZ, nil
}

// procRSSBytes is the resident memory of process pid (VmRSS of
// <procRoot>/<pid>/status).
func procRSSBytes(procRoot string, pid int) (int64, error) {
	b, err := os.ReadFile(filepath.Join(procRoot, strconv.Itoa(pid), "status"))
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(b)) {
		rest, ok := strings.CutPrefix(line, "VmRSS:")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("malformed VmRSS line %q", strings.TrimSpace(line))
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("malformed VmRSS line %q: %w", strings.TrimSpace(line), err)
		}
		return kb << 10, nil
	}
	return 0, errors.New("no VmRSS in status (a kernel thread or a zombie)")
}

// tapStats are an interface's counters as the host sees them.
type tapStats struct {
	rxBytes, txBytes, rxPackets, txPackets float64
}

// readTap reads <netRoot>/<tap>/statistics.
func readTap(netRoot, tap string) (tapStats, error) {
	var s tapStats
	dir := filepath.Join(netRoot, tap, "statistics")
	for name, v := range map[string]*float64{"rx_bytes": &s.rxBytes, "tx_bytes": &s.txBytes, "rx_packets": &s.rxPackets, "tx_packets": &s.txPackets} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return s, err
		}
		n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
		if err != nil {
			return s, fmt.Errorf("%s of %s: %w", name, tap, err)
		}
		*v = float64(n)
	}
	return s, nil
}
