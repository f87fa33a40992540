package secgroup

import (
	"fmt"
	"net/netip"

	"github.com/vishvananda/netlink"
	vnetns "github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/humstack/humstack/internal/host/netns"
	"github.com/humstack/humstack/internal/host/routerfw"
)

// Forget deletes the node's connection tracking entries to or from addrs
// (in every zone), so that flows a stricter ruleset no longer allows are
// cut: "established" passes before any rule, so a flow opened while an
// older rule allowed it would otherwise live on for as long as it is used.
// The next packet of a cut flow is new and meets the rules.
func (r Runner) Forget(addrs []netip.Addr) (uint, error) {
	if len(addrs) == 0 {
		return 0, nil
	}
	h, err := r.conntrack()
	if err != nil {
		return 0, err
	}
	defer h.Close()
	// Original or reply destination covers both directions: a flow the NIC
	// opened has it as the reply's destination.
	return routerfw.Forget(h, addrs)
}

func (r Runner) conntrack() (*netlink.Handle, error) {
	if r.Netns == "" {
		h, err := netlink.NewHandle(unix.NETLINK_NETFILTER)
		if err != nil {
			return nil, fmt.Errorf("netlink conntrack: %w", err)
		}
		return h, nil
	}
	f, err := netns.Open(r.Netns)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	h, err := netlink.NewHandleAt(vnetns.NsHandle(f.Fd()), unix.NETLINK_NETFILTER)
	if err != nil {
		return nil, fmt.Errorf("netlink conntrack in %s: %w", r.Netns, err)
	}
	return h, nil
}
