package router

import (
	"strings"
	"testing"

	"github.com/humstack/humstack/internal/host/link"
	"github.com/humstack/humstack/internal/host/netns"
)

func TestNames(t *testing.T) {
	k := Key("group1", "ns1", "vrouter1")
	ext, nic := externalHostName(k), nicHostName(k, "net1")
	for _, n := range []string{ext, nic, hostPrefix(k), ExternalInside} {
		if n == "" || len(n) > 15 {
			t.Errorf("interface name %q: want 1-15 characters", n)
		}
	}
	if len(ext) != 11 || len(nic) != 14 || !strings.HasPrefix(ext, hostPrefix(k)) || !strings.HasPrefix(nic, hostPrefix(k)) {
		t.Fatalf("host names %q %q", ext, nic)
	}
	if !isHostLinkOf(hostPrefix(k), ext) || !isHostLinkOf(hostPrefix(k), nic) {
		t.Fatal("a router's own ports are not recognized")
	}
	other := Key("group1", "ns1", "vrouter2")
	for _, n := range []string{externalHostName(other), nicHostName(other, "net1"), hostPrefix(k), hostPrefix(k) + "xy",
		link.BridgeName("group1", "ns1", "net1"), link.TapName(k, 0)} {
		if isHostLinkOf(hostPrefix(k), n) {
			t.Errorf("%q is taken for a port of %s", n, k)
		}
	}
	if nicHostName(k, "net1") == nicHostName(k, "net2") {
		t.Fatal("two networks share a port name")
	}
	if NetnsName("", k) != NetnsName("", k) || NetnsName("", k) == NetnsName("", other) {
		t.Fatal("namespace names are not stable and distinct")
	}
	if n := NetnsName("hs-lab1-node-b-", k); !strings.HasPrefix(n, "hs-lab1-node-b-hsr-") || netns.ValidName(n) != nil {
		t.Fatalf("namespace name %q", n)
	}
	mac := portMAC(k, "")
	if mac[0]&1 != 0 || mac[0]&2 == 0 || portMAC(k, "net1").String() == mac.String() || portMAC(k, "").String() != mac.String() {
		t.Fatalf("MACs %s %s", mac, portMAC(k, "net1"))
	}
}
