package debian

import (
	"net"
	"net/netip"
	"path/filepath"
	"testing"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/host/cloudinit"
)

// seedConfig is what the guest should become.
type seedConfig struct {
	Hostname      string
	MAC           net.HardwareAddr
	Address       netip.Prefix
	Gateway       netip.Addr
	Nameserver    netip.Addr
	User          string
	AuthorizedKey string
}

// writeSeed renders the NoCloud seed with humstack's own renderer, the one
// the agent uses for real VMs, and writes the cidata ISO.
func writeSeed(t *testing.T, c seedConfig) string {
	t.Helper()
	meta, err := cloudinit.MetaData("iid-"+c.Hostname+"-"+randomHex(t, 4), c.Hostname)
	if err != nil {
		t.Fatal(err)
	}
	user, err := cloudinit.UserData([]api.LoginUser{{Username: c.User, SSHAuthorizedKeys: []string{c.AuthorizedKey}}})
	if err != nil {
		t.Fatal(err)
	}
	network, err := cloudinit.NetworkConfig([]cloudinit.NIC{{
		MAC: c.MAC, Address: c.Address.Addr(), PrefixLen: c.Address.Bits(),
		Gateway: c.Gateway, Nameservers: []netip.Addr{c.Nameserver},
	}})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "seed.iso")
	seed := cloudinit.Seed{MetaData: meta, UserData: user, NetworkConfig: network}
	if err := cloudinit.WriteISOFile(path, seed); err != nil {
		t.Fatal(err)
	}
	return path
}
