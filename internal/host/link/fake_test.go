package link

import (
	"fmt"
	"net"
	"slices"
	"strings"
	"syscall"

	"github.com/vishvananda/netlink"
)

// fakeHandle is an in-memory kernel for Apply and Remove: links by name,
// addresses and FDB entries, and a log of every write. failAdd makes
// LinkAdd of a type fail (e.g. "vlan" without 802.1Q support).
type fakeHandle struct {
	links   map[string]netlink.Link
	addrs   map[int][]netlink.Addr
	fdb     map[int][]string // link index -> peer IPs
	next    int
	writes  []string
	failAdd map[string]error
}

func newFake() *fakeHandle {
	f := &fakeHandle{links: map[string]netlink.Link{}, addrs: map[int][]netlink.Addr{}, fdb: map[int][]string{}, next: 1, failAdd: map[string]error{}}
	attrs := netlink.NewLinkAttrs()
	attrs.Name, attrs.MTU = "eth0", 1500
	f.put(&netlink.Device{LinkAttrs: attrs})
	f.writes = nil
	return f
}

func clone(l netlink.Link) netlink.Link {
	switch v := l.(type) {
	case *netlink.Bridge:
		c := *v
		return &c
	case *netlink.Vxlan:
		c := *v
		return &c
	case *netlink.Vlan:
		c := *v
		return &c
	case *netlink.Device:
		c := *v
		return &c
	}
	panic(fmt.Sprintf("fake: link type %T", l))
}

func (f *fakeHandle) put(l netlink.Link) {
	l = clone(l)
	at := l.Attrs()
	at.Index, at.Flags = f.next, 0
	f.next++
	if at.MTU == 0 {
		at.MTU = 1500
	}
	if at.HardwareAddr == nil {
		at.HardwareAddr = net.HardwareAddr{0xaa, 0, 0, 0, 0, byte(at.Index)}
	}
	f.links[at.Name] = l
}

func (f *fakeHandle) log(format string, a ...any) {
	f.writes = append(f.writes, fmt.Sprintf(format, a...))
}

func (f *fakeHandle) get(l netlink.Link) (netlink.Link, error) {
	if c, ok := f.links[l.Attrs().Name]; ok && c.Attrs().Index == l.Attrs().Index {
		return c, nil
	}
	return nil, syscall.ENODEV
}

func (f *fakeHandle) LinkByName(name string) (netlink.Link, error) {
	if l, ok := f.links[name]; ok {
		return clone(l), nil
	}
	return nil, netlink.LinkNotFoundError{}
}

func (f *fakeHandle) LinkByIndex(i int) (netlink.Link, error) {
	for _, l := range f.links {
		if l.Attrs().Index == i {
			return clone(l), nil
		}
	}
	return nil, netlink.LinkNotFoundError{}
}

func (f *fakeHandle) LinkList() ([]netlink.Link, error) {
	var out []netlink.Link
	for _, l := range f.links {
		out = append(out, clone(l))
	}
	return out, nil
}

func (f *fakeHandle) LinkAdd(l netlink.Link) error {
	if err := f.failAdd[l.Type()]; err != nil {
		return err
	}
	if _, ok := f.links[l.Attrs().Name]; ok {
		return syscall.EEXIST
	}
	f.log("add %s %s", l.Type(), l.Attrs().Name)
	f.put(l)
	return nil
}

func (f *fakeHandle) LinkDel(l netlink.Link) error {
	c, err := f.get(l)
	if err != nil {
		return err
	}
	f.log("del %s", c.Attrs().Name)
	delete(f.links, c.Attrs().Name)
	delete(f.addrs, c.Attrs().Index)
	return nil
}

func (f *fakeHandle) set(l netlink.Link, what string, fn func(*netlink.LinkAttrs)) error {
	c, err := f.get(l)
	if err != nil {
		return err
	}
	f.log("set %s %s", c.Attrs().Name, what)
	fn(c.Attrs())
	return nil
}

func (f *fakeHandle) LinkSetUp(l netlink.Link) error {
	return f.set(l, "up", func(a *netlink.LinkAttrs) { a.Flags |= net.FlagUp })
}

func (f *fakeHandle) LinkSetMTU(l netlink.Link, mtu int) error {
	return f.set(l, fmt.Sprint("mtu ", mtu), func(a *netlink.LinkAttrs) { a.MTU = mtu })
}

func (f *fakeHandle) LinkSetMasterByIndex(l netlink.Link, m int) error {
	master, err := f.LinkByIndex(m)
	if err != nil {
		return err
	}
	return f.set(l, "master "+master.Attrs().Name, func(a *netlink.LinkAttrs) { a.MasterIndex = m })
}

func (f *fakeHandle) LinkSetHardwareAddr(l netlink.Link, mac net.HardwareAddr) error {
	return f.set(l, "mac "+mac.String(), func(a *netlink.LinkAttrs) { a.HardwareAddr = mac })
}

func (f *fakeHandle) AddrList(l netlink.Link, _ int) ([]netlink.Addr, error) {
	c, err := f.get(l)
	if err != nil {
		return nil, err
	}
	return slices.Clone(f.addrs[c.Attrs().Index]), nil
}

func (f *fakeHandle) AddrAdd(l netlink.Link, a *netlink.Addr) error {
	c, err := f.get(l)
	if err != nil {
		return err
	}
	f.log("addr add %s %s", a.IPNet, c.Attrs().Name)
	f.addrs[c.Attrs().Index] = append(f.addrs[c.Attrs().Index], *a)
	return nil
}

func (f *fakeHandle) AddrDel(l netlink.Link, a *netlink.Addr) error {
	c, err := f.get(l)
	if err != nil {
		return err
	}
	f.log("addr del %s %s", a.IPNet, c.Attrs().Name)
	i := c.Attrs().Index
	f.addrs[i] = slices.DeleteFunc(f.addrs[i], func(x netlink.Addr) bool { return x.IPNet.String() == a.IPNet.String() })
	return nil
}

func (f *fakeHandle) NeighList(i, _ int) ([]netlink.Neigh, error) {
	var out []netlink.Neigh
	for _, ip := range f.fdb[i] {
		out = append(out, netlink.Neigh{LinkIndex: i, IP: net.ParseIP(ip), HardwareAddr: zeroMAC})
	}
	return out, nil
}

func (f *fakeHandle) NeighAppend(n *netlink.Neigh) error {
	f.log("fdb add %s", n.IP)
	f.fdb[n.LinkIndex] = append(f.fdb[n.LinkIndex], n.IP.String())
	return nil
}

func (f *fakeHandle) NeighDel(n *netlink.Neigh) error {
	f.log("fdb del %s", n.IP)
	f.fdb[n.LinkIndex] = slices.DeleteFunc(f.fdb[n.LinkIndex], func(s string) bool { return s == n.IP.String() })
	return nil
}

// state renders the fake's links as sorted text lines.
func (f *fakeHandle) state() string {
	var lines []string
	for _, l := range f.links {
		at := l.Attrs()
		line := fmt.Sprintf("%s %s mtu=%d up=%v", at.Name, l.Type(), at.MTU, at.Flags&net.FlagUp != 0)
		if at.MasterIndex != 0 {
			m, _ := f.LinkByIndex(at.MasterIndex)
			line += " master=" + m.Attrs().Name
		}
		if v, ok := l.(*netlink.Vlan); ok {
			p, _ := f.LinkByIndex(v.ParentIndex)
			line += fmt.Sprintf(" id=%d parent=%s", v.VlanId, p.Attrs().Name)
		}
		for _, a := range f.addrs[at.Index] {
			line += " addr=" + a.IPNet.String()
		}
		lines = append(lines, line)
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}
