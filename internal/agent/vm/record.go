package vm

import (
	"crypto/sha256"
	"encoding/base32"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/host/qemu"
)

// recordName is the file in a VM directory that says what QEMU was
// launched with: the VM's key, its disks and NICs. It is written before
// QEMU starts and read to adopt a running QEMU after an agent restart, to
// tell which disks are in use, and to see what a spec change would need.
const recordName = "machine.json"

type record struct {
	Key       string         `json:"key"`
	VCPUs     int            `json:"vcpus"`
	MemoryMiB int64          `json:"memoryMiB"`
	Accel     string         `json:"accel"`
	UUID      string         `json:"uuid,omitempty"`
	Disks     []recordedDisk `json:"disks"`
	NICs      []recordedNIC  `json:"nics"`
	StartedAt string         `json:"startedAt"`
}

type recordedDisk struct {
	Namespace string `json:"namespace"`
	ID        string `json:"id"`
	Size      int64  `json:"size"`
}

type recordedNIC struct {
	NetworkID string `json:"networkID"`
	Address   string `json:"address"`
	MAC       string `json:"mac"`
	Tap       string `json:"tap"`
}

func (r record) diskIDs() []string {
	var out []string
	for _, d := range r.Disks {
		out = append(out, d.ID)
	}
	return out
}

func (r record) nicStatus() []api.VMNICStatus {
	var out []api.VMNICStatus
	for _, n := range r.NICs {
		out = append(out, api.VMNICStatus{NetworkID: n.NetworkID, MAC: n.MAC, Tap: n.Tap, IPv4Address: n.Address})
	}
	return out
}

func newRecord(k, accel, started string, p plan) record {
	r := record{Key: k, VCPUs: p.VCPUs, MemoryMiB: p.MemoryMiB, Accel: accel, UUID: p.UUID, StartedAt: started}
	for _, d := range p.Disks {
		r.Disks = append(r.Disks, recordedDisk{Namespace: d.Namespace, ID: d.ID, Size: d.Size})
	}
	for _, n := range p.NICs {
		a := ""
		if n.Address.IsValid() {
			a = n.Address.String()
		}
		r.NICs = append(r.NICs, recordedNIC{NetworkID: n.NetworkID, Address: a, MAC: n.MAC.String(), Tap: n.Tap})
	}
	return r
}

func readRecord(dir string) (record, error) {
	var r record
	b, err := os.ReadFile(filepath.Join(dir, recordName))
	if err != nil {
		return r, err
	}
	return r, json.Unmarshal(b, &r)
}

// writeRecord replaces the record atomically.
func writeRecord(dir string, r record) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, "."+recordName+".tmp")
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, recordName))
}

// dirName is a VM's directory under the VM root: short and fixed-length
// (unix socket paths are limited to 107 bytes, and three IDs of up to 63
// characters would not fit), derived from the key; the record inside
// names the VM.
func dirName(k string) string {
	h := sha256.Sum256([]byte(k))
	return "vm-" + strings.ToLower(base32.StdEncoding.EncodeToString(h[:])[:16])
}

// maxSocketPath is the longest path a unix socket can have on Linux.
const maxSocketPath = 107

func socketsFit(dir string) bool {
	for _, p := range []string{qemu.QMPSocket(dir), qemu.SerialSocket(dir), qemu.VNCSocket(dir)} {
		if len(p) > maxSocketPath {
			return false
		}
	}
	return true
}

// DiskUser returns the key of the VM running on this node with the disk
// group/namespace/id attached, or "". It reads the VM directories, not
// memory, so it is right from the moment the agent starts.
func (d *Driver) DiskUser(group, namespace, id string) string {
	dirs, _ := filepath.Glob(filepath.Join(d.dir, "vm-*"))
	for _, dir := range dirs {
		r, err := readRecord(dir)
		if err != nil || !strings.HasPrefix(r.Key, group+"/") {
			continue
		}
		for _, disk := range r.Disks {
			if disk.Namespace == namespace && disk.ID == id {
				if _, ok := qemu.Find(dir); ok {
					return r.Key
				}
			}
		}
	}
	return ""
}
