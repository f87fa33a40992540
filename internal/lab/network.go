package lab

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/vishvananda/netlink"
)

// withHandle runs fn with a netlink handle whose sockets were made inside
// the named namespace, so every request through it acts there.
func withHandle(ns string, fn func(h *netlink.Handle) error) error {
	var h *netlink.Handle
	err := inNetns(ns, func() error {
		var err error
		h, err = netlink.NewHandle()
		return err
	})
	if err != nil {
		return fmt.Errorf("netlink handle in %s: %w", ns, err)
	}
	defer h.Close()
	return fn(h)
}

// WithNetlink runs fn with a netlink handle acting in the named namespace:
// for tests that make their own links (VXLAN, VLAN) inside lab nodes.
func WithNetlink(ns string, fn func(h *netlink.Handle) error) error { return withHandle(ns, fn) }

// forwardSysctls are set where routers live (nodes) or route (outside).
var forwardSysctls = map[string]string{"ipv4/ip_forward": "1"}

// noBrNetfilter makes bridged frames skip iptables as on a host without
// br_netfilter; the keys exist only where that module is loaded.
var noBrNetfilter = map[string]string{
	"bridge/bridge-nf-call-iptables":  "0",
	"bridge/bridge-nf-call-ip6tables": "0",
	"bridge/bridge-nf-call-arptables": "0",
}

// EnvBridgeNetfilter, set to 1, starts the lab's namespaces with
// bridge-nf-call-iptables on (br_netfilter: bridged IPv4 through the ip
// hooks and conntrack), as a node enforcing security groups has it, so
// that any lab test can be run that way.
const EnvBridgeNetfilter = "HUMSTACK_LAB_BRIDGE_NETFILTER"

// prepareNetns sets a fresh namespace's sysctls and brings loopback up.
func prepareNetns(ns string, forward bool) error {
	if err := setSysctls(ns, noBrNetfilter, true); err != nil {
		return err
	}
	if os.Getenv(EnvBridgeNetfilter) == "1" {
		if err := setSysctls(ns, map[string]string{"bridge/bridge-nf-call-iptables": "1"}, false); err != nil {
			return err
		}
	}
	if forward {
		if err := setSysctls(ns, forwardSysctls, false); err != nil {
			return err
		}
	}
	return withHandle(ns, func(h *netlink.Handle) error {
		lo, err := h.LinkByName("lo")
		if err != nil {
			return fmt.Errorf("lo in %s: %w", ns, err)
		}
		return h.LinkSetUp(lo)
	})
}

// quickARP makes every link in the namespace retransmit ARP after 100 ms
// instead of 1 s, for quick readiness checks. It is per link: only the
// host's own namespace has neigh/default, and links made later (by agents
// or tests) keep the kernel's 1 s unless they set it themselves.
func quickARP(ns string) error {
	var names []string
	err := withHandle(ns, func(h *netlink.Handle) error {
		links, err := h.LinkList()
		for _, l := range links {
			if l.Attrs().Name != "lo" {
				names = append(names, l.Attrs().Name)
			}
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("links of %s: %w", ns, err)
	}
	kv := map[string]string{}
	for _, n := range names {
		kv["ipv4/neigh/"+n+"/retrans_time_ms"] = "100"
	}
	return setSysctls(ns, kv, false)
}

// addBridge makes an up bridge with multicast snooping off (so multicast,
// e.g. VXLAN's group, is flooded without an IGMP querier) and, if cidr is
// not empty, an address.
func addBridge(h *netlink.Handle, name, cidr string) error {
	off := false
	la := netlink.NewLinkAttrs()
	la.Name, la.MTU = name, 1500
	br := &netlink.Bridge{LinkAttrs: la, MulticastSnooping: &off}
	if err := h.LinkAdd(br); err != nil {
		return fmt.Errorf("add bridge %s: %w", name, err)
	}
	return upWithAddr(h, br, cidr)
}

// upWithAddr adds cidr (if any) to link and sets it up.
func upWithAddr(h *netlink.Handle, link netlink.Link, cidr string) error {
	name := link.Attrs().Name
	if cidr != "" {
		a, err := netlink.ParseAddr(cidr)
		if err != nil {
			return fmt.Errorf("address %s: %w", cidr, err)
		}
		if err := h.AddrAdd(link, a); err != nil {
			return fmt.Errorf("add %s to %s: %w", cidr, name, err)
		}
	}
	if err := h.LinkSetUp(link); err != nil {
		return fmt.Errorf("set %s up: %w", name, err)
	}
	return nil
}

// addPort makes a veth pair from h's namespace (end name, a port of
// bridge) to peerNS (end peer): the peer is created directly in peerNS, so
// no link ever exists in the host's namespace.
func addPort(h *netlink.Handle, name, bridge, peerNS, peer string) error {
	f, err := os.Open(filepath.Join(netnsDir, peerNS))
	if err != nil {
		return fmt.Errorf("open netns %s: %w", peerNS, err)
	}
	defer f.Close()
	la := netlink.NewLinkAttrs()
	la.Name, la.MTU = name, 1500
	v := netlink.NewVeth(la)
	v.PeerName, v.PeerMTU, v.PeerNamespace = peer, 1500, netlink.NsFd(int(f.Fd()))
	if err := h.LinkAdd(v); err != nil {
		return fmt.Errorf("add veth %s to %s/%s: %w", name, peerNS, peer, err)
	}
	return enslave(h, name, bridge)
}

// enslave makes link a port of bridge and sets it up.
func enslave(h *netlink.Handle, link, bridge string) error {
	l, err := h.LinkByName(link)
	if err != nil {
		return fmt.Errorf("find %s: %w", link, err)
	}
	br, err := h.LinkByName(bridge)
	if err != nil {
		return fmt.Errorf("find %s: %w", bridge, err)
	}
	if err := h.LinkSetMaster(l, br); err != nil {
		return fmt.Errorf("%s into %s: %w", link, bridge, err)
	}
	return upWithAddr(h, l, "")
}

// buildHub makes the underlay bridge in the hub namespace.
func buildHub(ns string) error {
	return withHandle(ns, func(h *netlink.Handle) error {
		return addBridge(h, hubBridge, HubAddress+"/24")
	})
}

// buildOutside makes the outside namespace's external bridge (the
// gateway address) and the internet host's address, on loopback: this
// kernel has no dummy links, and a local address is all a ping or a
// server standing for the internet needs.
func buildOutside(ns string) error {
	return withHandle(ns, func(h *netlink.Handle) error {
		if err := addBridge(h, ExternalBridge, OutsideAddress+"/24"); err != nil {
			return err
		}
		lo, err := h.LinkByName("lo")
		if err != nil {
			return fmt.Errorf("lo in %s: %w", ns, err)
		}
		return upWithAddr(h, lo, InternetHost+"/32")
	})
}

// wireNode joins node namespace ns (the i-th node, named name) to the hub
// (eth0, its underlay address) and to the outside (eth1 in its own exBr).
func wireNode(hubNS, outsideNS, ns, name, addr string) error {
	err := withHandle(hubNS, func(h *netlink.Handle) error {
		return addPort(h, name, hubBridge, ns, UnderlayDev)
	})
	if err != nil {
		return err
	}
	err = withHandle(outsideNS, func(h *netlink.Handle) error {
		return addPort(h, name, ExternalBridge, ns, ExternalDev)
	})
	if err != nil {
		return err
	}
	return withHandle(ns, func(h *netlink.Handle) error {
		eth0, err := h.LinkByName(UnderlayDev)
		if err != nil {
			return fmt.Errorf("find %s: %w", UnderlayDev, err)
		}
		if err := upWithAddr(h, eth0, addr+"/24"); err != nil {
			return err
		}
		if err := addBridge(h, ExternalBridge, ""); err != nil {
			return err
		}
		return enslave(h, ExternalDev, ExternalBridge)
	})
}
