package link

import (
	"errors"
	"net"

	"github.com/vishvananda/netlink"
)

// Handle is the part of netlink that Apply and Remove use; *netlink.Handle
// satisfies it. LinkByName reports a missing link with an error that
// errors.As matches as netlink.LinkNotFoundError.
type Handle interface {
	LinkByName(name string) (netlink.Link, error)
	LinkByIndex(index int) (netlink.Link, error)
	LinkList() ([]netlink.Link, error)
	LinkAdd(l netlink.Link) error
	LinkDel(l netlink.Link) error
	LinkSetUp(l netlink.Link) error
	LinkSetMTU(l netlink.Link, mtu int) error
	LinkSetMasterByIndex(l netlink.Link, master int) error
	LinkSetHardwareAddr(l netlink.Link, mac net.HardwareAddr) error
	AddrList(l netlink.Link, family int) ([]netlink.Addr, error)
	AddrAdd(l netlink.Link, a *netlink.Addr) error
	AddrDel(l netlink.Link, a *netlink.Addr) error
	NeighList(linkIndex, family int) ([]netlink.Neigh, error)
	NeighAppend(n *netlink.Neigh) error
	NeighDel(n *netlink.Neigh) error
}

var _ Handle = (*netlink.Handle)(nil)

// lookup returns the named link, or nil when there is none.
func lookup(h Handle, name string) (netlink.Link, error) {
	l, err := h.LinkByName(name)
	var nf netlink.LinkNotFoundError
	if errors.As(err, &nf) {
		return nil, nil
	}
	return l, err
}
