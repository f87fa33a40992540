package routerfw

import (
	"fmt"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Conntrack is the part of a netlink handle Forget uses; a
// *netlink.Handle opened with NETLINK_NETFILTER in the router's namespace
// (netlink.NewHandleAt) satisfies it.
type Conntrack interface {
	ConntrackDeleteFilters(table netlink.ConntrackTableType, family netlink.InetFamily, filters ...netlink.CustomConntrackFilter) (uint, error)
}

// Forget deletes the connection tracking entries that involve addrs on
// the external side: connections to them (original destination) and
// connections translated to them (reply destination). Without it, a flow
// that was translated before a rule went keeps being translated by its
// conntrack entry: an external IP taken off a router would still reach the
// host it was bound to for as long as the flow stays alive.
func Forget(h Conntrack, addrs []netip.Addr) (uint, error) {
	if len(addrs) == 0 {
		return 0, nil
	}
	var filters []netlink.CustomConntrackFilter
	for _, a := range addrs {
		for _, typ := range []netlink.ConntrackFilterType{netlink.ConntrackOrigDstIP, netlink.ConntrackReplyDstIP} {
			f := &netlink.ConntrackFilter{}
			if err := f.AddIP(typ, a.AsSlice()); err != nil {
				return 0, fmt.Errorf("conntrack filter %s: %w", a, err)
			}
			filters = append(filters, f)
		}
	}
	n, err := h.ConntrackDeleteFilters(netlink.ConntrackTable, unix.AF_INET, filters...)
	if err != nil {
		return n, fmt.Errorf("delete conntrack entries of %v: %w", addrs, err)
	}
	return n, nil
}
