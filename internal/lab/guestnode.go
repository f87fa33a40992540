package lab

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/host/cloudinit"
)

// HubBridge is the underlay bridge in the Hub namespace: every node's eth0
// is a port of it, and so is the NIC of a guest booted there with
// StartGuest, which makes the guest a machine on the underlay trunk.
const HubBridge = hubBridge

// GuestSpec is a QEMU guest a test boots inside one of the lab's
// namespaces: one virtio NIC on a tap that is a port of a bridge there,
// configured by a NoCloud seed (cloudinit) with a static address.
type GuestSpec struct {
	// Name is the guest's host name; it also names its files in Dir.
	Name string
	// NS is the namespace QEMU runs in and the tap is made in; Bridge is
	// the bridge there that the tap joins (e.g. HubBridge in Hub).
	NS, Bridge string
	// Tap is the tap's name, at most 15 characters.
	Tap string
	// MAC and Address are the NIC's; Gateway is optional.
	MAC     net.HardwareAddr
	Address netip.Prefix
	Gateway netip.Addr
	// Kernel, Initrd and Cmdline boot the guest directly; otherwise Disk
	// (qcow2) boots through an overlay in Dir, so Disk stays pristine.
	Kernel, Initrd, Cmdline string
	Disk                    string
	// MemoryMiB and CPUs size the guest; defaults 256 and 1.
	MemoryMiB, CPUs int
	// User gets AuthorizedKeys (authorized_keys lines); so does root on
	// the tiny guest.
	User           string
	AuthorizedKeys []string
	// Dir holds the seed, the overlay, the serial log and QEMU's output.
	Dir string
}

// Guest is a running guest started by StartGuest. QEMU is known by its PID
// only, and dies with the process that started it.
type Guest struct {
	Spec GuestSpec
	// Serial is the file the guest's serial console is written to.
	Serial string
	cmd    *exec.Cmd
	exited chan struct{}
}

// StartGuest makes the tap, writes the seed and starts QEMU under TCG; it
// does not wait for the guest to boot (wait for its console marker, or
// retry SSH). Stop the guest when done: the tap is removed then.
func StartGuest(ctx context.Context, s GuestSpec) (*Guest, error) {
	if s.MemoryMiB == 0 {
		s.MemoryMiB = 256
	}
	if s.CPUs == 0 {
		s.CPUs = 1
	}
	if err := s.validate(); err != nil {
		return nil, fmt.Errorf("guest %s: %w", s.Name, err)
	}
	seed := filepath.Join(s.Dir, s.Name+"-seed.iso")
	if err := s.writeSeed(seed); err != nil {
		return nil, fmt.Errorf("guest %s: %w", s.Name, err)
	}
	args := []string{"qemu-system-x86_64",
		"-accel", "tcg,tb-size=256", "-m", strconv.Itoa(s.MemoryMiB), "-smp", strconv.Itoa(s.CPUs),
		"-nodefaults", "-no-user-config", "-display", "none",
		"-serial", "file:" + filepath.Join(s.Dir, s.Name+"-serial.log"),
		"-drive", "file=" + seed + ",if=virtio,format=raw,readonly=on",
		"-netdev", "tap,id=n0,ifname=" + s.Tap + ",script=no,downscript=no",
		"-device", "virtio-net-pci,netdev=n0,mac=" + s.MAC.String(),
	}
	if s.Kernel != "" {
		args = append(args, "-kernel", s.Kernel, "-initrd", s.Initrd, "-append", s.Cmdline)
	} else {
		overlay := filepath.Join(s.Dir, s.Name+"-overlay.qcow2")
		if out, err := exec.CommandContext(ctx, "qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", s.Disk, overlay).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("guest %s: overlay: %w: %s", s.Name, err, out)
		}
		args = append(args, "-drive", "file="+overlay+",if=virtio,format=qcow2")
	}
	if err := s.addTap(ctx); err != nil {
		return nil, fmt.Errorf("guest %s: %w", s.Name, err)
	}
	qlog, err := os.Create(filepath.Join(s.Dir, s.Name+"-qemu.log"))
	if err != nil {
		s.delTap()
		return nil, fmt.Errorf("guest %s: %w", s.Name, err)
	}
	defer qlog.Close() // the child has its own descriptor
	// ip netns exec execs QEMU in place: the PID is QEMU's.
	cmd := exec.Command("ip", append([]string{"netns", "exec", s.NS}, args...)...)
	cmd.Stdout, cmd.Stderr = qlog, qlog
	if err := startTied(cmd); err != nil {
		s.delTap()
		return nil, fmt.Errorf("guest %s: start qemu: %w", s.Name, err)
	}
	g := &Guest{Spec: s, Serial: filepath.Join(s.Dir, s.Name+"-serial.log"), cmd: cmd, exited: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(g.exited) }()
	return g, nil
}

func (s *GuestSpec) validate() error {
	var errs []error
	if !cloudinit.IsHostname(s.Name) {
		errs = append(errs, fmt.Errorf("name %q is not a host name", s.Name))
	}
	if s.NS == "" || s.Bridge == "" || s.Dir == "" {
		errs = append(errs, errors.New("NS, Bridge and Dir are required"))
	}
	if s.Tap == "" || len(s.Tap) > 15 {
		errs = append(errs, fmt.Errorf("tap name %q: want 1-15 characters", s.Tap))
	}
	if len(s.MAC) != 6 || !s.Address.IsValid() {
		errs = append(errs, errors.New("MAC and Address are required"))
	}
	if (s.Kernel == "") == (s.Disk == "") || (s.Kernel != "" && s.Initrd == "") {
		errs = append(errs, errors.New("want Kernel and Initrd, or Disk"))
	}
	return errors.Join(errs...)
}

// writeSeed renders the NoCloud seed with the product's renderers.
func (s *GuestSpec) writeSeed(path string) error {
	md, err := cloudinit.MetaData(s.Name+"-1", s.Name)
	if err != nil {
		return err
	}
	ud, err := cloudinit.UserData([]api.LoginUser{{Username: s.User, SSHAuthorizedKeys: s.AuthorizedKeys}})
	if err != nil {
		return err
	}
	nc, err := cloudinit.NetworkConfig([]cloudinit.NIC{{
		MAC: s.MAC, Address: s.Address.Addr(), PrefixLen: s.Address.Bits(), Gateway: s.Gateway,
	}})
	if err != nil {
		return err
	}
	return cloudinit.WriteISOFile(path, cloudinit.Seed{MetaData: md, UserData: ud, NetworkConfig: nc})
}

// addTap makes the tap in NS as a port of Bridge.
func (s *GuestSpec) addTap(ctx context.Context) error {
	for _, argv := range [][]string{
		{"ip", "tuntap", "add", s.Tap, "mode", "tap"},
		{"ip", "link", "set", s.Tap, "master", s.Bridge, "up"},
	} {
		if _, err := Exec(ctx, s.NS, argv...); err != nil {
			s.delTap()
			return err
		}
	}
	return nil
}

func (s *GuestSpec) delTap() error {
	out, err := exec.Command("ip", "-n", s.NS, "link", "del", s.Tap).CombinedOutput()
	if err != nil && !strings.Contains(string(out), "Cannot find device") &&
		!strings.Contains(string(out), "Cannot open network namespace") {
		return fmt.Errorf("delete tap %s in %s: %w: %s", s.Tap, s.NS, err, out)
	}
	return nil
}

// PID is QEMU's process ID.
func (g *Guest) PID() int { return g.cmd.Process.Pid }

// Addr is the guest's address, without its prefix length.
func (g *Guest) Addr() string { return g.Spec.Address.Addr().String() }

// Exited reports whether QEMU has exited.
func (g *Guest) Exited() bool {
	select {
	case <-g.exited:
		return true
	default:
		return false
	}
}

// QEMULog is QEMU's own output (errors before the guest runs).
func (g *Guest) QEMULog() string {
	b, _ := os.ReadFile(filepath.Join(g.Spec.Dir, g.Spec.Name+"-qemu.log"))
	return string(b)
}

// Stop kills QEMU by its PID, waits for it and removes the tap. It may be
// called more than once.
func (g *Guest) Stop() error {
	var errs []error
	if !g.Exited() {
		if err := g.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
			errs = append(errs, fmt.Errorf("kill qemu %d: %w", g.PID(), err))
		}
		select {
		case <-g.exited:
		case <-time.After(10 * time.Second):
			errs = append(errs, fmt.Errorf("qemu %d did not exit within 10 s of SIGKILL", g.PID()))
		}
	}
	if err := g.Spec.delTap(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
