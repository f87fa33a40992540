package qemu

import (
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
)

// FuzzArgs feeds Args arbitrary names, paths, ids, taps, MACs and UUIDs. It must
// not panic, and whatever it accepts must have the same option structure
// as a machine of the same shape with plain values: the same argv length,
// the same flags, and in every option value the same keys in the same
// order. A user string that added an option (",if=none", "=on") would
// show up as an extra or different key.
func FuzzArgs(f *testing.F) {
	f.Add("g/ns/vm1", "/var/lib/vm", "disk0", "/d/disk.qcow2", "/d/seed.iso", "tap0", []byte{0x52, 0x54, 0, 1, 2, 3}, 2, int64(512), true, "5f0c1a2e-8b4d-4c6e-9f3a-1b2c3d4e5f60")
	f.Add("a,b", "/d", "x", "/d/x,if=none", "", "t", []byte{2, 0, 0, 0, 0, 1}, 1, int64(16), false, "5f0c1a2e-8b4d-4c6e-9f3a-1b2c3d4e5f60,x=y")
	f.Add("vm", "/d/to=on", "disk0", "/d/a,,b", "/s,format=qcow2", "t,script=/x", []byte{2, 0, 0, 0, 0, 1}, 1, int64(16), true, "")
	f.Add("vm", "/d", "d", "/d/\n-daemonize", "", "", []byte{}, 0, int64(0), false, "\n-daemonize")
	f.Fuzz(func(t *testing.T, name, dir, id, path, seed, tap string, macb []byte, vcpus int, mem int64, kvm bool, uuid string) {
		m := Machine{Name: name, Dir: dir, Accel: "tcg", VCPUs: vcpus, MemoryMiB: mem,
			Disks: []Disk{{ID: id, Path: path}}, Seed: seed, UUID: uuid}
		if kvm {
			m.Accel = "kvm"
		}
		if tap != "" {
			m.NICs = []NIC{{Tap: tap, MAC: net.HardwareAddr(macb)}}
		}
		got, err := Args(m)
		if err != nil {
			return
		}
		plain := m
		plain.Name, plain.Dir, plain.VCPUs, plain.MemoryMiB = "vm", "/d", 1, 16
		plain.Disks = []Disk{{ID: "disk", Path: "/d/disk.qcow2"}}
		if seed != "" {
			plain.Seed = "/d/seed.iso"
		}
		if uuid != "" {
			plain.UUID = "00000000-0000-0000-0000-000000000000"
		}
		if tap != "" {
			plain.NICs = []NIC{{Tap: "tap", MAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}}}
		}
		want, err := Args(plain)
		if err != nil {
			t.Fatalf("plain twin refused: %v", err)
		}
		if err := sameStructure(got, want); err != nil {
			t.Fatalf("%v\ngot:\n%s\nwant the shape of:\n%s", err, render(got), render(want))
		}
	})
}

// sameStructure compares two argvs flag by flag and key by key.
func sameStructure(got, want []string) error {
	if len(got) != len(want) {
		return fmt.Errorf("argv has %d elements, want %d", len(got), len(want))
	}
	for i := range got {
		g, w := got[i], want[i]
		if strings.HasPrefix(w, "-") || strings.HasPrefix(g, "-") {
			if g != w {
				return fmt.Errorf("argv[%d] = %q, want flag %q", i, g, w)
			}
			continue
		}
		if gk, wk := keys(g), keys(w); !slices.Equal(gk, wk) {
			return fmt.Errorf("argv[%d] = %q has keys %q, want %q", i, g, gk, wk)
		}
	}
	return nil
}

// keys splits a QEMU option value as QEMU does (",," is an escaped comma)
// and returns each part's key: the text before '=', or "" for a part
// without one (an implied key's value).
func keys(v string) []string {
	var out []string
	for _, part := range splitOpts(v) {
		k, _, ok := strings.Cut(part, "=")
		if !ok {
			k = ""
		}
		out = append(out, k)
	}
	return out
}

func splitOpts(v string) []string {
	var parts []string
	var cur strings.Builder
	for i := 0; i < len(v); i++ {
		if v[i] == ',' {
			if i+1 < len(v) && v[i+1] == ',' {
				cur.WriteByte(',')
				i++
				continue
			}
			parts = append(parts, cur.String())
			cur.Reset()
			continue
		}
		cur.WriteByte(v[i])
	}
	return append(parts, cur.String())
}
