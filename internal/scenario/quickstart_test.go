package scenario_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/humstack/humstack/internal/lab/guest/tiny"
	"github.com/humstack/humstack/internal/lab/labtest"
	"github.com/humstack/humstack/internal/testenv"
)

// TestQuickStart runs the README's commands as a user would — the scripts
// behind `make run` and `make demo` — inside a fresh network namespace
// standing for a fresh machine: a single-node humstack comes up, the demo
// VM answers ping, and deleting the demo group leaves only loopback.
func TestQuickStart(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireCommands(t, append([]string{"qemu-system-x86_64", "ssh-keygen", "ping"}, tiny.RequiredCommands...)...)
	bin := labtest.BinDir(t)
	if out, err := exec.Command("go", "build", "-o", filepath.Join(bin, "humlab"), "../../cmd/humlab").CombinedOutput(); err != nil {
		t.Fatalf("build humlab: %v\n%s", err, out)
	}
	ns, _, _ := testenv.NewNetns(t)
	if out, err := exec.Command("ip", "-n", ns, "link", "set", "lo", "up").CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	home := t.TempDir()
	// The script writes the humcli context "local" there; demo.sh and the
	// test's humcli use it.
	env := append(os.Environ(), "HUMSTACK_HOME="+home, "BIN="+bin, "PORT=8080",
		"HUMSTACK_CONFIG="+filepath.Join(home, "humcli-config"))
	script := func(name string) *exec.Cmd {
		c := exec.Command("ip", "netns", "exec", ns, "scripts/"+name)
		c.Env, c.Dir = env, "../.." // the repository root, as the README says
		return c
	}

	var runLog bytes.Buffer
	run := script("single-node.sh")
	run.Stdout, run.Stderr = &runLog, &runLog
	run.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	start := time.Now()
	if err := run.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// The script, its apiserver and agent form one process group;
		// VMs are not in it (QEMU daemonizes) and are removed below.
		syscall.Kill(-run.Process.Pid, syscall.SIGTERM)
		run.Wait()
		killQEMU(t, home)
	})

	demo := script("demo.sh")
	out, err := demo.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "answers ping at 10.0.0.10") {
		t.Fatalf("demo: %v\n%s\nmake run's output:\n%s", err, out, runLog.String())
	}
	t.Logf("make run + make demo: the VM answers ping %v after start", time.Since(start).Round(time.Millisecond))

	humcli := func(args ...string) string {
		c := exec.Command("ip", append([]string{"netns", "exec", ns, filepath.Join(bin, "humcli")}, args...)...)
		c.Env = env
		out, err := c.CombinedOutput()
		if err != nil {
			t.Fatalf("humcli %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	humcli("delete", "group", "demo")
	testenv.Eventually(t, time.Minute, func() (bool, string) {
		out := humcli("get", "vm", "-A")
		return strings.Contains(out, "No virtualmachines"), out
	})
	testenv.Eventually(t, 30*time.Second, func() (bool, string) {
		out, _ := exec.Command("ip", "-n", ns, "-o", "link", "show").Output()
		return strings.Count(strings.TrimSpace(string(out)), "\n") == 0, "links left:\n" + string(out)
	})
}

// killQEMU ends QEMU processes of the VMs under home (a failed test's).
func killQEMU(t *testing.T, home string) {
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		cmd, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !strings.Contains(string(cmd), "qemu-system") || !strings.Contains(string(cmd), home) {
			continue
		}
		if pid, err := strconv.Atoi(e.Name()); err == nil {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Logf("killed leftover QEMU %d", pid)
		}
	}
}
