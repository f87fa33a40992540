package qemu

import (
	"bufio"
	"crypto/ed25519"
	"crypto/rand"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/host/cloudinit"
	"github.com/humstack/humstack/internal/lab/guest/guestcache"
	"github.com/humstack/humstack/internal/lab/guest/tiny"
	"github.com/humstack/humstack/internal/testenv"
)

// TestBootTiny runs the lab's tiny guest as the agent will: Start under
// TCG from a qcow2 overlay with a NoCloud seed, then Find, QMP status, the
// serial console up to the guest's ready marker, an online disk resize,
// and a clean ACPI Stop.
func TestBootTiny(t *testing.T) {
	testenv.RequireCommands(t, append([]string{Binary}, tiny.RequiredCommands...)...)
	ctx := testCtx(t, 5*time.Minute)
	cache, err := guestcache.TestDir()
	must(t, err)
	img, err := tiny.Build(ctx, cache)
	if err != nil {
		t.Fatalf("build tiny image: %v", err)
	}
	dir := t.TempDir()
	m := Machine{Name: "test/ns/tiny", Dir: dir, Accel: "tcg", VCPUs: 1, MemoryMiB: 128,
		Disks: []Disk{{ID: "disk0", Path: filepath.Join(dir, "disk0.qcow2")}}, Seed: filepath.Join(dir, "seed.iso")}
	qemuImg(t, "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", img.Disk, m.Disks[0].Path)
	writeSeed(t, m.Seed)
	cleanupQEMU(t, dir)

	boot := time.Now()
	pid, err := Start(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("start (daemonized): %v", time.Since(boot).Round(time.Millisecond))
	// Connect at once: output nobody reads is dropped.
	ready := readSerial(t, SerialSocket(dir), tiny.ReadyMarker)

	if got, ok := Find(dir); !ok || got != pid {
		t.Fatalf("Find = %d, %v; want %d", got, ok, pid)
	}
	q, err := DialQMP(ctx, dir)
	must(t, err)
	if st, err := q.Status(ctx); err != nil || st != "running" {
		t.Fatalf("status %q, %v", st, err)
	}
	q.Close()

	select {
	case line := <-ready:
		t.Logf("boot to %q: %v", line, time.Since(boot).Round(time.Millisecond))
	case <-time.After(2 * time.Minute):
		t.Fatal("no ready marker on the serial console after 2m")
	}

	size := virtualSize(t, m.Disks[0].Path)
	q, err = DialQMP(ctx, dir)
	must(t, err)
	must(t, q.BlockResize(ctx, "disk0", size+64<<20))
	q.Close()
	if got := virtualSize(t, m.Disks[0].Path); got != size+64<<20 {
		t.Fatalf("virtual size %d after resize, want %d", got, size+64<<20)
	}

	stop := time.Now()
	clean, err := Stop(ctx, dir, 30*time.Second)
	if err != nil || !clean {
		t.Fatalf("Stop = %v, %v; want a clean shutdown", clean, err)
	}
	t.Logf("stop (ACPI): %v", time.Since(stop).Round(time.Millisecond))
	if !procGone(pid) {
		t.Fatalf("qemu %d still runs", pid)
	}
	if _, ok := Find(dir); ok {
		t.Fatal("Find finds a stopped QEMU")
	}
	if pids := procsWith(dir); len(pids) > 0 {
		t.Fatalf("processes left: %v", pids)
	}
}

// readSerial connects to the serial console and sends the first line that
// starts with marker. It reads on until the console closes: a client that
// stops reading stalls the guest's console writes once the socket's buffer
// is full.
func readSerial(t *testing.T, path, marker string) <-chan string {
	t.Helper()
	conn, err := net.Dial("unix", path)
	must(t, err)
	t.Cleanup(func() { conn.Close() })
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(conn)
		for sc.Scan() {
			if line := strings.TrimSpace(sc.Text()); strings.HasPrefix(line, marker) {
				select {
				case found <- line:
				default:
				}
			}
		}
	}()
	return found
}

// writeSeed writes a NoCloud seed with a host name and one user; no NICs.
func writeSeed(t *testing.T, path string) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	must(t, err)
	pub, err := ssh.NewPublicKey(priv.Public())
	must(t, err)
	md, err := cloudinit.MetaData("tiny-1", "tinyvm")
	must(t, err)
	ud, err := cloudinit.UserData([]api.LoginUser{{Username: "tester",
		SSHAuthorizedKeys: []string{strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pub)))}}})
	must(t, err)
	must(t, cloudinit.WriteISOFile(path, cloudinit.Seed{MetaData: md, UserData: ud}))
}
