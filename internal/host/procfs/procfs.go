// Package procfs answers the questions the host adapters ask of /proc
// about the daemons they start (QEMU, dnsmasq): is this PID still the
// process we started, or has it exited and its number gone to another?
package procfs

import (
	"bytes"
	"fmt"
	"os"
)

// RunningWithArg reports whether /proc/<pid> is a live (not zombie)
// process that has arg as one whole element of its command line: a
// daemon found by its pidfile is the one started only if its command
// line still names what it was started for (its pidfile, its config).
func RunningWithArg(pid int, arg string) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the command name in parentheses, which may itself
	// contain ") ".
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 || i+2 >= len(stat) || stat[i+2] == 'Z' || stat[i+2] == 'X' {
		return false
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return false
	}
	for _, a := range bytes.Split(cmdline, []byte{0}) {
		if string(a) == arg {
			return true
		}
	}
	return false
}
