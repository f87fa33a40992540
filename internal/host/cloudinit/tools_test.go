package cloudinit_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/humstack/humstack/internal/host/cloudinit"
	"github.com/humstack/humstack/internal/testenv"
)

var toolSeed = cloudinit.Seed{
	MetaData:      []byte("instance-id: i-tools\nlocal-hostname: tools\n"),
	UserData:      []byte("#cloud-config\nusers: []\n"),
	NetworkConfig: []byte("version: 2\nethernets: {}\n"),
}

func seedFiles() map[string][]byte {
	return map[string][]byte{cloudinit.MetaDataFile: toolSeed.MetaData, cloudinit.UserDataFile: toolSeed.UserData,
		cloudinit.NetworkConfigFile: toolSeed.NetworkConfig}
}

func writeToolSeed(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "seed.iso")
	if err := cloudinit.WriteISOFile(path, toolSeed); err != nil {
		t.Fatal(err)
	}
	return path
}

func output(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v: %s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func mustContain(t *testing.T, what, out string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(out, w) {
			t.Errorf("%s: no %q in:\n%s", what, w, out)
		}
	}
}

// TestISOReadByTools: util-linux's blkid (libblkid), genisoimage's isoinfo
// and xorriso (libisofs) read the label cidata, Joliet and Rock Ridge, and
// each tree gives back the seed's files byte for byte.
func TestISOReadByTools(t *testing.T) {
	testenv.RequireCommands(t, "blkid", "isoinfo", "xorriso")
	iso := writeToolSeed(t)
	mustContain(t, "blkid -p", output(t, "blkid", "-p", "-o", "export", iso),
		"LABEL=cidata\n", "TYPE=iso9660\n", "VERSION=Joliet\\ Extension\n")
	mustContain(t, "isoinfo -d", output(t, "isoinfo", "-d", "-i", iso),
		"Volume id: cidata\n", "Joliet with UCS level 3 found", "Rock Ridge signatures version 1 found")
	// Rock Ridge names in their original case with their PX modes.
	listing := output(t, "isoinfo", "-R", "-l", "-i", iso)
	for name := range seedFiles() {
		if !regexp.MustCompile(`(?m)^-rw-r--r-- .* ` + name + ` $`).MatchString(listing) {
			t.Errorf("isoinfo -R -l: no -rw-r--r-- %s in:\n%s", name, listing)
		}
	}
	for name, want := range seedFiles() {
		for _, tree := range []string{"-R", "-J"} {
			if got := output(t, "isoinfo", tree, "-i", iso, "-x", "/"+name); got != string(want) {
				t.Errorf("isoinfo %s -x /%s = %q, want %q", tree, name, got, want)
			}
		}
	}
	mustContain(t, "xorriso -toc", output(t, "xorriso", "-indev", iso, "-toc"),
		"ISO offers   : Rock_Ridge Joliet", "ISO loaded   : Rock_Ridge", ", cidata")
	dir := filepath.Join(t.TempDir(), "x")
	output(t, "xorriso", "-osirrox", "on", "-indev", iso, "-extract", "/", dir)
	for name, want := range seedFiles() {
		if got, err := os.ReadFile(filepath.Join(dir, name)); err != nil || !bytes.Equal(got, want) {
			t.Errorf("xorriso extracted %s = %q (%v), want %q", name, got, err, want)
		}
	}
}

// TestISOFoundByBusyboxFindfs attaches the seed to a loop device and runs
// busybox findfs LABEL=cidata in a mount namespace whose /dev holds only
// that device (findfs scans /dev). The same image cut to 44 KiB, the size
// of the old unpadded seed, is not found: busybox volume_id needs 68 KiB
// (see iso9660.PadSectors).
func TestISOFoundByBusyboxFindfs(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireCommands(t, "busybox", "losetup", "unshare", "blkid")
	iso := writeToolSeed(t)
	if dev, err := findfs(t, iso); err != nil || dev == "" {
		t.Fatalf("busybox findfs LABEL=cidata on the seed: %q, %v", dev, err)
	}
	short := filepath.Join(t.TempDir(), "short.iso")
	raw, err := os.ReadFile(iso)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(short, raw[:44*1024], 0o644); err != nil {
		t.Fatal(err)
	}
	if dev, err := findfs(t, short); err == nil {
		t.Errorf("busybox findfs found the 44 KiB image at %s: the 68 KiB limit this test documents is gone", dev)
	}
}

// findfs attaches file to a loop device (detached at the end) and runs
// busybox findfs with only that device in /dev. It returns findfs's output
// and its error.
func findfs(t *testing.T, file string) (string, error) {
	t.Helper()
	dev := strings.TrimSpace(output(t, "losetup", "--find", "--show", "--read-only", file))
	defer func() {
		if out, err := exec.Command("losetup", "-d", dev).CombinedOutput(); err != nil {
			t.Errorf("losetup -d %s: %v: %s", dev, err, out)
		}
	}()
	// The block device as the kernel sees it: blkid -p reads it too.
	mustContain(t, "blkid -p "+dev, output(t, "blkid", "-p", "-o", "export", dev), "LABEL=cidata\n")
	var major, minor int
	sys := output(t, "cat", "/sys/class/block/"+filepath.Base(dev)+"/dev")
	if _, err := fmt.Sscanf(sys, "%d:%d", &major, &minor); err != nil {
		t.Fatalf("%s: %q: %v", dev, sys, err)
	}
	script := fmt.Sprintf("mount -t tmpfs none /dev && mknod %s b %d %d && exec busybox findfs LABEL=cidata", dev, major, minor)
	out, err := exec.Command("unshare", "--mount", "--propagation", "private", "sh", "-c", script).CombinedOutput()
	return strings.TrimSpace(string(out)), err
}
