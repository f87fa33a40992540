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

// singleNode is `make run`'s script running in a fresh network namespace
// with extra environment, and humcli in that namespace.
type singleNode struct {
	t    *testing.T
	ns   string
	home string
	bin  string
	env  []string
	log  *testenv.SyncBuffer
}

// startSingleNode starts scripts/single-node.sh with extra environment
// (HUMSTACK_HOME, BIN, PORT and a contexts file of the test's are set).
func startSingleNode(t *testing.T, extra ...string) *singleNode {
	testenv.RequireRoot(t)
	testenv.RequireCommands(t, "ip", "nft")
	s := &singleNode{t: t, bin: labtest.BinDir(t), home: t.TempDir(), log: &testenv.SyncBuffer{}}
	s.ns, _, _ = testenv.NewNetns(t)
	if out, err := exec.Command("ip", "-n", s.ns, "link", "set", "lo", "up").CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	s.env = append(os.Environ(), "HUMSTACK_HOME="+s.home, "BIN="+s.bin, "PORT=8080",
		"HUMSTACK_CONFIG="+filepath.Join(s.home, "humcli-config"))
	s.env = append(s.env, extra...)
	run := exec.Command("ip", "netns", "exec", s.ns, "scripts/single-node.sh")
	run.Env, run.Dir = s.env, "../.."
	run.Stdout, run.Stderr = s.log, s.log // written by the script's output copiers while the test reads it
	run.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := run.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		syscall.Kill(-run.Process.Pid, syscall.SIGTERM)
		run.Wait()
		if t.Failed() {
			t.Logf("make run's output:\n%s", s.log.String())
		}
	})
	return s
}

func (s *singleNode) humcli(args ...string) (string, error) {
	c := exec.Command("ip", append([]string{"netns", "exec", s.ns, filepath.Join(s.bin, "humcli")}, args...)...)
	c.Env = s.env
	out, err := c.CombinedOutput()
	return string(out), err
}

// waitReady waits until `humcli ARGS get node` lists a Ready node.
func (s *singleNode) waitReady(args ...string) {
	start := time.Now()
	testenv.Eventually(s.t, 2*time.Minute, func() (bool, string) {
		out, err := s.humcli(append(args, "get", "node")...)
		return err == nil && strings.Contains(out, " Ready "), out
	})
	s.t.Logf("the node is listed Ready %v after start", time.Since(start).Round(time.Millisecond))
}

// TestQuickStartSecure runs `make run`'s script as it runs by default in a
// fresh network namespace: the apiserver serves HTTPS with its auto CA and
// RBAC, the script writes the humcli context (so a bare `humcli get node`
// works, and so do the seed's --api-server-address/--api-server-port
// naming that server), and the agent joins with a join token only and
// registers its node over HTTPS; no shared secret is configured anywhere.
func TestQuickStartSecure(t *testing.T) {
	s := startSingleNode(t)
	s.waitReady()
	out, _ := s.humcli("get", "node")
	t.Logf("humcli get node (no flags: the context):\n%s", out)
	if out, err := s.humcli("--api-server-address", "localhost", "--api-server-port", "8080", "get", "node"); err != nil ||
		!strings.Contains(out, " Ready ") {
		t.Errorf("the seed's flags on the make-run machine: %v\n%s", err, out)
	}
	for _, f := range []string{"node.key", "node.crt", "ca.crt"} {
		fi, err := os.Stat(filepath.Join(s.home, "pki", f))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("agent credential %s: %v (want 0600)", f, err)
		}
	}
	if fi, err := os.Stat(filepath.Join(s.home, "database", "admin.token")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("admin.token: %v (want 0600)", err)
	}
	if out, err := s.humcli("get", "node", "--api-server-address", "http://127.0.0.1:8080"); err == nil {
		t.Errorf("plain HTTP to the HTTPS apiserver worked:\n%s", out)
	}
	if !strings.Contains(s.log.String(), "cluster CA fingerprint: sha256:") {
		t.Errorf("the script did not show the CA fingerprint:\n%s", s.log.String())
	}
	cfg, _ := os.ReadFile(filepath.Join(s.home, "agent.yaml"))
	if strings.Contains(string(cfg), "joinToken:") || !strings.Contains(string(cfg), "joinTokenFile:") ||
		strings.Contains(string(cfg), "secret") {
		t.Errorf("agent config (want a join token file and no shared secret):\n%s", cfg)
	}
	// Without a secret the node listener is on (mutual TLS): the node
	// advertises it.
	if out, err := s.humcli("get", "node", "-o", "yaml"); err != nil || !strings.Contains(out, "downloadHost: 127.0.0.1:8082") {
		t.Errorf("node without a downloadHost:\n%s %v", out, err)
	}
}

// TestQuickStartInsecure runs `make run INSECURE=1`: plain HTTP,
// authorization off and a generated shared secret, the trusted-lab setup
// the original humstack's clients need, with the apiserver's warning.
func TestQuickStartInsecure(t *testing.T) {
	s := startSingleNode(t, "INSECURE=1")
	s.waitReady("--api-server-address", "127.0.0.1", "--api-server-port", "8080")
	cfg, _ := os.ReadFile(filepath.Join(s.home, "agent-insecure.yaml"))
	if !strings.Contains(string(cfg), "secretFile:") || strings.Contains(string(cfg), "joinToken") {
		t.Errorf("agent config (want the shared secret, no join token):\n%s", cfg)
	}
	apilog, _ := os.ReadFile(filepath.Join(s.home, "apiserver.log"))
	if !strings.Contains(string(apilog), "INSECURE") {
		t.Errorf("the apiserver did not warn about plain HTTP:\n%s", apilog)
	}
}
