package qemu

import (
	"errors"
	"net"
	"strings"
	"testing"

	"github.com/humstack/humstack/internal/testenv/golden"
)

func mac(s string) net.HardwareAddr {
	m, err := net.ParseMAC(s)
	if err != nil {
		panic(err)
	}
	return m
}

// render shows argv as text, one option and its value per line.
func render(argv []string) string {
	var b strings.Builder
	for i, a := range argv {
		if i > 0 && strings.HasPrefix(a, "-") {
			b.WriteByte('\n')
		} else if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(a)
	}
	b.WriteByte('\n')
	return b.String()
}

// full is a machine with every kind of device.
func full() Machine {
	return Machine{
		Name: "g/ns/vm1", Dir: "/var/lib/humstack/vms/vm-abc", Accel: "kvm", VCPUs: 2, MemoryMiB: 1024,
		Disks: []Disk{{ID: "disk0", Path: "/var/lib/humstack/disks/root.qcow2"}, {ID: "data-1", Path: "/srv/d/data.qcow2"}},
		NICs:  []NIC{{Tap: "htabcdefghij0", MAC: mac("52:54:00:12:34:56")}, {Tap: "htabcdefghij1", MAC: mac("00:16:3e:0a:0b:0c")}},
		Seed:  "/var/lib/humstack/vms/vm-abc/seed.iso",
		UUID:  "5f0c1a2e-8b4d-4c6e-9f3a-1b2c3d4e5f60",
	}
}

// minimal is the smallest valid machine.
func minimal() Machine {
	return Machine{Name: "vm", Dir: "/d", Accel: "tcg", VCPUs: 1, MemoryMiB: 16,
		Disks: []Disk{{ID: "disk0", Path: "/d/disk.qcow2"}}}
}

func TestArgsGolden(t *testing.T) {
	for _, tc := range []struct {
		name string
		m    Machine
	}{{"full-kvm", full()}, {"minimal-tcg", minimal()}} {
		t.Run(tc.name, func(t *testing.T) {
			argv, err := Args(tc.m)
			if err != nil {
				t.Fatal(err)
			}
			golden.Assert(t, "args-"+tc.name+".golden", []byte(render(argv)))
		})
	}
}

// TestArgsKeyOptions states the options that matter one by one, so that
// a golden update cannot quietly drop one.
func TestArgsKeyOptions(t *testing.T) {
	kvm, err := Args(full())
	if err != nil {
		t.Fatal(err)
	}
	tcg, err := Args(minimal())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		argv []string
		line string
	}{
		{kvm, "-name guest=g/ns/vm1,debug-threads=on"},
		{kvm, "-nodefaults"},
		{kvm, "-no-user-config"},
		{kvm, "-display none"},
		{kvm, "-machine pc"},
		{kvm, "-accel kvm"},
		{kvm, "-cpu host"},
		{tcg, "-accel tcg,tb-size=256"},
		{tcg, "-cpu max"},
		{kvm, "-smp 2"},
		{kvm, "-m 1024M"},
		{kvm, "-uuid 5f0c1a2e-8b4d-4c6e-9f3a-1b2c3d4e5f60"},
		{kvm, "-device virtio-net-pci,netdev=hs_net1,mac=00:16:3e:0a:0b:0c,id=hs_net1_nic"},
		{kvm, "-blockdev driver=qcow2,node-name=disk0,discard=unmap,file.driver=file,file.filename=/var/lib/humstack/disks/root.qcow2,file.discard=unmap"},
		{kvm, "-device virtio-blk-pci,drive=disk0,id=disk0_blk,serial=disk0,bootindex=0"},
		{kvm, "-device virtio-blk-pci,drive=data-1,id=data-1_blk,serial=data-1"},
		{kvm, "-netdev tap,id=hs_net1,ifname=htabcdefghij1,script=no,downscript=no"},
		{kvm, "-device virtio-net-pci,netdev=hs_net0,mac=52:54:00:12:34:56,id=hs_net0_nic"},
		{kvm, "-blockdev driver=raw,node-name=hs_seed,read-only=on,file.driver=file,file.filename=/var/lib/humstack/vms/vm-abc/seed.iso"},
		{kvm, "-device ide-cd,drive=hs_seed,bus=ide.1,unit=0,id=hs_seed_cd"},
		{kvm, "-chardev socket,id=hs_serial,path=/var/lib/humstack/vms/vm-abc/serial.sock,server=on,wait=off"},
		{kvm, "-serial chardev:hs_serial"},
		{kvm, "-vnc unix:/var/lib/humstack/vms/vm-abc/vnc.sock"},
		{kvm, "-chardev socket,id=hs_qmp,path=/var/lib/humstack/vms/vm-abc/qmp.sock,server=on,wait=off"},
		{kvm, "-mon chardev=hs_qmp,mode=control"},
		{kvm, "-pidfile /var/lib/humstack/vms/vm-abc/qemu.pid"},
		{kvm, "-daemonize"},
	} {
		if lines := strings.Split(render(tc.argv), "\n"); !contains(lines, tc.line) {
			t.Errorf("argv lacks %q", tc.line)
		}
	}
	if r := render(tcg); strings.Contains(r, "hs_seed") || strings.Contains(r, "-netdev") || strings.Contains(r, "-uuid") {
		t.Errorf("minimal machine has a seed, NICs or a UUID:\n%s", r)
	}
	if r := render(kvm); strings.Contains(r, "tcp") || strings.Contains(r, "vnc :") {
		t.Errorf("something listens on TCP:\n%s", r)
	}
}

func contains(lines []string, s string) bool {
	for _, l := range lines {
		if l == s {
			return true
		}
	}
	return false
}

// TestArgsPure checks that Args neither changes nor depends on anything
// but its input.
func TestArgsPure(t *testing.T) {
	a, _ := Args(full())
	b, _ := Args(full())
	if render(a) != render(b) {
		t.Fatal("two renderings of one machine differ")
	}
}

func TestArgsRejects(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(m *Machine)
		want string // part of the error
	}{
		{"comma in disk path", func(m *Machine) { m.Disks[0].Path = "/d/x,if=none" }, "contains ','"},
		{"equals in disk path", func(m *Machine) { m.Disks[0].Path = "/d/a=b" }, "contains ','"},
		{"comma in seed", func(m *Machine) { m.Seed = "/d/seed.iso,format=qcow2" }, "seed"},
		{"comma in dir", func(m *Machine) { m.Dir = "/d,x" }, "dir"},
		{"equals in dir (vnc's implied key)", func(m *Machine) { m.Dir = "/d/to=on" }, "dir"},
		{"relative dir", func(m *Machine) { m.Dir = "vms/vm1" }, "not absolute"},
		{"empty dir", func(m *Machine) { m.Dir = "" }, "not absolute"},
		{"unclean dir", func(m *Machine) { m.Dir = "/d/../etc" }, "not clean"},
		{"newline in path", func(m *Machine) { m.Disks[0].Path = "/d/a\nb" }, "control character"},
		{"invalid utf-8", func(m *Machine) { m.Disks[0].Path = "/d/\xff" }, "UTF-8"},
		{"relative disk", func(m *Machine) { m.Disks[0].Path = "disk.qcow2" }, "not absolute"},
		{"protocol-like disk", func(m *Machine) { m.Disks[0].Path = "nbd:localhost:10809" }, "not absolute"},
		{"long dir", func(m *Machine) { m.Dir = "/" + strings.Repeat("d", 100) }, "longer than 107"},
		{"comma in name", func(m *Machine) { m.Name = "a,b" }, "name"},
		{"option in name", func(m *Machine) { m.Name = "vm,process=x" }, "name"},
		{"uppercase name", func(m *Machine) { m.Name = "VM" }, "name"},
		{"empty name", func(m *Machine) { m.Name = "" }, "name"},
		{"zero vcpus", func(m *Machine) { m.VCPUs = 0 }, "vcpus 0"},
		{"too many vcpus", func(m *Machine) { m.VCPUs = 256 }, "vcpus 256"},
		{"little memory", func(m *Machine) { m.MemoryMiB = 15 }, "memory 15"},
		{"unknown accel", func(m *Machine) { m.Accel = "hvf" }, "accel"},
		{"accel with options", func(m *Machine) { m.Accel = "tcg,thread=single" }, "accel"},
		{"no disks", func(m *Machine) { m.Disks = nil }, "no disks"},
		{"disk id with comma", func(m *Machine) { m.Disks[0].ID = "d,file=x" }, "id"},
		{"disk id with digit first", func(m *Machine) { m.Disks[0].ID = "0disk" }, "id"},
		{"disk id too long", func(m *Machine) { m.Disks[0].ID = strings.Repeat("d", 21) }, "id"},
		{"duplicate disk id", func(m *Machine) { m.Disks = append(m.Disks, m.Disks[0]) }, "used twice"},
		{"bad mac", func(m *Machine) { m.NICs = []NIC{{Tap: "t0", MAC: net.HardwareAddr{1, 2, 3}}} }, "48 bits"},
		{"multicast mac", func(m *Machine) { m.NICs = []NIC{{Tap: "t0", MAC: mac("53:54:00:00:00:01")}} }, "unicast"},
		{"zero mac", func(m *Machine) { m.NICs = []NIC{{Tap: "t0", MAC: mac("00:00:00:00:00:00")}} }, "not all zeros"},
		{"malformed uuid", func(m *Machine) { m.UUID = "5f0c1a2e-8b4d-4c6e-9f3a" }, "uuid"},
		{"uuid with an option", func(m *Machine) { m.UUID = "5f0c1a2e-8b4d-4c6e-9f3a-1b2c3d4e5f60,x=y" }, "uuid"},
		{"tap with comma", func(m *Machine) { m.NICs = []NIC{{Tap: "t0,script=/x", MAC: mac("52:54:00:00:00:01")}} }, "tap"},
		{"tap too long", func(m *Machine) { m.NICs = []NIC{{Tap: "t234567890123456", MAC: mac("52:54:00:00:00:01")}} }, "tap"},
		{"duplicate tap", func(m *Machine) {
			m.NICs = []NIC{{Tap: "t0", MAC: mac("52:54:00:00:00:01")}, {Tap: "t0", MAC: mac("52:54:00:00:00:02")}}
		}, "used twice"},
		{"too many devices", func(m *Machine) {
			for i := 0; i < MaxDevices; i++ {
				m.NICs = append(m.NICs, NIC{Tap: "t" + string(rune('a'+i)), MAC: net.HardwareAddr{2, 0, 0, 0, 0, byte(i)}})
			}
		}, "at most 28"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := minimal()
			tc.edit(&m)
			argv, err := Args(m)
			if err == nil {
				t.Fatalf("accepted:\n%s", render(argv))
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error %v is not ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not mention %q", err, tc.want)
			}
		})
	}
}
