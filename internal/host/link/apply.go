package link

import (
	"bytes"
	"errors"
	"fmt"
	"net"

	"github.com/vishvananda/netlink"

	"github.com/humstack/humstack/internal/host/revert"
)

// Apply makes the node's links match want: it creates what is missing and
// fixes what differs (MTU, MAC, master, up, addresses, FDB entries) in
// place. A member link whose immutable attributes differ (VNI, VLAN ID,
// underlay, group, port) is replaced; nothing that is right is re-created.
// changed reports whether anything was written. When a step fails, the
// links made by this call are deleted again; pre-existing ones are kept.
func Apply(h Handle, want Network) (changed bool, err error) {
	if err := want.Validate(); err != nil {
		return false, fmt.Errorf("network %s: %w", want.Bridge, err)
	}
	r := revert.New()
	defer r.Fail()
	a := &applier{h: h, want: want, r: r}
	if err := a.apply(); err != nil {
		return a.changed, fmt.Errorf("network %s: %w", want.Bridge, err)
	}
	r.Success()
	return a.changed, nil
}

// applier holds one Apply's state.
type applier struct {
	h       Handle
	want    Network
	r       *revert.Reverter
	changed bool
}

func (a *applier) apply() error {
	var dev netlink.Link
	if a.want.Kind != Bridge {
		var err error
		if dev, err = a.h.LinkByName(a.want.Dev); err != nil {
			return fmt.Errorf("underlay %s: %w", a.want.Dev, err)
		}
	}
	mtu := effectiveMTU(a.want, dev)
	br, err := a.bridge(mtu)
	if err != nil {
		return err
	}
	if err := a.removeStaleMembers(); err != nil {
		return err
	}
	var member netlink.Link
	switch a.want.Kind {
	case VXLAN:
		member, err = a.member(vxlanLink(a.want, dev, mtu), br)
	case VLAN:
		member, err = a.member(vlanLink(a.want, dev, mtu), br)
	}
	if err != nil {
		return err
	}
	errs := []error{a.addresses(br)}
	if a.want.Kind == VXLAN && a.want.Group == nil {
		errs = append(errs, a.fdb(member))
	}
	return errors.Join(errs...)
}

// effectiveMTU is want.MTU or, when 0, the kind's default (0: leave the
// kernel's).
func effectiveMTU(want Network, dev netlink.Link) int {
	switch {
	case want.MTU > 0:
		return want.MTU
	case want.Kind == VXLAN:
		return dev.Attrs().MTU - VXLANOverhead
	case want.Kind == VLAN:
		return dev.Attrs().MTU
	}
	return 0
}

// bridge finds or creates the bridge and fixes its MTU, MAC and state.
func (a *applier) bridge(mtu int) (netlink.Link, error) {
	name := a.want.Bridge
	br, err := lookup(a.h, name)
	if err != nil {
		return nil, fmt.Errorf("bridge %s: %w", name, err)
	}
	if br != nil && br.Type() != "bridge" {
		return nil, fmt.Errorf("link %s exists and is a %s, not a bridge", name, br.Type())
	}
	if br == nil {
		attrs := netlink.NewLinkAttrs()
		attrs.Name, attrs.MTU, attrs.HardwareAddr = name, mtu, BridgeMAC(name)
		if br, err = a.create(&netlink.Bridge{LinkAttrs: attrs}); err != nil {
			return nil, err
		}
	}
	if err := a.fixAttrs(br, mtu, 0); err != nil {
		return nil, err
	}
	if mac := BridgeMAC(name); !bytes.Equal(br.Attrs().HardwareAddr, mac) {
		a.changed = true
		if err := a.h.LinkSetHardwareAddr(br, mac); err != nil {
			return nil, fmt.Errorf("set mac of %s: %w", name, err)
		}
	}
	return br, nil
}

// create adds l, registers its deletion with the reverter and returns it
// as the kernel reports it.
func (a *applier) create(l netlink.Link) (netlink.Link, error) {
	name := l.Attrs().Name
	if err := a.h.LinkAdd(l); err != nil {
		return nil, fmt.Errorf("add %s %s: %w", l.Type(), name, err)
	}
	a.changed = true
	got, err := a.h.LinkByName(name)
	if err != nil {
		return nil, fmt.Errorf("%s after adding it: %w", name, err)
	}
	a.r.Add(func() { _ = a.h.LinkDel(got) })
	return got, nil
}

// fixAttrs sets l's MTU (unless mtu is 0) and master (unless master is 0)
// when they differ, and brings it up.
func (a *applier) fixAttrs(l netlink.Link, mtu, master int) error {
	at := l.Attrs()
	if mtu > 0 && at.MTU != mtu {
		a.changed = true
		if err := a.h.LinkSetMTU(l, mtu); err != nil {
			return fmt.Errorf("set mtu of %s to %d: %w", at.Name, mtu, err)
		}
	}
	if master > 0 && at.MasterIndex != master {
		a.changed = true
		if err := a.h.LinkSetMasterByIndex(l, master); err != nil {
			return fmt.Errorf("enslave %s: %w", at.Name, err)
		}
	}
	if at.Flags&net.FlagUp == 0 {
		a.changed = true
		if err := a.h.LinkSetUp(l); err != nil {
			return fmt.Errorf("set %s up: %w", at.Name, err)
		}
	}
	return nil
}

// Remove deletes the bridge named bridge, its member links (by their
// MemberName) and so its addresses and FDB entries. Missing links are not
// an error; a link by those names of another type is left alone and
// reported.
func Remove(h Handle, bridge string) (changed bool, err error) {
	var errs []error
	for _, c := range []struct{ name, typ string }{
		{MemberName(bridge, VXLAN), "vxlan"},
		{MemberName(bridge, VLAN), "vlan"},
		{bridge, "bridge"},
	} {
		l, err := lookup(h, c.name)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("link %s: %w", c.name, err))
		case l == nil:
		case l.Type() != c.typ:
			errs = append(errs, fmt.Errorf("link %s is a %s, not a %s: left alone", c.name, l.Type(), c.typ))
		default:
			if err := h.LinkDel(l); err != nil {
				errs = append(errs, fmt.Errorf("delete %s: %w", c.name, err))
				continue
			}
			changed = true
		}
	}
	return changed, errors.Join(errs...)
}
