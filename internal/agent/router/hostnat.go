package router

import (
	"errors"
	"fmt"
	"net/netip"
	"os"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
	vnetns "github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/humstack/humstack/internal/host/garp"
	"github.com/humstack/humstack/internal/host/routerfw"
)

// setRules installs the NAT and forgets the connections of addresses it
// no longer translates and of port forwards it no longer has.
func setRules(nsf *os.File, r routerfw.Rules) error {
	c, err := nftables.New(nftables.WithNetNSFd(int(nsf.Fd())))
	if err != nil {
		return fmt.Errorf("nftables: %w", err)
	}
	was, err := routerfw.Installed(c)
	if err != nil {
		return err
	}
	if _, err := routerfw.Set(c, r); err != nil {
		return err
	}
	stale, staleFwd := routerfw.Stale(was, r), routerfw.StaleForwards(was, r)
	if len(stale) == 0 && len(staleFwd) == 0 {
		return nil
	}
	ct, err := netlink.NewHandleAt(vnetns.NsHandle(nsf.Fd()), unix.NETLINK_NETFILTER)
	if err != nil {
		return fmt.Errorf("conntrack: %w", err)
	}
	defer ct.Close()
	_, err1 := routerfw.Forget(ct, stale)
	_, err2 := routerfw.ForgetForwards(ct, staleFwd)
	return errors.Join(err1, err2)
}

// announce sends gratuitous ARP for the addresses just added to the
// router's interface ifname: an external IP that moved here from another
// router (on another node, with another MAC) is reached here at once, not
// after the upstream's and the neighbours' ARP entries expire.
func announce(ns, ifname string, added []netip.Addr) error {
	if len(added) == 0 {
		return nil
	}
	return garp.Announce(ns, ifname, added)
}
