package debian

import (
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/humstack/humstack/internal/testenv"
	"golang.org/x/crypto/ssh"
)

// TestBuildCached checks the image's format and that a second Build finds
// it in the cache at once.
func TestBuildCached(t *testing.T) {
	img := testImage(t)
	info := mustRun(t, "qemu-img", "info", img.Path)
	if !strings.Contains(info, "file format: qcow2") || !strings.Contains(info, "virtual size: 2 GiB") {
		t.Errorf("unexpected image:\n%s", info)
	}
	start := time.Now()
	again, err := Build(t.Context(), testCacheDir(t))
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	t.Logf("cached build in %v", took.Round(time.Millisecond))
	if !again.Cached || again.Path != img.Path {
		t.Errorf("second build %+v, want the cached %s", again, img.Path)
	}
	if took > 10*time.Second {
		t.Errorf("cached build took %v", took)
	}
}

const (
	hostCIDR  = "10.98.0.1/24"
	hostIP    = "10.98.0.1"
	guestIP   = "10.98.0.20"
	guestCIDR = guestIP + "/24"
)

// randomMAC returns a locally administered unicast MAC in QEMU's range.
func randomMAC(t *testing.T) net.HardwareAddr {
	mac, err := net.ParseMAC("52:54:00:" + randomHex(t, 1) + ":" + randomHex(t, 1) + ":" + randomHex(t, 1))
	if err != nil {
		t.Fatal(err)
	}
	return mac
}

// TestBootCloudInit boots the image with a NoCloud seed in a namespace and
// checks what Debian's cloud-init made of it: hostname, address, route,
// nameserver and the login key.
func TestBootCloudInit(t *testing.T) {
	img := testImage(t)
	testenv.RequireCommands(t, "qemu-system-x86_64", "ip", "ping")
	n := newTestNet(t, hostCIDR)
	signer, authorized := newKey(t)
	mac := randomMAC(t)
	seed := writeSeed(t, seedConfig{
		Hostname: "debvm", MAC: mac, Address: netip.MustParsePrefix(guestCIDR),
		Gateway: netip.MustParseAddr(hostIP), Nameserver: netip.MustParseAddr(hostIP),
		User: "debian", AuthorizedKey: authorized,
	})
	start := time.Now()
	vm := startVM(t, n, img.Path, seed, mac.String())
	deadline := start.Add(4 * time.Minute)
	for !n.ping(guestIP) {
		if time.Now().After(deadline) {
			t.Fatalf("no ping from %s within %v", guestIP, time.Since(start).Round(time.Second))
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("boot to ping: %v", time.Since(start).Round(100*time.Millisecond))
	c, err := sshConnect(n, guestIP+":22", "debian", signer, deadline)
	if err != nil {
		t.Fatalf("ssh debian@%s: %v", guestIP, err)
	}
	defer c.Close()
	t.Logf("boot to ssh: %v", time.Since(start).Round(100*time.Millisecond))
	waitCloudInit(t, c, start, deadline)
	checkGuest(t, c)
	// Where the guest spent its boot, for whoever tunes the CI budget.
	blame, _ := sshOutput(c, "sudo systemd-analyze; sudo systemd-analyze blame | head -n 8; sudo cloud-init analyze blame | head -n 12")
	t.Logf("guest boot:\n%s", blame)
	powerOff(t, c, vm)
}

// waitCloudInit polls `cloud-init status` until it reports done.
func waitCloudInit(t *testing.T, c *ssh.Client, start, deadline time.Time) {
	t.Helper()
	for {
		out, _ := sshOutput(c, "cloud-init status")
		if strings.Contains(out, "status: done") {
			t.Logf("boot to cloud-init done: %v", time.Since(start).Round(100*time.Millisecond))
			return
		}
		if strings.Contains(out, "status: error") || time.Now().After(deadline) {
			long, _ := sshOutput(c, "cloud-init status --long; sudo tail -n 30 /var/log/cloud-init.log")
			t.Fatalf("cloud-init did not finish: %s\n%s", out, long)
		}
		time.Sleep(time.Second)
	}
}

// checkGuest compares the guest's state with the seed.
func checkGuest(t *testing.T, c *ssh.Client) {
	t.Helper()
	checks := []struct{ cmd, want string }{
		{"hostname", "debvm"},
		{"ip -4 -o addr show", "inet " + guestCIDR},
		{"ip -4 route show default", "default via " + hostIP},
		{"cat /etc/resolv.conf", "nameserver " + hostIP},
		{"sudo -n true && echo sudo-ok", "sudo-ok"},
		{"cat /var/lib/cloud/data/status.json", `"errors": []`},
	}
	for _, ck := range checks {
		out, err := sshOutput(c, ck.cmd)
		if err != nil {
			t.Errorf("%s: %v: %s", ck.cmd, err, out)
			continue
		}
		if ck.cmd == "hostname" && out != ck.want || !strings.Contains(out, ck.want) {
			t.Errorf("%s = %q, want %q", ck.cmd, out, ck.want)
		}
	}
}

// powerOff shuts the guest down from inside and waits for QEMU to exit.
func powerOff(t *testing.T, c *ssh.Client, vm *testVM) {
	t.Helper()
	start := time.Now()
	// The session ends when the guest goes down, so its error is expected.
	_, _ = sshOutput(c, "sudo systemctl poweroff")
	if !vm.waitExit(90 * time.Second) {
		t.Errorf("guest did not power off within 90 s")
		return
	}
	t.Logf("power off: %v", time.Since(start).Round(100*time.Millisecond))
}
