// Package network is the host driver of systemv0/network on a node: it
// turns a network into the desired link.Network (bridge plus VXLAN or VLAN
// member) and applies it through netlink, and keeps the node's masquerade
// rules for networks with a networkv0/default_gateway.
package network

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/internal/host/firewall"
	"github.com/humstack/humstack/internal/host/link"
)

// Config is the node's underlay, from the agent's networkAgentConfig.
type Config struct {
	VXLANDev   string
	VXLANGroup net.IP // nil: unicast VXLAN to the other nodes
	VLANDev    string
}

// Driver implements system.NetworkDriver on the agent's own network
// namespace.
type Driver struct {
	cfg Config

	mu     sync.Mutex
	masq   map[string]firewall.Masquerade // by bridge
	seeded bool
}

// New returns a driver for the node's underlay.
func New(cfg Config) *Driver {
	return &Driver{cfg: cfg, masq: map[string]firewall.Masquerade{}}
}

// Apply implements system.NetworkDriver.
func (d *Driver) Apply(_ context.Context, n *api.Network, peers []string) error {
	want, err := d.desired(n, peers)
	if err != nil {
		return err
	}
	h, err := newHandle()
	if err != nil {
		return fmt.Errorf("netlink: %w", err)
	}
	defer h.Close()
	if _, err := link.Apply(h, want); err != nil {
		return err
	}
	var m *firewall.Masquerade
	if want.Gateway != nil {
		if err := forwarding(); err != nil {
			return err
		}
		m = &firewall.Masquerade{CIDR: want.Gateway.Masked(), Bridge: want.Bridge}
	}
	return d.setMasquerade(want.Bridge, m)
}

// Remove implements system.NetworkDriver.
func (d *Driver) Remove(_ context.Context, n *api.Network) error {
	bridge := link.BridgeName(n.Meta.Group, n.Meta.Namespace, n.Meta.ID)
	h, err := newHandle()
	if err != nil {
		return fmt.Errorf("netlink: %w", err)
	}
	defer h.Close()
	if _, err := link.Remove(h, bridge); err != nil {
		return err
	}
	return d.setMasquerade(bridge, nil)
}

// newHandle opens the netlink handle Apply and Remove act through: links,
// addresses and FDB entries are all NETLINK_ROUTE. netlink.NewHandle()
// without a family also opens XFRM and netfilter sockets, which makes the
// kernel load xfrm_user on every node, and fails with "protocol not
// supported" where that module cannot be loaded on demand.
func newHandle() (*netlink.Handle, error) { return netlink.NewHandle(unix.NETLINK_ROUTE) }

// desired maps the API object to the link adapter's desired state.
func (d *Driver) desired(n *api.Network, peers []string) (link.Network, error) {
	want := link.Network{
		Bridge: link.BridgeName(n.Meta.Group, n.Meta.Namespace, n.Meta.ID),
		Kind:   link.Kind(n.Meta.Annotations[api.AnnotationNetworkType]),
	}
	if want.Kind == "" {
		want.Kind = link.Bridge
	}
	if want.Kind != link.Bridge {
		id, err := strconv.Atoi(n.Spec.ID)
		if err != nil {
			return want, fmt.Errorf("spec.id %q: %w", n.Spec.ID, api.ErrInvalid)
		}
		want.ID = id
	}
	switch want.Kind {
	case link.VXLAN:
		want.Dev, want.Group = d.cfg.VXLANDev, d.cfg.VXLANGroup
		if want.Group == nil {
			for _, p := range peers {
				if ip := net.ParseIP(p); ip != nil {
					want.Peers = append(want.Peers, ip)
				}
			}
		}
	case link.VLAN:
		want.Dev = d.cfg.VLANDev
	}
	if want.Dev == "" && want.Kind != link.Bridge {
		return want, fmt.Errorf("no %s device configured on this node (networkAgentConfig)", strings.ToLower(string(want.Kind)))
	}
	if gw := n.Meta.Annotations[api.AnnotationDefaultGateway]; gw != "" {
		p, err := netip.ParsePrefix(gw)
		if err != nil {
			return want, fmt.Errorf("%s %q: %w", api.AnnotationDefaultGateway, gw, api.ErrInvalid)
		}
		want.Gateway = &p
	}
	return want, want.Validate()
}

// setMasquerade records bridge's rule (nil: none) and installs the node's
// whole set; with none left, firewall.Set removes the table. The first
// call carries over what the table already holds, so a restarted agent
// does not drop rules of networks it has not reached yet, and always
// writes, so an empty table left by an older agent goes too.
//
// Stopping the agent leaves the table as it is, on purpose: VMs keep
// running without their agent, and their NAPT with them; the rules are
// those of networks that still exist, and the next agent carries them over.
func (d *Driver) setMasquerade(bridge string, m *firewall.Masquerade) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	c, err := nftables.New()
	if err != nil {
		return fmt.Errorf("nftables: %w", err)
	}
	first := !d.seeded
	if first {
		have, err := firewall.Installed(c)
		if err != nil {
			return err
		}
		for _, h := range have {
			d.masq[h.Bridge] = h
		}
		d.seeded = true
	}
	_, had := d.masq[bridge]
	if m == nil && !had && !first {
		return nil
	}
	if m != nil {
		d.masq[bridge] = *m
	} else {
		delete(d.masq, bridge)
	}
	all := make([]firewall.Masquerade, 0, len(d.masq))
	for _, v := range d.masq {
		all = append(all, v)
	}
	sort.Slice(all, func(i, j int) bool { return all[i].Bridge < all[j].Bridge })
	_, err = firewall.Set(c, all)
	return err
}

// forwarding checks that the node routes: NAPT through the gateway is
// useless without it, and turning it on is the operator's call.
func forwarding() error {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_forward")
	if err != nil {
		return fmt.Errorf("read ip_forward: %w", err)
	}
	if strings.TrimSpace(string(b)) != "1" {
		return errors.New("net.ipv4.ip_forward is off on this node: the default gateway's NAPT needs it (sysctl -w net.ipv4.ip_forward=1)")
	}
	return nil
}
