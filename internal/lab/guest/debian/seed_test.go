package debian

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/kdomanski/iso9660"
)

// seedConfig is what the guest should become.
type seedConfig struct {
	Hostname, MAC, Address, Gateway, Nameserver, User, AuthorizedKey string
}

// writeSeed writes a NoCloud seed ISO (volume label cidata).
// TODO: replace with internal/host/cloudinit once it lands.
func writeSeed(t *testing.T, c seedConfig) string {
	t.Helper()
	files := map[string]string{
		"meta-data": fmt.Sprintf("instance-id: iid-%s-%s\nlocal-hostname: %s\n", c.Hostname, randomHex(t, 4), c.Hostname),
		"user-data": fmt.Sprintf("#cloud-config\nhostname: %s\nusers:\n  - name: %s\n    shell: /bin/bash\n"+
			"    sudo: ALL=(ALL) NOPASSWD:ALL\n    ssh_authorized_keys:\n      - %s\n", c.Hostname, c.User, c.AuthorizedKey),
		"network-config": fmt.Sprintf("version: 1\nconfig:\n  - type: physical\n    name: eth0\n    mac_address: %q\n"+
			"    subnets:\n      - type: static\n        address: %s\n        gateway: %s\n        dns_nameservers: [%s]\n",
			c.MAC, c.Address, c.Gateway, c.Nameserver),
	}
	w, err := iso9660.NewWriter()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Cleanup()
	for name, text := range files {
		if err := w.AddFile(bytes.NewReader([]byte(text)), name); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(t.TempDir(), "seed.iso")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := w.WriteTo(f, "cidata"); err != nil {
		t.Fatal(err)
	}
	return path
}
