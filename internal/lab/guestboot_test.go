package lab_test

import (
	"context"
	"crypto/sha256"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/host/cloudinit"
	"github.com/humstack/humstack/internal/lab"
	"github.com/humstack/humstack/internal/lab/guest/debian"
	"github.com/humstack/humstack/internal/lab/guest/guestcache"
	"github.com/humstack/humstack/internal/lab/guest/tiny"
	"github.com/humstack/humstack/internal/lab/labtest"
	"github.com/humstack/humstack/internal/testenv"
)

// TestTinyGuestInALabNode is the lab's end-to-end proof: the tiny image is
// served over HTTP from the hub like a user's image URL, fetched from inside
// a lab node, and booted there from disk under TCG with a NoCloud seed on a
// bridge of that node; the test pings it and logs in over SSH.
func TestTinyGuestInALabNode(t *testing.T) {
	testenv.RequireCommands(t, append([]string{"qemu-system-x86_64"}, tiny.RequiredCommands...)...)
	bootInLab(t, guest{name: "tiny", user: "tester", memory: "128", smp: "1", timeout: 2 * time.Minute,
		build: func(ctx context.Context) (string, error) {
			img, err := tiny.Build(ctx, cacheDir(t))
			return img.Disk, err
		}})
}

// TestDebianGuestInALabNode does the same with the Debian cloud image and
// Debian's own cloud-init, and checks that cloud-init finished.
func TestDebianGuestInALabNode(t *testing.T) {
	testenv.RequireCommands(t, "qemu-system-x86_64", "qemu-img", "mmdebstrap", "grub-mkimage", "mkfs.ext4", "sfdisk")
	bootInLab(t, guest{name: "debian", user: "debian", memory: "512", smp: "2", timeout: 6 * time.Minute,
		build: func(ctx context.Context) (string, error) {
			img, err := debian.Build(ctx, cacheDir(t))
			return img.Path, err
		},
		check: "cloud-init status --wait | grep -q 'status: done' && echo cloud-init-done"})
}

// guest is one image under test.
type guest struct {
	name, user, memory, smp string
	timeout                 time.Duration
	build                   func(context.Context) (string, error)
	check                   string // a shell command whose output must contain "-done"
}

func bootInLab(t *testing.T, g guest) {
	l := labtest.Up(t, lab.Config{Nodes: 1})
	ctx := ctxFor(t, g.timeout)
	start := time.Now()
	image, err := g.build(ctx)
	if err != nil {
		t.Fatalf("build %s image: %v", g.name, err)
	}
	t.Logf("%s image ready in %v", g.name, time.Since(start).Round(time.Millisecond))

	url := labtest.ServeFromHub(t, l, image)
	disk := fetchInNode(t, l, "node-a", url, image)
	ns := l.NS("node-a")
	for _, cmd := range [][]string{
		{"ip", "link", "add", "gbr0", "type", "bridge"},
		{"ip", "addr", "add", "10.97.0.1/24", "dev", "gbr0"},
		{"ip", "link", "set", "gbr0", "up"},
		{"ip", "tuntap", "add", "gtap0", "mode", "tap"},
		{"ip", "link", "set", "gtap0", "master", "gbr0", "up"},
	} {
		if _, err := lab.Exec(ctx, ns, cmd...); err != nil {
			t.Fatal(err)
		}
	}
	signer, pub := labtest.NewKey(t)
	mac, _ := net.ParseMAC("52:54:00:97:00:10")
	seed := filepath.Join(t.TempDir(), "seed.iso")
	writeSeed(t, seed, mac, g.user, pub)

	serial := filepath.Join(t.TempDir(), "serial.log")
	boot := time.Now()
	bootQEMU(t, ns, disk, seed, serial, mac.String(), g.memory, g.smp)
	if err := lab.Ping(ctx, ns, "10.97.0.10"); err != nil {
		t.Fatalf("ping guest: %v\nserial:\n%s", err, lab.LastLines(serial, 30))
	}
	t.Logf("boot to ping: %v", time.Since(boot).Round(time.Millisecond))
	out, err := lab.SSH(ctx, ns, "10.97.0.10:22", g.user, signer, "hostname")
	if err != nil {
		t.Fatalf("ssh: %v\nserial:\n%s", err, lab.LastLines(serial, 30))
	}
	if strings.TrimSpace(out) != "labvm" {
		t.Fatalf("hostname %q, want labvm", out)
	}
	t.Logf("boot to SSH: %v", time.Since(boot).Round(time.Millisecond))
	if g.check != "" {
		out, err := lab.SSH(ctx, ns, "10.97.0.10:22", g.user, signer, g.check)
		if err != nil || !strings.Contains(out, "-done") {
			t.Fatalf("%s: %q %v", g.check, out, err)
		}
		t.Logf("boot to %s: %v", strings.TrimSpace(out), time.Since(boot).Round(time.Millisecond))
	}
}

func cacheDir(t *testing.T) string {
	d, err := guestcache.TestDir()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// fetchInNode downloads url from inside a node's namespace into the test's
// temp dir and checks it arrived whole.
func fetchInNode(t *testing.T, l *lab.Lab, node, url, orig string) string {
	hc := &http.Client{Transport: &http.Transport{DialContext: lab.DialContext(l.NS(node))}}
	defer hc.CloseIdleConnections()
	resp, err := hc.Get(url)
	if err != nil {
		t.Fatalf("download from the hub: %v", err)
	}
	defer resp.Body.Close()
	dst := filepath.Join(t.TempDir(), "disk.qcow2")
	f, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	if _, err := io.Copy(io.MultiWriter(f, h), resp.Body); err != nil {
		t.Fatal(err)
	}
	f.Close()
	want, _ := os.ReadFile(orig)
	if sum := sha256.Sum256(want); string(h.Sum(nil)) != string(sum[:]) {
		t.Fatal("downloaded image differs from the served one")
	}
	return dst
}

func writeSeed(t *testing.T, path string, mac net.HardwareAddr, user, key string) {
	md, err := cloudinit.MetaData("labvm-1", "labvm")
	if err != nil {
		t.Fatal(err)
	}
	ud, err := cloudinit.UserData([]api.LoginUser{{Username: user, SSHAuthorizedKeys: []string{strings.TrimSpace(key)}}})
	if err != nil {
		t.Fatal(err)
	}
	nc, err := cloudinit.NetworkConfig([]cloudinit.NIC{{
		MAC: mac, Address: netip.MustParseAddr("10.97.0.10"), PrefixLen: 24,
		Gateway: netip.MustParseAddr("10.97.0.1"), Nameservers: []netip.Addr{netip.MustParseAddr("10.97.0.1")},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if err := cloudinit.WriteISOFile(path, cloudinit.Seed{MetaData: md, UserData: ud, NetworkConfig: nc}); err != nil {
		t.Fatal(err)
	}
}

// bootQEMU starts the guest inside ns from disk (through an overlay) and
// kills it by PID when the test ends.
func bootQEMU(t *testing.T, ns, disk, seed, serial, mac, memory, smp string) {
	overlay := filepath.Join(t.TempDir(), "overlay.qcow2")
	if out, err := exec.Command("qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", disk, overlay).CombinedOutput(); err != nil {
		t.Fatalf("overlay: %v: %s", err, out)
	}
	cmd := exec.Command("ip", "netns", "exec", ns, "qemu-system-x86_64",
		"-accel", "tcg,tb-size=256", "-m", memory, "-smp", smp,
		"-nodefaults", "-no-user-config", "-display", "none", "-serial", "file:"+serial,
		"-drive", "file="+overlay+",if=virtio,format=qcow2",
		"-drive", "file="+seed+",media=cdrom,if=ide,format=raw,readonly=on",
		"-netdev", "tap,id=n0,ifname=gtap0,script=no,downscript=no",
		"-device", "virtio-net-pci,netdev=n0,mac="+mac)
	if err := cmd.Start(); err != nil {
		t.Fatalf("start qemu: %v", err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill() // QEMU itself: ip netns exec execs in place
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Errorf("qemu %d did not exit", cmd.Process.Pid)
		}
	})
}
