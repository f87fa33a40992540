package loadtest

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// atClkTck is the auxiliary vector's AT_CLKTCK: the kernel's USER_HZ, the
// unit of /proc/<pid>/stat's utime and stime (what sysconf(_SC_CLK_TCK)
// and getconf CLK_TCK return).
const atClkTck = 17

var clockTicks = sync.OnceValues(func() (int64, error) {
	b, err := os.ReadFile("/proc/self/auxv")
	if err != nil {
		return 0, fmt.Errorf("clock ticks: %w", err)
	}
	return parseAuxvClkTck(b)
})

// ClockTicks returns the clock ticks per second of /proc's CPU times.
func ClockTicks() (int64, error) { return clockTicks() }

// parseAuxvClkTck finds AT_CLKTCK in an auxiliary vector of native-endian
// 64-bit (key, value) pairs ended by AT_NULL.
func parseAuxvClkTck(b []byte) (int64, error) {
	for ; len(b) >= 16; b = b[16:] {
		key, val := binary.NativeEndian.Uint64(b), binary.NativeEndian.Uint64(b[8:])
		if key == 0 {
			break
		}
		if key == atClkTck && val > 0 {
			return int64(val), nil
		}
	}
	return 0, errors.New("clock ticks: no AT_CLKTCK in /proc/self/auxv")
}

// CPUTime returns the CPU time (user + system, all threads) process pid has
// used so far, at the resolution of one clock tick (10 ms at 100 Hz):
// callers measure deltas over enough work that a tick is small.
func CPUTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("cpu time: %w", err)
	}
	ticks, err := parseStatTicks(b)
	if err != nil {
		return 0, err
	}
	hz, err := ClockTicks()
	if err != nil {
		return 0, err
	}
	return time.Duration(ticks) * time.Second / time.Duration(hz), nil
}

// parseStatTicks returns utime + stime (fields 14 and 15, proc(5)) of a
// /proc/<pid>/stat line. Field 2, the command in parentheses, may hold
// spaces and parentheses itself, so fields are counted after the last ')'.
func parseStatTicks(b []byte) (int64, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errors.New("cpu time: /proc stat line without a command")
	}
	f := strings.Fields(string(b[i+1:])) // f[0] is field 3 (state)
	if len(f) < 13 {
		return 0, fmt.Errorf("cpu time: /proc stat line has %d fields after the command", len(f))
	}
	var sum int64
	for _, s := range f[11:13] { // fields 14 (utime) and 15 (stime)
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("cpu time: %w", err)
		}
		sum += v
	}
	return sum, nil
}

// Mem is a process's resident set in bytes: now, its high-water mark, and
// now's two main parts: anonymous memory (the Go heap, stacks, the
// runtime's) and file pages mapped in (with bbolt, the database file's
// pages the server has touched: page cache, which the kernel can drop and
// reread, and which another process mapping the file would share).
type Mem struct {
	RSS, HWM       int64
	Anon, FilePage int64
}

// Memory reads VmRSS, VmHWM, RssAnon and RssFile from /proc/<pid>/status.
func Memory(pid int) (Mem, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return Mem{}, fmt.Errorf("memory: %w", err)
	}
	return parseStatusMem(b)
}

// parseStatusMem reads the "VmRSS:  1234 kB", "VmHWM:", "RssAnon:" and
// "RssFile:" lines.
func parseStatusMem(b []byte) (Mem, error) {
	var m Mem
	var seen int
	for line := range strings.Lines(string(b)) {
		key, rest, ok := strings.Cut(line, ":")
		var dst *int64
		switch {
		case !ok:
			continue
		case key == "VmRSS":
			dst = &m.RSS
		case key == "VmHWM":
			dst = &m.HWM
		case key == "RssAnon":
			dst = &m.Anon
		case key == "RssFile":
			dst = &m.FilePage
		default:
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return Mem{}, fmt.Errorf("memory: unexpected %s line %q", key, strings.TrimSpace(line))
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return Mem{}, fmt.Errorf("memory: %w", err)
		}
		*dst = kb << 10
		seen++
	}
	if seen != 4 {
		return Mem{}, errors.New("memory: no VmRSS, VmHWM, RssAnon and RssFile in /proc status")
	}
	return m, nil
}

// ResetHWM sets process pid's VmHWM to its current RSS (proc(5),
// /proc/<pid>/clear_refs: "5"), so a later VmHWM is the peak since now.
func ResetHWM(pid int) error {
	if err := os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0); err != nil {
		return fmt.Errorf("reset high-water mark: %w", err)
	}
	return nil
}

// MappedRSS returns how much of the files under dir that process pid maps
// is resident (the Rss of those mappings in /proc/<pid>/smaps): with bbolt,
// the database file's pages the server has touched.
func MappedRSS(pid int, dir string) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps", pid))
	if err != nil {
		return 0, fmt.Errorf("mapped files: %w", err)
	}
	return parseSmapsRSS(b, strings.TrimSuffix(dir, "/")+"/")
}

// parseSmapsRSS sums the "Rss:" lines of the mappings whose path starts
// with prefix. A mapping starts with a line "start-end perms offset dev
// inode [path]"; its fields ("Rss:  12 kB") follow.
func parseSmapsRSS(b []byte, prefix string) (int64, error) {
	var sum int64
	in := false
	for line := range strings.Lines(string(b)) {
		f := strings.Fields(line)
		if len(f) >= 5 && strings.Contains(f[0], "-") && !strings.HasSuffix(f[0], ":") {
			in = len(f) >= 6 && strings.HasPrefix(strings.Join(f[5:], " "), prefix)
			continue
		}
		if !in || len(f) != 3 || f[0] != "Rss:" {
			continue
		}
		kb, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil || f[2] != "kB" {
			return 0, fmt.Errorf("mapped files: unexpected line %q", strings.TrimSpace(line))
		}
		sum += kb << 10
	}
	return sum, nil
}
