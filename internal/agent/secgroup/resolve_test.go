package secgroup

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/agent/vm"
	"github.com/humstack/humstack/internal/host/link"
	hsg "github.com/humstack/humstack/internal/host/secgroup"
)

func testVM(id string, nics ...api.VMNIC) *api.VirtualMachine {
	x := &api.VirtualMachine{}
	x.Meta = api.Meta{Group: "g", Namespace: "ns", ID: id}
	x.Spec.NICs = nics
	return x
}

func testGroup(id string, rules ...api.SecurityGroupRule) *api.SecurityGroup {
	g := &api.SecurityGroup{}
	g.Meta = api.Meta{Group: "g", Namespace: "ns", ID: id}
	g.Spec.Rules = rules
	return g
}

func testView(vms []*api.VirtualMachine, groups ...*api.SecurityGroup) view {
	v := view{vms: vms, groups: map[ref]*api.SecurityGroup{}, nets: map[ref]*api.Network{}}
	for _, g := range groups {
		v.groups[ref{"g", "ns", g.Meta.ID}] = g
	}
	n := &api.Network{}
	n.Meta = api.Meta{Group: "g", Namespace: "ns", ID: "net1"}
	n.Spec.DHCP = &api.NetworkDHCP{Address: "10.0.0.2"}
	v.nets[ref{"g", "ns", "net1"}] = n
	return v
}

func TestResolve(t *testing.T) {
	web := testVM("web",
		api.VMNIC{NetworkID: "net1", IPv4Address: "10.0.0.10", SecurityGroupIDs: []string{"ssh", "app"}},
		api.VMNIC{NetworkID: "net1", IPv4Address: "10.0.0.11"}, // no groups: not filtered
	)
	db := testVM("db", api.VMNIC{NetworkID: "net1", IPv4Address: "10.0.0.20", MACAddress: "52:54:00:12:34:56", SecurityGroupIDs: []string{"db"}})
	ssh := testGroup("ssh", api.SecurityGroupRule{Direction: api.DirectionIngress, Protocol: api.ProtocolTCP, Ports: "22", RemoteCIDR: "192.168.10.254/32"})
	// The Core agent's members: web's first NIC here, and a NIC of a VM
	// on another node, which this node cannot read.
	ssh.Status.Members = []api.SecurityGroupMember{{VMID: "elsewhere", NIC: 1, IPv4Address: "10.0.0.99"}, {VMID: "web", NIC: 0, IPv4Address: "10.0.0.10"}}
	v := testView([]*api.VirtualMachine{web, db},
		ssh,
		testGroup("app", api.SecurityGroupRule{Direction: api.DirectionIngress, Protocol: api.ProtocolTCP, Ports: "8000-8080", RemoteSecurityGroupID: "nobody"}),
		testGroup("db",
			api.SecurityGroupRule{Direction: api.DirectionIngress, Protocol: api.ProtocolTCP, Ports: "5432", RemoteSecurityGroupID: "ssh"},
			api.SecurityGroupRule{Direction: api.DirectionEgress, Protocol: api.ProtocolUDP, Ports: "123"}),
	)
	nics, problems := resolve(v)
	if len(problems) != 0 {
		t.Fatalf("problems: %+v", problems)
	}
	if len(nics) != 2 {
		t.Fatalf("got %d NICs, want 2 (web's first, db's)", len(nics))
	}
	w, d := nics[0], nics[1]
	if w.Tap != link.TapName("g/ns/web", 0) || w.MAC.String() != vm.MAC("g/ns/web", 0).String() || w.Address != netip.MustParseAddr("10.0.0.10") || w.Server != netip.MustParseAddr("10.0.0.2") {
		t.Errorf("web's NIC = %+v", w)
	}
	// the app rule's remote group has no member: left out, matching no peer
	if len(w.Ingress) != 1 || w.Ingress[0].Ports != (api.PortRange{First: 22, Last: 22}) || w.RestrictEgress {
		t.Errorf("web's rules = %+v, restrict egress %v", w.Ingress, w.RestrictEgress)
	}
	if d.MAC.String() != "52:54:00:12:34:56" || !d.RestrictEgress || len(d.Egress) != 1 {
		t.Errorf("db's NIC = %+v", d)
	}
	want := []netip.Prefix{netip.MustParsePrefix("10.0.0.10/32"), netip.MustParsePrefix("10.0.0.99/32")}
	if len(d.Ingress) != 1 || !slices.Equal(d.Ingress[0].Peers, want) {
		t.Errorf("db's ingress peers (members of ssh) = %+v, want %v (web's first NIC, and the other node's)", d.Ingress, want)
	}
	if _, err := hsg.Render(nics); err != nil {
		t.Fatal(err)
	}
}

// TestResolveMissingGroupFailsClosed: a NIC naming a group that does not
// exist is filtered as by a group without rules, and a problem says so.
func TestResolveMissingGroupFailsClosed(t *testing.T) {
	x := testVM("web", api.VMNIC{NetworkID: "net1", SecurityGroupIDs: []string{"gone"}})
	nics, problems := resolve(testView([]*api.VirtualMachine{x}))
	if len(nics) != 1 || len(nics[0].Ingress) != 0 || nics[0].RestrictEgress {
		t.Fatalf("nics = %+v, want one with no rules", nics)
	}
	if len(problems) != 1 || problems[0].reason != ReasonMissing || !strings.Contains(problems[0].msg, `spec.nics[0].securityGroupIDs: security group "gone" does not exist`) {
		t.Fatalf("problems = %+v", problems)
	}
}

// TestResolveEgressRuleWithoutPeers: an egress rule whose remote group is
// empty still restricts egress (it allows nothing yet).
func TestResolveEgressRuleWithoutPeers(t *testing.T) {
	x := testVM("web", api.VMNIC{NetworkID: "net1", SecurityGroupIDs: []string{"out"}})
	nics, _ := resolve(testView([]*api.VirtualMachine{x},
		testGroup("out", api.SecurityGroupRule{Direction: api.DirectionEgress, Protocol: api.ProtocolAll, RemoteSecurityGroupID: "empty"})))
	if len(nics) != 1 || !nics[0].RestrictEgress || len(nics[0].Egress) != 0 {
		t.Fatalf("nics = %+v", nics)
	}
}

type fakeHost struct {
	applied    []string
	installed  bool
	failApply  error
	failNF     error
	forgot     [][]netip.Addr
	failForget error
}

func (f *fakeHost) Forget(addrs []netip.Addr) (uint, error) {
	if f.failForget != nil {
		return 0, f.failForget
	}
	f.forgot = append(f.forgot, addrs)
	return uint(len(addrs)), nil
}

func (f *fakeHost) Apply(_ context.Context, text string) error {
	if f.failApply != nil {
		return f.failApply
	}
	f.applied = append(f.applied, text)
	f.installed = text != ""
	return nil
}
func (f *fakeHost) Installed(context.Context) (bool, error) { return f.installed, nil }
func (f *fakeHost) EnableBridgeNetfilter() error            { return f.failNF }

// TestInstall: the first reconcile always writes (leftovers of an earlier
// run go), equal rulesets are not written again unless the tables went
// missing, and failures are retried.
func TestInstall(t *testing.T) {
	h := &fakeHost{}
	c := &Controller{host: h, dirty: true, log: discardLog()}
	ctx := context.Background()
	steps := []struct {
		text    string
		prepare func()
		writes  int
	}{
		{"", nil, 1}, // start: clear what an earlier run left
		{"", nil, 1},
		{"A", nil, 2},
		{"A", nil, 2},
		{"A", func() { h.installed = false }, 3}, // someone deleted the tables
		{"B", func() { h.failApply = errors.New("nft: boom") }, 3},
		{"B", func() { h.failApply = nil }, 4},
		{"", nil, 5},
	}
	for i, s := range steps {
		if s.prepare != nil {
			s.prepare()
		}
		err := c.install(ctx, s.text, nil)
		if (err != nil) != (h.failApply != nil) {
			t.Fatalf("step %d: install = %v", i, err)
		}
		if len(h.applied) != s.writes {
			t.Fatalf("step %d: %d writes (%q), want %d", i, len(h.applied), h.applied, s.writes)
		}
	}
	h.failNF = errors.New("no br_netfilter")
	if err := c.install(ctx, "C", nil); err == nil || !strings.Contains(err.Error(), "br_netfilter") {
		t.Fatalf("install without br_netfilter = %v", err)
	}
}

func discardLog() *slog.Logger { return slog.New(slog.DiscardHandler) }
