package dnsmasq

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/humstack/humstack/internal/host/procfs"

	"github.com/humstack/humstack/internal/host/netns"
	"github.com/humstack/humstack/internal/testenv"
)

// serverNetns is a fresh namespace with a veth "d0" (peer d1) holding
// 10.9.0.2/24, deleted at cleanup.
func serverNetns(t *testing.T) string {
	t.Helper()
	testenv.RequireRoot(t)
	testenv.RequireCommands(t, "ip", "dnsmasq", "busybox")
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	name := "hs-n-" + hex.EncodeToString(b) + "-dq"
	if _, err := netns.Create(name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := netns.Delete(name); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	for _, args := range [][]string{
		{"link", "set", "lo", "up"},
		{"link", "add", "d0", "type", "veth", "peer", "name", "d1"},
		{"link", "set", "d1", "up"},
		{"addr", "add", "10.9.0.2/24", "dev", "d0"},
		{"link", "set", "d0", "up"},
	} {
		if out, err := exec.Command("ip", append([]string{"-n", name}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v: %s", args, err, out)
		}
	}
	return name
}

// The server starts in its namespace, is found by its pidfile, reloads its
// hosts and DHCP options on SIGHUP without a new PID, reopens its rotated
// log, and stops.
func TestStartReloadStop(t *testing.T) {
	ns := serverNetns(t)
	dir, c, pid := startServer(t, ns)
	ctx := context.Background()
	if got, ok := Find(dir); !ok || got != pid {
		t.Fatalf("Find = %d %v, want %d", got, ok, pid)
	}
	if _, err := Start(ctx, dir, ns); err == nil {
		t.Error("a second Start succeeded")
	}
	// The process is in the namespace, not ours.
	self, _ := os.Readlink("/proc/self/ns/net")
	its, _ := os.Readlink(filepath.Join("/proc", strconv.Itoa(pid), "ns/net"))
	if its == self || its == "" {
		t.Errorf("dnsmasq runs in netns %q, ours is %q", its, self)
	}
	if in, err := InNetns(pid, ns); err != nil || !in {
		t.Errorf("InNetns(%d, %s) = %v %v", pid, ns, in, err)
	}
	// It dropped root once its sockets and files were open.
	if uid := uidOf(t, pid); uid == 0 {
		t.Errorf("dnsmasq %d runs as uid 0", pid)
	}
	out, err := exec.Command("ip", "netns", "exec", ns, "busybox", "nslookup", "vm2.ns1.group1.internal", "10.9.0.2").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "10.0.0.11") {
		t.Errorf("nslookup: %v: %s", err, out)
	}
	// The log past its bound: moved aside, and the reload below is
	// written to a new one (dnsmasq reopened it).
	logPath := filepath.Join(dir, LogName)
	testenv.Eventually(t, 5*time.Second, func() (bool, string) {
		st, err := os.Stat(logPath)
		return err == nil && st.Size() > 0, fmt.Sprintf("no start lines in %s (%v)", logPath, err)
	})
	if rotated, err := RotateLog(dir, 1); err != nil || !rotated {
		t.Fatalf("RotateLog = %v %v, want rotated", rotated, err)
	}
	if rotated, err := RotateLog(dir, MaxLogSize); err != nil || rotated {
		t.Fatalf("RotateLog of a missing log = %v %v, want nothing", rotated, err)
	}
	// New hosts and a gateway (a router arriving after the start): read
	// again on SIGHUP, no restart.
	c.Hosts = append(c.Hosts, Host{MAC: mac("52:54:00:00:00:0c"), IP: netip.MustParseAddr("10.9.0.12"), Name: "vm3"})
	c.Gateway = netip.MustParseAddr("10.9.0.1")
	f, _ := Render(c)
	ch, err := Write(dir, f)
	if err != nil || ch.Conf || !ch.Reload {
		t.Fatalf("Write = %+v %v, want only the reloaded files changed", ch, err)
	}
	if err := Reload(dir); err != nil {
		t.Fatal(err)
	}
	if got, ok := Find(dir); !ok || got != pid {
		t.Fatalf("after SIGHUP Find = %d %v, want %d", got, ok, pid)
	}
	// Read again unprivileged: the new name resolves.
	testenv.Eventually(t, 5*time.Second, func() (bool, string) {
		out, err := exec.Command("ip", "netns", "exec", ns, "busybox", "nslookup", "vm3.ns1.group1.internal", "10.9.0.2").CombinedOutput()
		return err == nil && strings.Contains(string(out), "10.9.0.12"), fmt.Sprintf("nslookup vm3 after SIGHUP: %v: %s", err, out)
	})
	// The unprivileged server logs on in the new file RotateLog made for
	// it: the reload, and the lookup below.
	testenv.Eventually(t, 5*time.Second, func() (bool, string) {
		b, _ := os.ReadFile(logPath)
		return strings.Contains(string(b), DHCPOptsName), "the reopened log does not show the options file read again:\n" + string(b)
	})
	if _, err := os.Stat(logPath + ".1"); err != nil {
		t.Errorf("rotated log: %v", err)
	}
	if st, err := os.Stat(logPath); err != nil {
		t.Errorf("new log: %v", err)
	} else if owner := int(st.Sys().(*syscall.Stat_t).Uid); owner != uidOf(t, pid) {
		t.Errorf("new log owned by uid %d, the server runs as %d", owner, uidOf(t, pid))
	}
	if err := Stop(ctx, dir); err != nil {
		t.Fatal(err)
	}
	if _, ok := Find(dir); ok {
		t.Fatal("still running after Stop")
	}
	if _, err := os.Stat(filepath.Join("/proc", strconv.Itoa(pid))); err == nil {
		b, _ := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline"))
		if strings.Contains(string(b), dir) {
			t.Fatalf("pid %d still there", pid)
		}
	}
	if err := Reload(dir); err == nil {
		t.Error("Reload of a stopped server succeeded")
	}
}

// uidOf is the real uid of process pid (/proc/<pid>/status).
func uidOf(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) > 1 && f[0] == "Uid:" {
			uid, err := strconv.Atoi(f[1])
			if err != nil {
				t.Fatal(err)
			}
			return uid
		}
	}
	t.Fatalf("no Uid in /proc/%d/status", pid)
	return -1
}

// A server whose namespace was deleted under it is not in the new one of
// that name; and Stop finds a server whose pidfile is gone by its command
// line, so nothing leaks.
func TestIdentityBeyondThePidfile(t *testing.T) {
	ns := serverNetns(t)
	dir, _, pid := startServer(t, ns)
	ctx := context.Background()
	// The namespace goes and comes back (an operator's ip netns del, then
	// the agent's next ensure).
	if err := netns.Delete(ns); err != nil {
		t.Fatal(err)
	}
	if _, err := netns.Create(ns); err != nil {
		t.Fatal(err)
	}
	if got, ok := Find(dir); !ok || got != pid {
		t.Fatalf("Find = %d %v, want %d (the pidfile still names it)", got, ok, pid)
	}
	if in, err := InNetns(pid, ns); err != nil || in {
		t.Errorf("InNetns of a server in the deleted namespace = %v %v, want false", in, err)
	}
	// The pidfile is lost: Stop still ends it.
	if err := os.Remove(filepath.Join(dir, PIDName)); err != nil {
		t.Fatal(err)
	}
	if _, ok := Find(dir); ok {
		t.Fatal("found without a pidfile")
	}
	if err := Stop(ctx, dir); err != nil {
		t.Fatal(err)
	}
	if procfs.RunningWithArg(pid, confArg(dir)) {
		t.Fatalf("dnsmasq %d still runs after Stop without its pidfile", pid)
	}
}

// startServer writes a full configuration (as the default user, on d0,
// without a gateway) into a new directory and starts the server in ns; it
// is stopped when the test ends.
func startServer(t *testing.T, ns string) (string, Config, int) {
	t.Helper()
	dir := t.TempDir()
	c := fullConfig()
	c.Dir, c.Interface, c.Address, c.Gateway, c.User = dir, "d0", netip.MustParsePrefix("10.9.0.2/24"), netip.Addr{}, "" // DefaultUser
	f, err := Render(c)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Write(dir, f); err != nil {
		t.Fatal(err)
	}
	pid, err := Start(context.Background(), dir, ns)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = Stop(context.Background(), dir) })
	return dir, c, pid
}
