package vm

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/humstack/humstack/api"
)

func TestMACIsStableUnicastLocal(t *testing.T) {
	a, b := MAC("g/ns/vm1", 0), MAC("g/ns/vm1", 0)
	if a.String() != b.String() {
		t.Fatalf("MAC not stable: %s %s", a, b)
	}
	if MAC("g/ns/vm1", 1).String() == a.String() || MAC("g/ns/vm2", 0).String() == a.String() {
		t.Fatal("different NICs share a MAC")
	}
	if a[0]&1 != 0 || a[0]&2 == 0 {
		t.Fatalf("MAC %s is not unicast and locally administered", a)
	}
}

func TestResources(t *testing.T) {
	for _, tc := range []struct {
		cpu, mem string
		vcpus    int
		mib      int64
		err      string
	}{
		{"1", "128M", 1, 128, ""},
		{"2000m", "1G", 2, 1024, ""},
		{"1500m", "1G", 0, 0, "spec.limitVcpus"},
		{"1", "8M", 0, 0, "spec.limitMemory"},
	} {
		v, m, err := resources(&api.VirtualMachineSpec{LimitVcpus: tc.cpu, LimitMemory: tc.mem})
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s/%s: err %v, want one naming %s", tc.cpu, tc.mem, err, tc.err)
			}
			continue
		}
		if err != nil || v != tc.vcpus || m != tc.mib {
			t.Errorf("%s/%s: %d %d %v", tc.cpu, tc.mem, v, m, err)
		}
	}
}

func TestPlanNIC(t *testing.T) {
	vm := &api.VirtualMachine{}
	vm.Meta = api.Meta{Group: "g", Namespace: "ns", ID: "vm1"}
	vm.Spec.NICs = []api.VMNIC{{NetworkID: "net1", IPv4Address: "10.0.0.5", Nameservers: []string{"10.0.0.53"}}}
	n := &api.Network{}
	n.Meta = api.Meta{ID: "net1", Annotations: map[string]string{api.AnnotationDefaultGateway: "10.0.0.1/24"}}
	n.Spec.IPv4CIDR = "10.0.0.0/24"
	p, err := planNIC(vm, 0, n, "hsabc")
	if err != nil {
		t.Fatal(err)
	}
	if p.Address != netip.MustParseAddr("10.0.0.5") || p.Prefix != 24 || p.Gateway != netip.MustParseAddr("10.0.0.1") || len(p.DNS) != 1 || p.Bridge != "hsabc" || len(p.Tap) > 15 {
		t.Fatalf("plan %+v", p)
	}
	vm.Spec.NICs[0].IPv4Address = "10.9.0.5"
	if _, err := planNIC(vm, 0, n, "hsabc"); err == nil || !strings.Contains(err.Error(), "spec.nics[0].ipv4Address") {
		t.Fatalf("address outside the network: %v", err)
	}
	vm.Spec.NICs[0].IPv4Address, vm.Spec.NICs[0].DefaultGateway = "10.0.0.5", "10.1.0.1"
	if _, err := planNIC(vm, 0, n, "hsabc"); err == nil || !strings.Contains(err.Error(), "gateway") {
		t.Fatalf("gateway outside the network: %v", err)
	}
}

func TestRestartRequired(t *testing.T) {
	p := plan{VCPUs: 1, MemoryMiB: 256, Disks: []plannedDisk{{ID: "d1"}}, NICs: []plannedNIC{{NetworkID: "net1", Address: netip.MustParseAddr("10.0.0.5")}}}
	rec := newRecord("g/ns/vm1", "tcg", "", p)
	if got := restartRequired(rec, p); len(got) != 0 {
		t.Fatalf("unchanged spec needs %v", got)
	}
	p.VCPUs, p.MemoryMiB = 2, 512
	p.Disks = append(p.Disks, plannedDisk{ID: "d2"})
	got := strings.Join(restartRequired(rec, p), "; ")
	for _, want := range []string{"vCPUs 1 -> 2", "memory 256MiB -> 512MiB", "disks [d1] -> [d1 d2]"} {
		if !strings.Contains(got, want) {
			t.Errorf("%q lacks %q", got, want)
		}
	}
}

func TestRestartDelay(t *testing.T) {
	for restarts, want := range map[int]time.Duration{0: 0, 1: time.Second, 2: 2 * time.Second, 7: time.Minute, 100: time.Minute} {
		if got := restartDelay(restarts); got != want {
			t.Errorf("restartDelay(%d) = %s, want %s", restarts, got, want)
		}
	}
}

func TestDirNameKeepsSocketsShort(t *testing.T) {
	long := strings.Repeat("a", 63)
	d := dirName(long + "/" + long + "/" + long)
	if len(d) != len("vm-")+16 || d == dirName("g/ns/vm1") {
		t.Fatalf("dir name %q", d)
	}
	if !socketsFit("/var/lib/humstack/virtualmachines/" + d) {
		t.Fatal("sockets do not fit under a usual path")
	}
	if socketsFit("/" + strings.Repeat("x", 100) + "/" + d) {
		t.Fatal("an overlong path passes")
	}
}

func TestSeed(t *testing.T) {
	vm := &api.VirtualMachine{}
	vm.Meta = api.Meta{Group: "g", Namespace: "ns", ID: "vm1", Name: "web server", UID: "u-1"}
	vm.Spec.LoginUsers = []api.LoginUser{{Username: "alice", SSHAuthorizedKeys: []string{"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBmP6Ppbt7vY5m2l5dCWvdDGzYvMZrdjODbJpD0oQv0x alice"}}}
	p := plan{NICs: []plannedNIC{{MAC: MAC("g/ns/vm1", 0), Address: netip.MustParseAddr("10.0.0.5"), Prefix: 24, Gateway: netip.MustParseAddr("10.0.0.1")}}}
	s, err := seed(vm, p, []int{1450})
	if err != nil {
		t.Fatal(err)
	}
	md, ud, nc := string(s.MetaData), string(s.UserData), string(s.NetworkConfig)
	// "web server" is not a host name: the id is used.
	for _, want := range []string{"instance-id: u-1", "local-hostname: vm1"} {
		if !strings.Contains(md, want) {
			t.Errorf("meta-data lacks %q:\n%s", want, md)
		}
	}
	if !strings.Contains(ud, "alice") || !strings.Contains(ud, "ssh-ed25519") {
		t.Errorf("user-data:\n%s", ud)
	}
	for _, want := range []string{MAC("g/ns/vm1", 0).String(), "10.0.0.5/24", "gateway: 10.0.0.1", "mtu: 1450"} {
		if !strings.Contains(nc, want) {
			t.Errorf("network-config lacks %q:\n%s", want, nc)
		}
	}
}
