package vm

import (
	"net"
	"net/netip"
	"testing"
)

// The address the API server's pool assigned (spec.nics[i].ipv4Address,
// planned into the NIC) is what status.nics[i].ipv4Address shows; a NIC
// without one shows none.
func TestNICStatusShowsAddress(t *testing.T) {
	mac, _ := net.ParseMAC("52:54:00:12:34:56")
	p := plan{NICs: []plannedNIC{
		{NetworkID: "net1", MAC: mac, Tap: "hs0", Address: netip.MustParseAddr("10.0.0.7"), Prefix: 24},
		{NetworkID: "net2", MAC: mac, Tap: "hs1"},
	}}
	st := newRecord("g/ns/vm1", "tcg", "", p).nicStatus()
	if len(st) != 2 || st[0].IPv4Address != "10.0.0.7" || st[0].NetworkID != "net1" || st[1].IPv4Address != "" {
		t.Fatalf("status.nics = %+v", st)
	}
}
