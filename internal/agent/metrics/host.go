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

// readNetDev reads the counters of every interface of the agent's network
// namespace from path (/proc/net/dev, which shows the reading process's
// namespace, where the taps are, whatever /sys was mounted for): one read
// per scrape for all VMs.
func readNetDev(path string) (map[string]tapStats, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	out := map[string]tapStats{}
	for line := range strings.Lines(string(b)) {
		name, rest, ok := strings.Cut(line, ":")
		if !ok || strings.Contains(name, "|") { // the two header lines
			continue
		}
		// Receive: bytes packets errs drop fifo frame compressed
		// multicast; then Transmit: bytes packets ...
		f := strings.Fields(rest)
		if len(f) < 10 {
			return nil, fmt.Errorf("%s: malformed line %q", path, strings.TrimSpace(line))
		}
		var v [4]uint64
		for i, j := range []int{0, 1, 8, 9} {
			if v[i], err = strconv.ParseUint(f[j], 10, 64); err != nil {
				return nil, fmt.Errorf("%s: malformed line %q: %w", path, strings.TrimSpace(line), err)
			}
		}
		out[strings.TrimSpace(name)] = tapStats{rxBytes: float64(v[0]), rxPackets: float64(v[1]), txBytes: float64(v[2]), txPackets: float64(v[3])}
	}
	return out, nil
}
