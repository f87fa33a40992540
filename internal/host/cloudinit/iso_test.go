package cloudinit

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kdomanski/iso9660"
)

func TestWriteISOFile(t *testing.T) {
	seed := Seed{MetaData: []byte("instance-id: i\n"), UserData: []byte("#cloud-config\n"), NetworkConfig: []byte("version: 1\n")}
	path := filepath.Join(t.TempDir(), "seed.iso")
	if err := WriteISOFile(path, seed); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// The primary volume descriptor at sector 16 is what blkid, cloud-init
	// and the tiny guest's init read the label from.
	pvd := raw[16*2048:]
	if pvd[0] != 1 || string(pvd[1:6]) != "CD001" {
		t.Fatalf("no primary volume descriptor at sector 16: % x", pvd[:8])
	}
	if label := strings.TrimRight(string(pvd[40:72]), " "); label != VolumeLabel {
		t.Errorf("volume label %q, want %q", label, VolumeLabel)
	}
	for _, id := range []string{"meta-data;1", "user-data;1", "network-config;1"} {
		if !bytes.Contains(raw, []byte(id)) {
			t.Errorf("no directory record %q: Linux would not show the file under its NoCloud name", id)
		}
	}
	got := readISO(t, raw)
	want := map[string]string{MetaDataFile: "instance-id: i\n", UserDataFile: "#cloud-config\n", NetworkConfigFile: "version: 1\n"}
	if len(got) != len(want) {
		t.Errorf("files %v, want %v", got, want)
	}
	for name, w := range want {
		if got[name] != w {
			t.Errorf("%s = %q, want %q", name, got[name], w)
		}
	}
	if leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".seed-*")); len(leftovers) > 0 {
		t.Errorf("temporary files left: %v", leftovers)
	}
}

func TestWriteISOWithoutNetworkConfig(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteISO(&buf, Seed{MetaData: []byte("a: b\n"), UserData: []byte("#cloud-config\n")}); err != nil {
		t.Fatal(err)
	}
	if got := readISO(t, buf.Bytes()); len(got) != 2 {
		t.Errorf("files %v, want meta-data and user-data only", got)
	}
	if err := WriteISO(io.Discard, Seed{UserData: []byte("x")}); err == nil {
		t.Error("a seed without meta-data was written")
	}
}

// readISO returns the root directory's files by name, as the library reads them.
func readISO(t *testing.T, raw []byte) map[string]string {
	t.Helper()
	img, err := iso9660.OpenImage(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	if label, err := img.Label(); err != nil || label != VolumeLabel {
		t.Errorf("Label() = %q, %v", label, err)
	}
	root, err := img.RootDir()
	if err != nil {
		t.Fatal(err)
	}
	children, err := root.GetChildren()
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	for _, c := range children {
		b, err := io.ReadAll(c.Reader())
		if err != nil {
			t.Fatal(err)
		}
		files[c.Name()] = string(b)
	}
	return files
}
