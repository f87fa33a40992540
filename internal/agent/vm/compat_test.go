package vm

import (
	"strings"
	"testing"

	"github.com/humstack/humstack/internal/testenv/golden"

	"sigs.k8s.io/yaml"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/host/qemu"
)

// fixedVM is a VM of the original's wire format that fixes its first NIC's
// MAC (a universally administered one, as licences often want) and its
// SMBIOS UUID, leaves the second NIC's MAC to humstack, and fixes the
// third's to one of digits only, which YAML 1.1 would read as a number
// unless network-config quotes it.
func fixedVM(t *testing.T) (*api.VirtualMachine, *api.Network) {
	t.Helper()
	obj, err := api.Decode([]byte(`{"meta":{"id":"vm1","group":"g","namespace":"ns","apiType":"systemv0/virtualmachine",
"resourceHash":"","deleteState":"","annotations":{"virtualmachinev0/node_name":"n1"}},
"spec":{"uuid":"5f0c1a2e-8b4d-4c6e-9f3a-1b2c3d4e5f60","hostname":"","requestVcpus":"1000m","limitVcpus":"1000m",
"requestMemory":"256M","limitMemory":"256M","blockStorageIDs":["bs1"],
"nics":[{"networkID":"net1","macAddress":"00:16:3e:0a:0b:0c","ipv4Address":"10.0.0.5","ipv6Address":"","nameservers":["10.0.0.53"],"defaultGateway":"10.0.0.1"},
        {"networkID":"net1","macAddress":"","ipv4Address":"10.0.0.6","ipv6Address":""},
        {"networkID":"net1","macAddress":"10:20:30:40:50:00","ipv4Address":"10.0.0.7","ipv6Address":""}]}}`))
	if err != nil {
		t.Fatal(err)
	}
	n := &api.Network{}
	n.Meta = api.Meta{ID: "net1"}
	n.Spec.IPv4CIDR = "10.0.0.0/24"
	return obj.(*api.VirtualMachine), n
}

func fixedPlan(t *testing.T, vm *api.VirtualMachine, n *api.Network) plan {
	t.Helper()
	p, err := basePlan(vm)
	if err != nil {
		t.Fatal(err)
	}
	p.Disks = []plannedDisk{{Namespace: "ns", ID: "bs1", Path: "/var/lib/humstack/bs/bs1.qcow2"}}
	for i := range vm.Spec.NICs {
		pn, err := planNIC(vm, i, n, "hsbr")
		if err != nil {
			t.Fatal(err)
		}
		p.NICs = append(p.NICs, pn)
	}
	return p
}

// TestFixedMACAndUUIDReachQEMUAndCloudInit follows spec.uuid and
// nics[].macAddress from the API object to QEMU's argv and to the
// network-config that matches the guest's NICs by MAC.
func TestFixedMACAndUUIDReachQEMUAndCloudInit(t *testing.T) {
	vm, n := fixedVM(t)
	p := fixedPlan(t, vm, n)
	argv, err := qemu.Args(machine(vm, "/var/lib/humstack/vms/vm-x", "tcg", p, "/var/lib/humstack/vms/vm-x/seed.iso"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := strings.Join(argv, " ")
	derived := MAC("g/ns/vm1", 1).String()
	for _, want := range []string{
		"-uuid 5f0c1a2e-8b4d-4c6e-9f3a-1b2c3d4e5f60",
		"virtio-net-pci,netdev=hs_net0,mac=00:16:3e:0a:0b:0c,",
		"virtio-net-pci,netdev=hs_net1,mac=" + derived + ",",
		"virtio-net-pci,netdev=hs_net2,mac=10:20:30:40:50:00,",
	} {
		if !strings.Contains(cmd, want) {
			t.Errorf("argv lacks %q:\n%s", want, cmd)
		}
	}
	s, err := seed(vm, p, []int{1450, 1450, 1450})
	if err != nil {
		t.Fatal(err)
	}
	golden.Assert(t, "network-config-fixed-mac.golden", s.NetworkConfig)
	// What a YAML reader (cloud-init's) sees: the MACs as strings.
	var nc struct {
		Config []struct {
			MAC string `json:"mac_address"`
		} `json:"config"`
	}
	if err := yaml.Unmarshal(s.NetworkConfig, &nc); err != nil {
		t.Fatalf("network-config: %v\n%s", err, s.NetworkConfig)
	}
	wantMACs := []string{"00:16:3e:0a:0b:0c", derived, "10:20:30:40:50:00"}
	for i, c := range nc.Config {
		if i >= len(wantMACs) || c.MAC != wantMACs[i] {
			t.Errorf("network-config NIC %d matches MAC %q, want %v", i, c.MAC, wantMACs)
		}
	}
	rec := newRecord("g/ns/vm1", "tcg", "", p)
	if got := rec.nicStatus(); got[0].MAC != wantMACs[0] || got[1].MAC != derived || got[2].MAC != wantMACs[2] {
		t.Errorf("status.nics %+v", got)
	}
}

// TestFixedMACAndUUIDChangesNeedARestart: QEMU takes both at start only.
func TestFixedMACAndUUIDChangesNeedARestart(t *testing.T) {
	vm, n := fixedVM(t)
	rec := newRecord("g/ns/vm1", "tcg", "", fixedPlan(t, vm, n))
	if got := restartRequired(rec, fixedPlan(t, vm, n)); len(got) != 0 {
		t.Fatalf("unchanged VM needs %v", got)
	}
	vm.Spec.UUID = ""
	vm.Spec.NICs[0].MACAddress = "02:00:00:00:00:01"
	got := strings.Join(restartRequired(rec, fixedPlan(t, vm, n)), "; ")
	for _, want := range []string{"uuid 5f0c1a2e-8b4d-4c6e-9f3a-1b2c3d4e5f60 -> (default)", "nics[0] mac 00:16:3e:0a:0b:0c -> 02:00:00:00:00:01"} {
		if !strings.Contains(got, want) {
			t.Errorf("%q lacks %q", got, want)
		}
	}
}

func TestPlanNICRefusesABadFixedMAC(t *testing.T) {
	vm, n := fixedVM(t)
	vm.Spec.NICs[0].MACAddress = "01:00:5e:00:00:01" // multicast; the server refuses it first
	if _, err := planNIC(vm, 0, n, "hsbr"); err == nil || !strings.Contains(err.Error(), "spec.nics[0].macAddress") {
		t.Fatalf("multicast MAC: %v", err)
	}
}
