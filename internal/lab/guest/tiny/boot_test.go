package tiny

import (
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/host/cloudinit"
	"github.com/humstack/humstack/internal/testenv"
)

const (
	guestAddr = "10.99.0.10"
	guestUser = "tester"
	guestHost = "tinyvm"
)

// TestBoot is the lab's acceptance test for the tiny guest: it boots the
// image under TCG with a NoCloud seed made by the product's renderer, pings
// the configured address, logs in with the configured key, reads back the
// host name, and powers the guest off through ACPI. It boots from the disk
// like a cloud image, with the seed on an IDE CD-ROM as the product
// attaches it; and directly with -kernel, the seed on a virtio disk.
func TestBoot(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireCommands(t, "qemu-system-x86_64", "qemu-img", "ip", "ping")
	img := testImage(t)
	t.Logf("build: %s (image %s)", buildTook.Round(time.Millisecond), img.Dir)
	for _, tc := range []struct {
		name string
		mode bootMode
	}{
		{"disk", bootMode{seedIf: "ide"}},
		{"direct", bootMode{direct: true, seedIf: "virtio"}},
	} {
		// One at a time: two cores, and boot times are part of the output.
		t.Run(tc.name, func(t *testing.T) { testBoot(t, img, tc.mode) })
	}
}

func testBoot(t *testing.T, img Image, mode bootMode) {
	signer, authorized := newKey(t)
	mac := fmt.Sprintf("52:54:00:%s:%s:%s", randomHex(t, 1), randomHex(t, 1), randomHex(t, 1))
	seed := writeSeed(t, mac, cloudinit.Hostname(guestHost, "vm-1", "id-1"),
		[]api.LoginUser{{Username: guestUser, SSHAuthorizedKeys: []string{authorized}}})
	n := newTestNet(t, "10.99.0.1/24")
	vm := startVM(t, n, img, mode, seed, mac)

	ready := vm.waitConsole(t, 90*time.Second)
	tReady := time.Since(vm.started)
	if !strings.Contains(ready, "hostname="+guestHost) {
		t.Errorf("ready marker %q does not name host %s", ready, guestHost)
	}
	waitFor(t, 30*time.Second, "ping "+guestAddr, func() bool { return n.ping(guestAddr) })
	tPing := time.Since(vm.started)
	client := sshDial(t, n, guestUser, signer, 30*time.Second)
	tSSH := time.Since(vm.started)
	if got := sshRun(t, client, "hostname"); got != guestHost {
		t.Errorf("hostname over SSH = %q, want %q", got, guestHost)
	}
	if got := sshRun(t, client, "id -un"); got != guestUser {
		t.Errorf("logged in as %q, want %q", got, guestUser)
	}
	if got := sshRun(t, client, "cat /etc/resolv.conf"); !strings.Contains(got, "nameserver 10.99.0.1") {
		t.Errorf("resolv.conf = %q, want the seed's nameserver", got)
	}
	client.Close()
	t.Logf("boot to ready marker %s, to ping %s, to SSH %s (%s)",
		tReady.Round(time.Millisecond), tPing.Round(time.Millisecond), tSSH.Round(time.Millisecond), ready)

	start := time.Now()
	vm.powerdown(t, 30*time.Second)
	t.Logf("ACPI power-off: %s", time.Since(start).Round(time.Millisecond))
}

// newKey makes the login key: its signer and its authorized_keys line.
func newKey(t *testing.T) (ssh.Signer, string) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return signer, strings.TrimSpace(string(ssh.MarshalAuthorizedKey(signer.PublicKey()))) + " test@humstack"
}

// writeSeed renders the NoCloud ISO with the product's renderers: one NIC
// with guestAddr/24, gateway and nameserver the bridge; users may be nil.
func writeSeed(t *testing.T, mac, hostname string, users []api.LoginUser) string {
	t.Helper()
	hw, err := net.ParseMAC(mac)
	if err != nil {
		t.Fatal(err)
	}
	gw := netip.MustParseAddr("10.99.0.1")
	md, err := cloudinit.MetaData("tiny-"+randomHex(t, 4), hostname)
	if err != nil {
		t.Fatal(err)
	}
	ud, err := cloudinit.UserData(users)
	if err != nil {
		t.Fatal(err)
	}
	nc, err := cloudinit.NetworkConfig([]cloudinit.NIC{{MAC: hw, Address: netip.MustParseAddr(guestAddr), PrefixLen: 24,
		Gateway: gw, Nameservers: []netip.Addr{gw}}})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "seed.iso")
	if err := cloudinit.WriteISOFile(path, cloudinit.Seed{MetaData: md, UserData: ud, NetworkConfig: nc}); err != nil {
		t.Fatal(err)
	}
	return path
}

func waitFor(t *testing.T, timeout time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// sshDial logs in from the namespace, retrying while the guest refuses.
func sshDial(t *testing.T, n testNet, user string, signer ssh.Signer, timeout time.Duration) *ssh.Client {
	t.Helper()
	cfg := &ssh.ClientConfig{
		User: user, Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback: ssh.InsecureIgnoreHostKey(), // a fresh test guest makes its host key at boot
		Timeout:         5 * time.Second,
	}
	addr := net.JoinHostPort(guestAddr, "22")
	deadline := time.Now().Add(timeout)
	for {
		conn, err := n.dial(addr, 5*time.Second)
		if err == nil {
			c, chans, reqs, err2 := ssh.NewClientConn(conn, addr, cfg)
			if err2 == nil {
				return ssh.NewClient(c, chans, reqs)
			}
			conn.Close()
			err = err2
		}
		if time.Now().After(deadline) {
			t.Fatalf("ssh %s@%s: %v", user, addr, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func sshRun(t *testing.T, c *ssh.Client, cmd string) string {
	t.Helper()
	s, err := c.NewSession()
	if err != nil {
		t.Fatalf("ssh session: %v", err)
	}
	defer s.Close()
	out, err := s.CombinedOutput(cmd)
	if err != nil {
		t.Fatalf("ssh %q: %v: %s", cmd, err, out)
	}
	return strings.TrimSpace(string(out))
}
