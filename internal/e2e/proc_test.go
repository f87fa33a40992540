package e2e

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "humstack-e2e-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	build := exec.Command("go", "build", "-o", dir, "../../cmd/apiserver", "../../cmd/agent", "../../cmd/humcli")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build binaries:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// freePort asks the kernel for an unused loopback port.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// apiserver is one running apiserver process.
type apiserver struct {
	t    *testing.T
	cmd  *exec.Cmd
	addr string
	done chan struct{}
}

// startAPIServer runs bin/apiserver on port with dataDir and waits until
// /healthz answers. The process is killed at test end if still running.
func startAPIServer(t *testing.T, dataDir string, port int) *apiserver {
	t.Helper()
	logf, err := os.OpenFile(filepath.Join(dataDir, "..", "apiserver.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(filepath.Join(binDir, "apiserver"), "--listen-address", "127.0.0.1",
		"--listen-port", strconv.Itoa(port), "--data-dir", dataDir,
		// These tests are about the store and watches across restarts;
		// HTTPS and RBAC (the defaults) are proven in internal/scenario.
		"--insecure-http", "--authorization", "off")
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &apiserver{t: t, cmd: cmd, addr: "127.0.0.1:" + strconv.Itoa(port), done: make(chan struct{})}
	go func() { _ = cmd.Wait(); logf.Close(); close(s.done) }()
	t.Cleanup(s.kill)
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get("http://" + s.addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s
			}
		}
		select {
		case <-s.done:
			t.Fatalf("apiserver exited during start-up; see %s", logf.Name())
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Fatal("apiserver did not become healthy")
	return nil
}

// kill sends SIGKILL to this process (by its PID) and waits for it.
func (s *apiserver) kill() {
	select {
	case <-s.done:
		return
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.done
}

// stop sends SIGTERM and waits for a graceful exit.
func (s *apiserver) stop() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(15 * time.Second):
		s.t.Error("apiserver did not exit within 15 s of SIGTERM")
		s.kill()
	}
}

func testCtx(t *testing.T, d time.Duration) context.Context {
	c, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return c
}
