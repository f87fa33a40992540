package scenario_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/humstack/humstack/internal/lab/labtest"
	"github.com/humstack/humstack/internal/testenv"
)

// TestQuickStartTLS runs `make run`'s script with TLS=1 in a fresh network
// namespace: the apiserver serves HTTPS with its auto CA, the script writes
// the humcli context (so a bare `humcli get node` works), and the agent
// joins with a join token only and registers its node over HTTPS; no
// shared secret is configured anywhere.
func TestQuickStartTLS(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireCommands(t, "ip", "nft")
	bin := labtest.BinDir(t)
	ns, _, _ := testenv.NewNetns(t)
	if out, err := exec.Command("ip", "-n", ns, "link", "set", "lo", "up").CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	home := t.TempDir()
	contexts := filepath.Join(home, "humcli-config")
	env := append(os.Environ(), "HUMSTACK_HOME="+home, "BIN="+bin, "PORT=8080", "TLS=1", "HUMSTACK_CONFIG="+contexts)
	var runLog testenv.SyncBuffer // written by the script's output copiers while the test reads it
	run := exec.Command("ip", "netns", "exec", ns, "scripts/single-node.sh")
	run.Env, run.Dir = env, "../.."
	run.Stdout, run.Stderr = &runLog, &runLog
	run.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	start := time.Now()
	if err := run.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		syscall.Kill(-run.Process.Pid, syscall.SIGTERM)
		run.Wait()
		if t.Failed() {
			t.Logf("make run's output:\n%s", runLog.String())
		}
	})
	humcli := func(args ...string) (string, error) {
		c := exec.Command("ip", append([]string{"netns", "exec", ns, filepath.Join(bin, "humcli")}, args...)...)
		c.Env = env
		out, err := c.CombinedOutput()
		return string(out), err
	}
	testenv.Eventually(t, 2*time.Minute, func() (bool, string) {
		out, err := humcli("get", "node")
		return err == nil && strings.Contains(out, " Ready "), out
	})
	t.Logf("make run with TLS=1: the joined node is listed %v after start", time.Since(start).Round(time.Millisecond))
	out, _ := humcli("get", "node")
	t.Logf("humcli get node (no flags: the context):\n%s", out)
	for _, f := range []string{"node.key", "node.crt", "ca.crt"} {
		fi, err := os.Stat(filepath.Join(home, "pki", f))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("agent credential %s: %v (want 0600)", f, err)
		}
	}
	if out, err := humcli("get", "node", "--api-server-address", "127.0.0.1"); err == nil {
		t.Errorf("plain HTTP to the HTTPS apiserver worked:\n%s", out)
	}
	if !strings.Contains(runLog.String(), "cluster CA fingerprint: sha256:") {
		t.Errorf("the script did not show the CA fingerprint:\n%s", runLog.String())
	}
	cfg, _ := os.ReadFile(filepath.Join(home, "agent-tls.yaml"))
	if strings.Contains(string(cfg), "joinToken:") || !strings.Contains(string(cfg), "joinTokenFile:") ||
		strings.Contains(string(cfg), "secret") {
		t.Errorf("agent config (want a join token file and no shared secret):\n%s", cfg)
	}
	// Without a secret the node listener is on (mutual TLS): the node
	// advertises it.
	if out, err := humcli("get", "node", "-o", "yaml"); err != nil || !strings.Contains(out, "downloadHost: 127.0.0.1:8082") {
		t.Errorf("node without a downloadHost:\n%s %v", out, err)
	}
}
