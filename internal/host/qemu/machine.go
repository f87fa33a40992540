package qemu

import (
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Machine is a VM, already validated by the caller; Args validates it again
// (defence in depth).
type Machine struct {
	Name      string // e.g. "g/ns/vm1", for -name guest=...; only [a-z0-9./-]
	Dir       string // absolute VM directory: sockets, pidfile and qemu.log
	Accel     string // "kvm" or "tcg"
	VCPUs     int    // 1 to MaxVCPUs
	MemoryMiB int64  // MinMemoryMiB to MaxMemoryMiB
	Disks     []Disk // virtio-blk, in order; the first boots
	NICs      []NIC  // virtio-net-pci on tap netdevs
	// Seed is the cloud-init NoCloud ISO, or "": attached read-only as an
	// IDE CD-ROM, which is what the guests' kernels find without modules.
	Seed string
	// UUID is the SMBIOS system UUID (-uuid), 8-4-4-4-12 hexadecimal
	// digits, or "" for QEMU's default.
	UUID string
	// Incoming starts QEMU paused, waiting for a saved state to load
	// (-S -incoming defer): QMP.MigrateIncoming, then QMP.Cont. The
	// machine must be the one the state was saved from.
	Incoming bool
}

// Disk is one virtio-blk disk.
type Disk struct {
	// ID names the disk in QMP (BlockResize) and is the guest-visible serial
	// (/dev/disk/by-id/virtio-<ID>): a lowercase letter, then lowercase
	// letters, digits and '-', at most 20 characters (virtio-blk's serial
	// limit).
	ID   string
	Path string // absolute path of a qcow2 image
}

// NIC is one virtio-net-pci NIC on an existing tap device.
type NIC struct {
	Tap string // tap device name
	// MAC is unicast and not all zeros. Derived MACs are locally
	// administered; a MAC the user fixed may be any unicast one.
	MAC net.HardwareAddr
}

// Limits of a Machine.
const (
	MaxVCPUs     = 255     // the pc machine's limit
	MinMemoryMiB = 16      // less does not run a BIOS
	MaxMemoryMiB = 1 << 22 // 4 TiB
	// MaxDevices is the most disks plus NICs: the pc machine's PCI bus has
	// 32 slots, of which the host bridge, the ISA bridge and VGA take 3;
	// one is kept spare.
	MaxDevices = 28
	// maxSocketPath is the longest unix socket path (sun_path less its NUL).
	maxSocketPath = 107
	maxPath       = 4096
)

// ErrInvalid marks a Machine that Args refuses.
var ErrInvalid = errors.New("invalid machine")

var (
	nameRE   = regexp.MustCompile(`^[a-z0-9./-]{1,200}$`)
	diskIDRE = regexp.MustCompile(`^[a-z][a-z0-9-]{0,19}$`)
	tapRE    = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,15}$`)
	uuidRE   = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
)

// Validate reports every reason why Args would refuse m.
func (m Machine) Validate() error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if !nameRE.MatchString(m.Name) {
		add("name %q: want 1-200 of [a-z0-9./-]", m.Name)
	}
	if err := checkPath("dir", m.Dir); err != nil {
		errs = append(errs, err)
	} else if p := SerialSocket(m.Dir); len(p) > maxSocketPath {
		add("dir %q: socket path %s is longer than %d bytes", m.Dir, p, maxSocketPath)
	}
	if m.Accel != "kvm" && m.Accel != "tcg" {
		add("accel %q: want kvm or tcg", m.Accel)
	}
	if m.VCPUs < 1 || m.VCPUs > MaxVCPUs {
		add("vcpus %d: want 1-%d", m.VCPUs, MaxVCPUs)
	}
	if m.MemoryMiB < MinMemoryMiB || m.MemoryMiB > MaxMemoryMiB {
		add("memory %d MiB: want %d-%d", m.MemoryMiB, MinMemoryMiB, MaxMemoryMiB)
	}
	if m.UUID != "" && !uuidRE.MatchString(m.UUID) {
		add("uuid %q: want 8-4-4-4-12 hexadecimal digits", m.UUID)
	}
	errs = append(errs, m.validateDevices()...)
	if m.Seed != "" {
		if err := checkPath("seed", m.Seed); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return nil
}

func (m Machine) validateDevices() []error {
	var errs []error
	if len(m.Disks) == 0 {
		errs = append(errs, errors.New("no disks: the first disk boots"))
	}
	if n := len(m.Disks) + len(m.NICs); n > MaxDevices {
		errs = append(errs, fmt.Errorf("%d disks and NICs: at most %d", n, MaxDevices))
	}
	ids := map[string]bool{}
	for i, d := range m.Disks {
		if !diskIDRE.MatchString(d.ID) {
			errs = append(errs, fmt.Errorf("disks[%d]: id %q: want a lowercase letter, then up to 19 of [a-z0-9-]", i, d.ID))
		} else if ids[d.ID] {
			errs = append(errs, fmt.Errorf("disks[%d]: id %q used twice", i, d.ID))
		}
		ids[d.ID] = true
		if err := checkPath(fmt.Sprintf("disks[%d]", i), d.Path); err != nil {
			errs = append(errs, err)
		}
	}
	taps, macs := map[string]bool{}, map[string]bool{}
	for i, n := range m.NICs {
		switch {
		case !tapRE.MatchString(n.Tap) || n.Tap == "." || n.Tap == "..":
			errs = append(errs, fmt.Errorf("nics[%d]: tap %q: want 1-15 of [A-Za-z0-9_.-]", i, n.Tap))
		case taps[n.Tap]:
			errs = append(errs, fmt.Errorf("nics[%d]: tap %q used twice", i, n.Tap))
		}
		taps[n.Tap] = true
		switch {
		case len(n.MAC) != 6:
			errs = append(errs, fmt.Errorf("nics[%d]: mac %q: want 48 bits", i, n.MAC))
		case n.MAC[0]&1 != 0:
			errs = append(errs, fmt.Errorf("nics[%d]: mac %s: want unicast", i, n.MAC))
		case string(n.MAC) == string(make([]byte, 6)):
			errs = append(errs, fmt.Errorf("nics[%d]: mac %s: want not all zeros", i, n.MAC))
		case macs[n.MAC.String()]:
			errs = append(errs, fmt.Errorf("nics[%d]: mac %s used twice", i, n.MAC))
		}
		macs[n.MAC.String()] = true
	}
	return errs
}

// checkPath refuses what could change the meaning of a QEMU option value
// (',' ends a value, '=' starts one in an implied-key position such as
// -vnc's) or of a log line (control characters), and relative or unclean
// paths, whose meaning depends on QEMU's working directory ("/" once
// daemonized).
func checkPath(field, p string) error {
	switch {
	case p == "" || !filepath.IsAbs(p):
		return fmt.Errorf("%s: path %q is not absolute", field, p)
	case len(p) > maxPath:
		return fmt.Errorf("%s: path is longer than %d bytes", field, maxPath)
	case !utf8.ValidString(p):
		return fmt.Errorf("%s: path %q is not valid UTF-8", field, p)
	case strings.ContainsAny(p, ",="):
		return fmt.Errorf("%s: path %q contains ',' or '='", field, p)
	case strings.ContainsFunc(p, unicode.IsControl):
		return fmt.Errorf("%s: path %q contains a control character", field, p)
	case filepath.Clean(p) != p:
		return fmt.Errorf("%s: path %q is not clean (want %q)", field, p, filepath.Clean(p))
	}
	return nil
}

// Files and sockets of a VM directory (see the package doc).

// SerialSocket is the unix socket of the guest's serial console.
func SerialSocket(dir string) string { return filepath.Join(dir, "serial.sock") }

// VNCSocket is the unix socket of the guest's VNC display.
func VNCSocket(dir string) string { return filepath.Join(dir, "vnc.sock") }

// QMPSocket is the unix socket of QMP.
func QMPSocket(dir string) string { return filepath.Join(dir, "qmp.sock") }

// PIDFile is QEMU's pidfile; its path on QEMU's command line is how Find
// recognizes the process.
func PIDFile(dir string) string { return filepath.Join(dir, "qemu.pid") }

// LogFile collects QEMU's output up to daemonizing: start-up errors.
func LogFile(dir string) string { return filepath.Join(dir, "qemu.log") }

func lockFile(dir string) string { return filepath.Join(dir, "start.lock") }
