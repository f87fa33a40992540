package link

import (
	"fmt"

	"github.com/vishvananda/netlink"
)

// vxlanLink is the desired VXLAN link of want over dev.
func vxlanLink(want Network, dev netlink.Link, mtu int) *netlink.Vxlan {
	attrs := netlink.NewLinkAttrs()
	attrs.Name, attrs.MTU = MemberName(want.Bridge, VXLAN), mtu
	return &netlink.Vxlan{
		LinkAttrs:    attrs,
		VxlanId:      want.ID,
		VtepDevIndex: dev.Attrs().Index,
		Group:        want.Group,
		Port:         VXLANPort,
		Learning:     true,
	}
}

// vlanLink is the desired 802.1Q link of want on dev.
func vlanLink(want Network, dev netlink.Link, mtu int) *netlink.Vlan {
	attrs := netlink.NewLinkAttrs()
	attrs.Name, attrs.MTU, attrs.ParentIndex = MemberName(want.Bridge, VLAN), mtu, dev.Attrs().Index
	return &netlink.Vlan{LinkAttrs: attrs, VlanId: want.ID, VlanProtocol: netlink.VLAN_PROTOCOL_8021Q}
}

// sameMember reports whether the existing link have can stay as want:
// same type and the same attributes that cannot change in place.
func sameMember(have, want netlink.Link) bool {
	switch w := want.(type) {
	case *netlink.Vxlan:
		h, ok := have.(*netlink.Vxlan)
		return ok && h.VxlanId == w.VxlanId && h.VtepDevIndex == w.VtepDevIndex &&
			h.Port == w.Port && h.Learning == w.Learning && sameIP(h.Group, w.Group)
	case *netlink.Vlan:
		h, ok := have.(*netlink.Vlan)
		return ok && h.VlanId == w.VlanId && h.ParentIndex == w.ParentIndex
	}
	return false
}

// member finds, replaces or creates the member link want, then fixes its
// MTU, master and state.
func (a *applier) member(want netlink.Link, br netlink.Link) (netlink.Link, error) {
	name := want.Attrs().Name
	have, err := lookup(a.h, name)
	if err != nil {
		return nil, fmt.Errorf("link %s: %w", name, err)
	}
	if have != nil && !sameMember(have, want) {
		a.changed = true
		if err := a.h.LinkDel(have); err != nil {
			return nil, fmt.Errorf("replace %s: %w", name, err)
		}
		have = nil
	}
	if have == nil {
		if err := a.conflict(want); err != nil {
			return nil, err
		}
		if have, err = a.create(want); err != nil {
			return nil, err
		}
	}
	return have, a.fixAttrs(have, want.Attrs().MTU, br.Attrs().Index)
}

// conflict reports another link that already uses want's VLAN ID on the
// same device, or its VNI on the same underlay, which the kernel would
// refuse with a bare "file exists".
func (a *applier) conflict(want netlink.Link) error {
	links, err := a.h.LinkList()
	if err != nil {
		return fmt.Errorf("list links: %w", err)
	}
	for _, l := range links {
		switch w := want.(type) {
		case *netlink.Vlan:
			if o, ok := l.(*netlink.Vlan); ok && o.VlanId == w.VlanId && o.ParentIndex == w.ParentIndex {
				return fmt.Errorf("vlan %d on %s already used by %s", w.VlanId, a.want.Dev, o.Name)
			}
		case *netlink.Vxlan:
			if o, ok := l.(*netlink.Vxlan); ok && o.VxlanId == w.VxlanId && o.Port == w.Port {
				return fmt.Errorf("vni %d already used by %s", w.VxlanId, o.Name)
			}
		}
	}
	return nil
}

// removeStaleMembers deletes member links of the other kinds, left from
// an earlier network type.
func (a *applier) removeStaleMembers() error {
	for _, k := range []Kind{VXLAN, VLAN} {
		if k == a.want.Kind {
			continue
		}
		l, err := lookup(a.h, MemberName(a.want.Bridge, k))
		if err != nil || l == nil || l.Type() != map[Kind]string{VXLAN: "vxlan", VLAN: "vlan"}[k] {
			continue // not ours, or not there
		}
		a.changed = true
		if err := a.h.LinkDel(l); err != nil {
			return fmt.Errorf("delete stale %s: %w", l.Attrs().Name, err)
		}
	}
	return nil
}
