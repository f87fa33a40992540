package lab

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Names of what a node's agent makes for the networks' DHCP servers (see
// internal/agent/dhcp): namespaces "<node ns>-hsdhcp-<hash>", veths
// "hd<hash>" in the node's namespace, and dnsmasq processes whose options
// file lies in the lab's work dir. The sweep removes them with the
// node's namespace (the processes run inside lab namespaces); a test
// asks ServiceLeftovers to see that the agent removed them itself.
const (
	DHCPNetnsInfix = "-hsdhcp-"
	DHCPLinkPrefix = "hd"
)

// ServiceLeftovers lists what of the DHCP servers of node exists: their
// namespaces, their veths in node's namespace, and the dnsmasq processes
// of this lab (by their command line, which names the work dir).
func (l *Lab) ServiceLeftovers(ctx context.Context, node string) ([]string, error) {
	var left []string
	names, err := listNetns(l.NS(node) + DHCPNetnsInfix)
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		left = append(left, "netns "+n)
	}
	out, err := l.Exec(ctx, node, "ip", "-o", "link", "show", "type", "veth")
	if err != nil {
		return nil, err
	}
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) > 1 && strings.HasPrefix(f[1], DHCPLinkPrefix) {
			left = append(left, "veth "+strings.TrimSuffix(f[1], ":"))
		}
	}
	for _, pid := range dnsmasqPIDs(l.st.Dir) {
		left = append(left, fmt.Sprintf("dnsmasq pid %d", pid))
	}
	return left, nil
}

// dnsmasqPIDs are the processes running dnsmasq with an options file
// under dir (a lab's work dir).
func dnsmasqPIDs(dir string) []int {
	var pids []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err == nil && isDNSMasqUnder(pid, dir) {
			pids = append(pids, pid)
		}
	}
	return pids
}

func isDNSMasqUnder(pid int, dir string) bool {
	cmd, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline"))
	if err != nil {
		return false
	}
	args := bytes.Split(cmd, []byte{0})
	return filepath.Base(string(args[0])) == "dnsmasq" && bytes.Contains(cmd, []byte("--conf-file="+filepath.Clean(dir)+"/"))
}

// killDNSMasqUnder kills the DHCP servers of a lab's agents that outlived
// their namespace (the sweep finds processes through the lab's
// namespaces; one whose namespace was unmounted under it is found here,
// by its command line), each checked again just before the signal.
func killDNSMasqUnder(dir string) error {
	var errs []error
	for _, pid := range dnsmasqPIDs(dir) {
		if !isDNSMasqUnder(pid, dir) {
			continue
		}
		if err := unix.Kill(pid, unix.SIGKILL); err != nil && !errors.Is(err, unix.ESRCH) {
			errs = append(errs, fmt.Errorf("kill dnsmasq %d: %w", pid, err))
		}
	}
	return errors.Join(errs...)
}
