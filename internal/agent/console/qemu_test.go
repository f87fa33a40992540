package console_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/humstack/humstack/internal/agent/console"
	"github.com/humstack/humstack/internal/agent/console/consoletest"
	"github.com/humstack/humstack/internal/host/cloudinit"
	"github.com/humstack/humstack/internal/lab/guest/guestcache"
	"github.com/humstack/humstack/internal/lab/guest/tiny"
	"github.com/humstack/humstack/internal/testenv"
)

// TestRealQEMU boots the tiny guest under TCG with its serial port on a
// chardev socket and VNC on a unix socket, as the agent runs VMs, and
// checks the relay logs the guest's boot to its ready marker, that a
// session attached before QEMU started sees it too, and that the VNC
// websocket gets QEMU's RFB greeting.
func TestRealQEMU(t *testing.T) {
	testenv.RequireCommands(t, append([]string{"qemu-system-x86_64"}, tiny.RequiredCommands...)...)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cache, err := guestcache.TestDir()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	img, err := tiny.Build(ctx, cache)
	if err != nil {
		t.Fatalf("build the tiny guest: %v", err)
	}
	t.Logf("tiny image ready in %v", time.Since(start).Round(time.Millisecond))

	dir := t.TempDir()
	m := console.NewManager(func(console.Key) string { return dir }, slog.New(slog.DiscardHandler))
	defer m.Close()
	srv := httptest.NewServer(consoletest.Listener(secret, m, nil))
	defer srv.Close()
	a := &bareAgent{srv: srv}
	m.Start(vm1) // before QEMU: the relay waits for the socket
	session := &reader{c: a.dial(t, console.SerialPath(vm1))}

	boot := time.Now()
	startQEMU(t, dir, img.Disk, writeSeed(t))
	session.within(t, 3*time.Minute, tiny.ReadyMarker)
	t.Logf("boot to %s on the relayed console: %v", tiny.ReadyMarker, time.Since(boot).Round(time.Millisecond))

	code, body, _ := get(t, srv.URL+console.LogPath(vm1), secret)
	if code != 200 || !strings.Contains(body, tiny.ReadyMarker) {
		t.Fatalf("log: HTTP %d, %d bytes without %s", code, len(body), tiny.ReadyMarker)
	}
	vnc := &reader{c: a.dial(t, console.VNCPath(vm1))}
	if got := vnc.until(t, "\n"); !strings.HasPrefix(got, "RFB 003.008") {
		t.Fatalf("VNC greeting %q", got)
	}
	vnc.c.Close(websocket.StatusNormalClosure, "")
}

// bareAgent dials a bare httptest server the way dial dials an Agent.
type bareAgent struct{ srv *httptest.Server }

func (a *bareAgent) dial(t *testing.T, path string) *websocket.Conn {
	t.Helper()
	c, _, err := websocket.Dial(testCtx(t), a.srv.URL+path, &websocket.DialOptions{
		HTTPHeader: map[string][]string{"Authorization": {"Bearer " + secret}},
	})
	if err != nil {
		t.Fatalf("dial %s: %v", path, err)
	}
	t.Cleanup(func() { c.CloseNow() })
	return c
}

func writeSeed(t *testing.T) string {
	md, err := cloudinit.MetaData("console-test-1", "consolevm")
	if err != nil {
		t.Fatal(err)
	}
	ud, err := cloudinit.UserData(nil)
	if err != nil {
		t.Fatal(err)
	}
	nc, err := cloudinit.NetworkConfig(nil)
	if err != nil {
		t.Fatal(err)
	}
	seed := filepath.Join(t.TempDir(), "seed.iso")
	if err := cloudinit.WriteISOFile(seed, cloudinit.Seed{MetaData: md, UserData: ud, NetworkConfig: nc}); err != nil {
		t.Fatal(err)
	}
	return seed
}

// startQEMU boots disk (through an overlay) with the consoles on sockets
// in dir, and kills QEMU by PID when the test ends.
func startQEMU(t *testing.T, dir, disk, seed string) {
	overlay := filepath.Join(t.TempDir(), "overlay.qcow2")
	if out, err := exec.Command("qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", disk, overlay).CombinedOutput(); err != nil {
		t.Fatalf("overlay: %v: %s", err, out)
	}
	cmd := exec.Command("qemu-system-x86_64",
		"-accel", "tcg,tb-size=256", "-m", "128", "-smp", "1",
		"-nodefaults", "-no-user-config", "-display", "none",
		"-chardev", "socket,id=s0,path="+filepath.Join(dir, console.SerialSocket)+",server=on,wait=off",
		"-serial", "chardev:s0",
		"-vnc", "unix:"+filepath.Join(dir, console.VNCSocket),
		"-drive", "file="+overlay+",if=virtio,format=qcow2",
		"-drive", "file="+seed+",media=cdrom,if=ide,format=raw,readonly=on")
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start qemu: %v", err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Errorf("qemu %d did not exit", cmd.Process.Pid)
		}
		if t.Failed() {
			t.Logf("qemu output: %s", stderr.String())
		}
	})
}
